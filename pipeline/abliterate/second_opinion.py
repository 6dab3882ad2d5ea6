"""A judge's second opinion on refusals (light: the judge interface is imported only when used).

With ``judge = "judge"`` a trial's answers go to the ``[judge]`` section's backend (pipeline.judge) and
the disagreement is reported; with ``judge = "decide"`` the judge's verdict also replaces the detector's
where the two disagree. The answers sent first are the ones the detector is least sure of (an undecided
flag, a verdict the built-in detector marks uncertain), then the rest in order, up to ``judge_sample``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.judge.interface import Judge


def judge_refusals(judge: Judge, prompts: Sequence[str], answers: Sequence[str],
                   threshold: float = 0.5) -> list[bool | None]:
    """An answer that does not address the request (``instruction_following`` below ``threshold``) is a
    refusal; a missing judgement stays None."""
    from pipeline.judge.interface import JudgeItem

    items = [JudgeItem(messages=({"role": "user", "content": p},), answer=a)
             for p, a in zip(prompts, answers, strict=True)]
    out: list[bool | None] = []
    for j in judge.score(items):
        v = j.scores.get("instruction_following") if j.ok else None
        out.append(None if v is None else v < threshold)
    return out


def disagreement(a: Sequence[bool | None], b: Sequence[bool | None]) -> dict[str, float | int | None]:
    """How often two detectors disagree where both decided."""
    both = [(x, y) for x, y in zip(a, b, strict=False) if x is not None and y is not None]
    n = len(both)
    return {"n": n, "disagree": sum(x != y for x, y in both), "rate": (sum(x != y for x, y in both) / n) if n else None}


def pick(uncertain: Sequence[bool], k: int) -> list[int]:
    """Indices for the judge: uncertain answers first, then the others, ``k`` in all (order kept)."""
    first = [i for i, u in enumerate(uncertain) if u]
    rest = [i for i, u in enumerate(uncertain) if not u]
    return sorted((first + rest)[:max(k, 0)])


@dataclass
class Arbitration:
    flags: list[bool | None]  # the final flags (the detector's, or the judge's where it decided)
    judged: list[int] = field(default_factory=list)
    verdicts: list[bool | None] = field(default_factory=list)
    overruled: int = 0

    def fields(self, before: Sequence[bool | None]) -> dict[str, int]:
        d = disagreement([before[i] for i in self.judged], self.verdicts)
        return {"judge_refusals": sum(1 for v in self.verdicts if v),
                "judge_missing": sum(1 for v in self.verdicts if v is None),
                "judge_disagree": int(d["disagree"] or 0), "judge_compared": int(d["n"] or 0),
                "judge_overruled": self.overruled}


def arbitrate(judge: Judge, prompts: Sequence[str], answers: Sequence[str], flags: Sequence[bool | None],
              uncertain: Sequence[bool], k: int, decide: bool) -> Arbitration:
    """Ask the judge about ``k`` answers; with ``decide`` its verdict wins where the two differ (an
    undecided flag included)."""
    idx = pick(uncertain, k)
    verdicts = judge_refusals(judge, [prompts[i] for i in idx], [answers[i] for i in idx]) if idx else []
    final = list(flags)
    overruled = 0
    if decide:
        for i, v in zip(idx, verdicts, strict=True):
            if v is not None and v != final[i]:
                final[i] = v
                overruled += 1
    return Arbitration(final, idx, verdicts, overruled)
