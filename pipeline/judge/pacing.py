"""How hard calls may be sent: one shared pause when the quota is spent, adaptive concurrency, an rpm cap.

Quotas are per project and model, not per worker: when one call hears "retry in 20 s", every call to
the same endpoint and model waits behind the same :class:`Gate` (a process-wide, thread-safe deadline,
so the judge's loop thread and datagen's loop both honour it), instead of N workers each spending
their retries inside the window. :class:`AdaptiveLimit` halves the calls in flight on a 429 and grows
them back by one per window of clean replies (additive increase, multiplicative decrease).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from pipeline.judge.failures import CallError


class Gate:
    """A deadline before which no call starts; shared by every caller of one endpoint and model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.until = 0.0  # time.monotonic()
        self.pauses = 0
        self.fatal: CallError | None = None

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + max(0.0, seconds)
            if until > self.until:
                self.until = until
                self.pauses += 1

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def fail(self, err: CallError) -> None:
        """A fatal answer (a spent daily quota): every later call fails at once with it."""
        with self._lock:
            self.fatal = self.fatal or err

    async def wait(self) -> float:
        """Sleep until the deadline (plus a little jitter, so the waiters do not all start in the same
        millisecond); the seconds slept."""
        slept = 0.0
        while True:
            if self.fatal is not None:
                raise CallError(self.fatal.kind, str(self.fatal), quota=self.fatal.quota, fatal=True)
            left = self.remaining()
            if left <= 0:
                return slept
            nap = left + random.uniform(0.0, min(0.25, left / 10))
            await asyncio.sleep(nap)
            slept += nap


_GATES: dict[tuple[str, ...], Gate] = {}
_GATES_LOCK = threading.Lock()


def gate_for(*key: str) -> Gate:
    """The process's gate for an endpoint and model (generator and judge on one model share it)."""
    with _GATES_LOCK:
        return _GATES.setdefault(tuple(key), Gate())


class AdaptiveLimit:
    """Calls in flight, at most ``ceiling``: halved on a 429, +1 after ``limit`` clean replies in a row.
    One instance belongs to one event loop."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_use = 0
        self.cuts = 0
        self._streak = 0
        self._last_cut = 0.0
        self._cond: asyncio.Condition | None = None

    def _c(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> None:
        async with self._c():
            await self._c().wait_for(lambda: self.in_use < self.limit)
            self.in_use += 1

    async def release(self) -> None:
        async with self._c():
            self.in_use -= 1
            self._c().notify_all()

    def succeeded(self) -> None:
        self._streak += 1
        if self._streak >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._streak = 0

    def rate_limited(self, started: float) -> None:
        """Halve, once per burst: calls sent before the last cut do not cut again."""
        self._streak = 0
        if started >= self._last_cut:
            self.limit = max(1, self.limit // 2)
            self._last_cut = time.monotonic()
            self.cuts += 1


class RateLimiter:
    """At most ``rpm`` request starts a minute, spaced evenly (0: no limit). Use from one event loop."""

    def __init__(self, rpm: int) -> None:
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self._next = 0.0
        self._lock: asyncio.Lock | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class WaitCounter(Protocol):
    def wait(self, seconds: float) -> None: ...


class Pacer:
    """The gate, the adaptive limit and the rpm cap one caller (the generator, a judge) sends through."""

    def __init__(self, gate: Gate, concurrency: int, rpm: int = 0) -> None:
        self.gate = gate
        self.limit = AdaptiveLimit(concurrency)
        self.rpm = RateLimiter(rpm)

    @asynccontextmanager
    async def slot(self, ledger: WaitCounter) -> AsyncIterator[float]:
        """Wait for the gate, the rpm cap and a free slot; yields the moment the call starts."""
        while True:
            slept = await self.gate.wait()
            if slept > 0:
                ledger.wait(slept)
            await self.rpm.wait()
            await self.limit.acquire()
            if self.gate.remaining() <= 0 and self.gate.fatal is None:
                break
            await self.limit.release()  # a pause began while this call queued for a slot
        try:
            yield time.monotonic()
        finally:
            await self.limit.release()
