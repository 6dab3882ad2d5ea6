"""What a datagen run's dashboard charts: its pace over the last minute, its error and missing-judgement
rates over the last traces, and the judge's mean score per level (docs/events.md, `metrics`).

Cumulative counts (`errors`, `judge_missing`) say how much went wrong in all; these say what is going
wrong now, so a quota that runs out or a judge that starts failing halfway shows as a rising line (and
raises the dashboard's alert) instead of a counter that is already large. Only this module counts them;
the runner feeds it every finished trace.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from pipeline.datagen.levels import LEVELS
from pipeline.datagen.store import Item
from pipeline.monitor.pace import Pace

WINDOW = 50  # traces the two rates are taken over
# Outcomes that are errors for the rate: no complete text for a reason other than the safety filter's
# block (the same ones datagen.max_lost counts at the end: lost, empty, cut, failed).
NOT_ERRORS = ("complete", "blocked")


class Rates:
    def __init__(self, judging: bool, window: int = WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.judging = judging
        self.pace = Pace(clock)
        self.errors: deque[bool] = deque(maxlen=window)  # per finished trace: ended with an error
        self.missing: deque[bool] = deque(maxlen=window)  # per complete trace: its judgement is missing
        self.score_sum = dict.fromkeys(LEVELS, 0.0)
        self.score_n = dict.fromkeys(LEVELS, 0)

    def seen(self, item: Item) -> None:
        """A trace finished by an earlier attempt: its score counts toward the means, not toward the pace."""
        self._score(item)

    def add(self, item: Item | None) -> None:
        """A trace finished now (None: lost, retries ran out)."""
        self.pace.add()
        outcome = item.outcome if item is not None else "lost"
        self.errors.append(outcome not in NOT_ERRORS)
        if item is not None and item.complete and self.judging:
            j = item.judgement
            self.missing.append(j is None or not j.ok)
        if item is not None:
            self._score(item)

    def _score(self, item: Item) -> None:
        j = item.judgement
        mean = j.mean() if j is not None and j.ok else None
        if mean is not None and item.level in self.score_sum:
            self.score_sum[item.level] += mean
            self.score_n[item.level] += 1

    def metrics(self) -> dict[str, float]:
        out = {"items_per_min": self.pace.per_min()}
        if self.errors:
            out["error_rate"] = round(sum(self.errors) / len(self.errors), 4)
        if self.missing:
            out["judge_missing_rate"] = round(sum(self.missing) / len(self.missing), 4)
        for level, n in self.score_n.items():
            if n:
                out[f"judge_mean/{level}"] = round(self.score_sum[level] / n, 4)
        return out
