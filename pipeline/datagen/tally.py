"""What a datagen run holds, counted from its folder, and whether that is an honest success.

A run that planned N traces and got most of them cut, empty or lost must not end ``succeeded``: over
``datagen.max_lost`` it ends ``failed`` with the counts in its reason (a chain stops there), and
``aba resume`` retries what is missing. Counting from the folder (not from the process's memory)
makes a resumed run's counters start where the folder stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.datagen.store import Item

REDO = ("empty", "empty_thinking")  # outcomes a resume asks again (a blocked one is the filter's answer)


def needs_judgement(item: Item) -> bool:
    """A complete trace whose judgement is missing or partial: a resume asks the judge again."""
    j = item.judgement
    return item.complete and (j is None or not j.ok or bool(j.missing_dimensions()))


@dataclass
class Tally:
    planned: int = 0
    complete: int = 0
    truncated: int = 0
    empty: int = 0  # no text: empty candidate, or thinking used the whole cap
    failed: int = 0  # recorded with another error (client_error …)
    lost: int = 0  # planned with no item: retries ran out (errors.jsonl), or never reached
    blocked: dict[str, int] = field(default_factory=dict)  # by harm category
    judging: bool = True
    judged: int = 0
    judge_missing: int = 0  # complete traces with no judgement
    judge_partial: int = 0  # judged, some dimensions missing

    @classmethod
    def of(cls, items: Iterable[Item], planned: set[str], judging: bool) -> Tally:
        t = cls(planned=len(planned), judging=judging)
        seen = 0
        for it in items:
            if it.key not in planned:
                continue  # an item of an earlier config of this run: not part of this plan
            seen += 1
            t.add(it)
        t.lost = t.planned - seen
        return t

    def add(self, it: Item) -> None:
        outcome = it.outcome
        if outcome == "complete":
            self.complete += 1
            j = it.judgement
            if j is not None and j.ok:
                self.judged += 1
                self.judge_partial += bool(j.missing_dimensions())
            elif self.judging:
                self.judge_missing += 1
        elif outcome == "truncated":
            self.truncated += 1
        elif outcome == "blocked":
            cat = (it.error or {}).get("category") or "unknown"
            self.blocked[cat] = self.blocked.get(cat, 0) + 1
        elif outcome in REDO:
            self.empty += 1
        else:
            self.failed += 1

    @property
    def unusable(self) -> int:
        """Planned traces with no complete text, other than the safety filter's blocks."""
        return self.lost + self.empty + self.truncated + self.failed

    def verdict(self, max_lost: float) -> str | None:
        """Why the run failed (None: it did not) — the counts, the threshold and what to do."""
        over_traces = self.planned and self.unusable / self.planned > max_lost
        over_judge = self.judging and self.complete and self.judge_missing / self.complete > max_lost
        if not (over_traces or over_judge):
            return None
        parts = [f"{self.unusable} of {self.planned} traces have no complete text ({self.lost} lost after retries, "
                 f"{self.empty} empty, {self.truncated} cut by the output cap, {self.failed} failed)"]
        if self.judging:
            parts.append(f"{self.judge_missing} of {self.complete} judgements are missing")
        return (f"datagen: {' and '.join(parts)}: over datagen.max_lost = {max_lost:.0%}; "
                "`aba resume` retries them")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
