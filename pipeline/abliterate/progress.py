"""What an abliteration run tells its dashboard beyond each trial's objectives: the running best (the
trial the chosen rule would keep if the study stopped now) and how many trials have gone by since it
last changed — a study that has stopped improving shows as a flat best line and a rising count, which
the dashboard's alert watches (docs/events.md, `metrics`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.abliterate.pareto import Trial, choose


class RunningBest:
    """The chosen rule (``pareto.choose``) applied trial by trial. The rule picks a minimum of one order
    (under the KL cap first, then fewest refusals, then lowest KL; the earlier trial on a tie), so keeping
    ``choose([best, new])`` gives what ``choose`` over every trial so far gives."""

    def __init__(self, max_kl: float, earlier: Iterable[Trial] = ()) -> None:
        self.max_kl = max_kl
        self.best: Trial | None = None
        self.since = 0
        for t in earlier:  # a resumed study: its count goes on from where it was
            self.add(t.number, t.values)

    def add(self, number: int, values: Mapping[str, float]) -> dict[str, float]:
        """Take trial ``number``; the `metrics` fields that say where the study stands."""
        new = Trial(number, dict(values))
        best = choose([self.best, new] if self.best is not None else [new], self.max_kl)
        if best is new:
            self.since = 0
        else:
            self.since += 1
        self.best = best
        out: dict[str, float] = {"trials_since_best": self.since}
        if best is not None:
            out.update({f"best/{k}": v for k, v in best.values.items()})
        return out
