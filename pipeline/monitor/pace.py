"""Things done per minute over the last minute: the pace a stage reports for its dashboard chart.

A cumulative average hides a slowdown (a quota wait, a thermal throttle) behind everything done before
it; the last minute shows it. While the count is younger than a minute it is the pace so far.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0


class Pace:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = MINUTE) -> None:
        self.clock = clock
        self.window_s = window_s
        self.started = clock()
        self._done: deque[tuple[float, int]] = deque()  # (clock(), how many) in the last window

    def add(self, n: int = 1) -> None:
        if n > 0:
            self._done.append((self.clock(), n))

    def per_min(self) -> float:
        now = self.clock()
        while self._done and now - self._done[0][0] > self.window_s:
            self._done.popleft()
        span = min(self.window_s, max(now - self.started, 1e-6))
        return round(sum(n for _t, n in self._done) * 60.0 / span, 3)
