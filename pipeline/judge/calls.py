"""One model call as every user makes it: paced, retried within a time budget, widened when the cap cut it.

Retries are ours, not the SDK's: google-genai's tenacity retries read neither RetryInfo nor
Retry-After and the ledger could not count them (``HttpRetryOptions(attempts=1)`` in the client).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline.judge.failures import CallError
from pipeline.judge.ledger import Ledger
from pipeline.judge.pacing import Pacer
from pipeline.judge.shaping import Shape

T = TypeVar("T")


@dataclass
class Reply:
    """One model reply. ``finish`` is the provider's finish reason (STOP, MAX_TOKENS, stop, length …);
    ``truncated``: the output cap cut the text, so it is not a complete answer; ``thoughts``: the
    thought summaries Gemini returned (``include_thoughts``), apart from the answer."""

    text: str
    finish: str = "STOP"
    usage: dict[str, int] = field(default_factory=dict)  # input, output, thinking
    thoughts: str = ""
    truncated: bool = False
    cap: int = 0  # the max_output_tokens this reply was asked under


@dataclass
class RetryPolicy:
    retries: int = 6  # tries after the first, for errors other than a rate limit
    backoff: float = 1.0  # first delay when the server names none (doubles, with jitter)
    total: float = 600.0  # seconds one call may spend, waits included (rate limits are bounded by this)
    cap_retries: int = 2  # times a reply cut by the output cap is asked again with twice the cap
    max_delay: float = 60.0

    def delay(self, attempt: int, err: CallError) -> float:
        if err.retry_after is not None:
            return err.retry_after  # the server's word: never earlier
        base = min(self.max_delay, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)  # jitter: spread retries of concurrent calls


async def call_model(call: Callable[[Shape], Awaitable[Reply]], shape: Shape, policy: RetryPolicy, ledger: Ledger,
                     pacer: Pacer, *, widen_truncated: bool = False) -> Reply:
    """``call(shape)`` until it gives a reply, a permanent error, or the policy's tries or time run out.

    A reply empty because thinking used the whole cap (``empty_thinking``) is asked again with twice
    the cap, at most ``cap_retries`` times; so is a cut one when ``widen_truncated`` (JSON: a cut
    object is worthless). A rate limit pauses every caller of the gate for the server's delay."""
    t0 = time.monotonic()
    attempt = widened = 0
    while True:
        err: CallError | None = None
        try:
            async with pacer.slot(ledger) as started:
                try:
                    reply = await call(shape)
                except CallError as exc:
                    err = exc
        except CallError as closed:  # the gate is shut for good (a spent daily quota): nothing is sent
            ledger.error(closed.kind)
            raise
        wider = shape.widened() if widened < policy.cap_retries else None
        if err is None:
            ledger.request(reply.usage)
            pacer.limit.succeeded()
            if reply.truncated and widen_truncated and wider is not None:
                ledger.retry("truncated")
                shape, widened = wider, widened + 1
                continue
            reply.cap = shape.max_output_tokens
            return reply
        ledger.request(err.usage)
        if err.kind == "empty_thinking" and wider is not None:
            ledger.retry(err.kind)
            shape, widened = wider, widened + 1
            continue
        if err.fatal:
            pacer.gate.fail(err)
        if err.fatal or not err.transient:
            ledger.error(err.kind, err.category)
            raise err
        delay = policy.delay(attempt, err)
        spent = time.monotonic() - t0
        if spent + delay > policy.total or (err.kind != "rate_limited" and attempt >= policy.retries):
            ledger.error(err.kind)
            raise CallError(err.kind, f"{err} (gave up after {attempt + 1} tries in {spent:.0f} s)",
                            transient=True, usage=err.usage)
        ledger.retry(err.kind)
        if err.kind == "rate_limited":  # everyone waits, in the next slot(): the gate counts the waits
            pacer.limit.rate_limited(started)
            pacer.gate.pause(delay)
        else:
            ledger.wait(delay)
            await asyncio.sleep(delay)
        attempt += 1


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
