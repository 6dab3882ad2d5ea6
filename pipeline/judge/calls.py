"""What every model call shares: replies, error kinds, retries with backoff, an rpm limit, a ledger.

Retries are ours, not the SDK's: the issue asks for Retry-After to be honoured and every retry to be
counted in the ledger, which google-genai's tenacity-based HttpRetryOptions does neither of.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

CREDENTIAL_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY")


@dataclass
class Reply:
    """One model reply. ``finish`` is the provider's finish reason (STOP, SAFETY, MAX_TOKENS, …)."""

    text: str
    finish: str = "STOP"
    usage: dict[str, int] = field(default_factory=dict)  # input, output, thinking


class CallError(Exception):
    """A failed call. ``kind`` groups errors for the ledger (rate_limited, server_error, timeout,
    network, blocked, empty, client_error, bad_output); ``transient`` ones are retried."""

    def __init__(self, kind: str, message: str, *, transient: bool = False, retry_after: float | None = None,
                 usage: Mapping[str, int] | None = None):
        super().__init__(redact(message))
        self.kind = kind
        self.transient = transient
        self.retry_after = retry_after
        self.usage = dict(usage or {})  # a blocked or empty reply is still billed


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace any credential value found in the environment (or given) by ***."""
    for name in (*CREDENTIAL_ENVS, *extra):
        val = os.environ.get(name, "")
        if len(val) >= 6:
            text = text.replace(val, "***")
    return text


def http_error(status: int, message: str, retry_after: str | None = None) -> CallError:
    """An HTTP status → a CallError of the right kind (408/429/5xx transient)."""
    after: float | None = None
    if retry_after:
        try:
            after = max(0.0, float(retry_after))
        except ValueError:
            after = None  # an HTTP date: fall back to our backoff
    if status == 429:
        return CallError("rate_limited", f"HTTP 429: {message}", transient=True, retry_after=after)
    if status == 408:
        return CallError("timeout", f"HTTP 408: {message}", transient=True, retry_after=after)
    if status >= 500:
        return CallError("server_error", f"HTTP {status}: {message}", transient=True, retry_after=after)
    return CallError("client_error", f"HTTP {status}: {message}")


class Ledger:
    """Requests, retries and errors by kind, tokens and estimated cost; thread-safe, JSON-able."""

    def __init__(self, price_input: float = 0.0, price_output: float = 0.0) -> None:
        self.price_input = price_input
        self.price_output = price_output
        self._lock = threading.Lock()
        self.requests = 0
        self.tokens = {"input": 0, "output": 0, "thinking": 0}
        self.retries: dict[str, int] = {}
        self.errors: dict[str, int] = {}

    def load(self, data: Mapping[str, Any]) -> None:
        """Continue counting from a saved snapshot (a resumed run)."""
        with self._lock:
            self.requests = int(data.get("requests", 0))
            self.tokens.update({k: int(v) for k, v in dict(data.get("tokens", {})).items() if k in self.tokens})
            self.retries = {str(k): int(v) for k, v in dict(data.get("retries", {})).items()}
            self.errors = {str(k): int(v) for k, v in dict(data.get("errors", {})).items()}

    def request(self, usage: Mapping[str, int] | None = None) -> None:
        with self._lock:
            self.requests += 1
            for k, v in (usage or {}).items():
                if k in self.tokens:
                    self.tokens[k] += int(v or 0)

    def retry(self, kind: str) -> None:
        with self._lock:
            self.retries[kind] = self.retries.get(kind, 0) + 1

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def cost(self) -> float:
        out = self.tokens["output"] + self.tokens["thinking"]
        return (self.tokens["input"] * self.price_input + out * self.price_output) / 1e6

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.requests, "tokens": dict(self.tokens), "retries": dict(self.retries),
                    "errors": dict(self.errors), "cost_usd": round(self.cost, 6)}


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


@dataclass
class RetryPolicy:
    retries: int = 4
    backoff: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, err: CallError) -> float:
        if err.retry_after is not None:
            return min(err.retry_after, self.max_delay * 5)
        base = min(self.max_delay, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)  # jitter: spread retries of concurrent calls


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy, ledger: Ledger,
                       limiter: RateLimiter | None = None) -> T:
    """Run ``call`` until it succeeds, a permanent error, or the retries are spent (then raise)."""
    attempt = 0
    while True:
        if limiter is not None:
            await limiter.wait()
        try:
            reply = await call()
        except CallError as err:
            ledger.request(err.usage)
            if not err.transient or attempt >= policy.retries:
                ledger.error(err.kind)
                raise
            ledger.retry(err.kind)
            await asyncio.sleep(policy.delay(attempt, err))
            attempt += 1
            continue
        ledger.request(getattr(reply, "usage", None))
        return reply


class BackgroundLoop:
    """A private event loop on a daemon thread: sync callers (GRPO's reward, evaluation) and async
    ones share one loop, so the SDK's connection pool never crosses loops."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="judge-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
