"""``supervisor.stall_timeout``: a worker that writes no event and uses no CPU for that long is ended.

A hung worker (a stuck data loader, a rank waiting forever on a collective, a SIGSTOPped process)
holds its GPU and memory until someone notices. Activity is any growth of events.jsonl or any CPU
time of the worker's process group (its dataloader workers and accelerate ranks included), read from
/proc. Halfway to the timeout the supervisor alerts with the time it will act; at the timeout it
sends SIGTERM (and SIGCONT, so a stopped process can take it), then SIGKILL after the grace, and the
run ends ``failed`` with reason "stalled for N min". GPU activity is not measured: a rank busy-waiting
on the GPU also burns CPU, and a truly hung one uses neither.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.runs.procinfo import all_stats


def group_cpu_ticks(pgid: int) -> int:
    """User + system clock ticks of every live process in process group ``pgid`` (and reaped children)."""
    total = 0
    for _pid, rest in all_stats():
        try:
            if int(rest[2]) == pgid:
                total += sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
        except (IndexError, ValueError):
            continue
    return total


def fmt_minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"


@dataclass
class StallWatch:
    timeout: float  # seconds; 0 = off
    events_path: Path
    interval: float = field(default=0.0)
    _sig: tuple[int, int, int] | None = None
    _since: float = 0.0
    _next: float = 0.0
    warned: bool = False

    def __post_init__(self) -> None:
        if self.interval <= 0:
            self.interval = min(5.0, max(0.2, self.timeout / 20))

    @property
    def enabled(self) -> bool:
        return self.timeout > 0

    def idle(self, now: float) -> float:
        return now - self._since

    def _events_sig(self) -> tuple[int, int]:
        try:
            st = os.stat(self.events_path)
        except OSError:
            return -1, -1
        return st.st_size, st.st_mtime_ns

    def own_write(self) -> None:
        """The supervisor appended to events.jsonl itself (its alert): that is not the worker's activity."""
        if self._sig is not None:
            self._sig = (*self._events_sig(), self._sig[2])

    def poll(self, pgid: int, now: float | None = None) -> str | None:
        """None while the worker shows activity; "warn" once at half the timeout; "stall" at the timeout."""
        now = time.time() if now is None else now
        if not self.enabled or now < self._next:
            return None
        self._next = now + self.interval
        sig = (*self._events_sig(), group_cpu_ticks(pgid))
        if sig != self._sig:
            self._sig, self._since, self.warned = sig, now, False
            return None
        idle = now - self._since
        if idle >= self.timeout:
            return "stall"
        if not self.warned and idle >= self.timeout / 2:
            self.warned = True
            return "warn"
        return None

    def warning(self, grace: float, now: float | None = None) -> str:
        now = time.time() if now is None else now
        at = self._since + self.timeout
        return (f"no new event and no CPU use for {fmt_minutes(now - self._since)}; unless it resumes, the "
                f"supervisor ends it at {time.strftime('%H:%M:%S', time.localtime(at))} (SIGTERM, SIGKILL "
                f"{grace:g} s later) as failed (stalled), freeing its GPU (supervisor.stall_timeout = "
                f"{self.timeout:g} s)")
