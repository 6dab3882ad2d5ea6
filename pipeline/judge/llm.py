"""LLMJudge: the Judge protocol over any model client, with bounded concurrency, retries and a cache."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pipeline.judge import prompts
from pipeline.judge.cache import JudgeCache
from pipeline.judge.calls import BackgroundLoop, CallError, Ledger, RateLimiter, RetryPolicy, with_retries
from pipeline.judge.clients import Client
from pipeline.judge.interface import JudgeItem, Judgement, PairVerdict


class LLMJudge:
    """Scores answers on the 9 dimensions (a separate call from any generation: seed 000's approach B)."""

    def __init__(self, client: Client, section: Any, cache: JudgeCache | None = None,
                 ledger: Ledger | None = None) -> None:
        self.client = client
        self.section = section
        self.cache = cache
        free = client.backend == "local"  # a local model costs no API money
        self.ledger = ledger or Ledger(0.0 if free else section.price_input, 0.0 if free else section.price_output)
        self.local = client.backend == "local"
        scale = f":s{prompts.LOCAL_SCALE:g}" if self.local else ""
        self.id = f"{client.backend}:{client.model}:{prompts.PROMPT_VERSION}{scale}:t{section.temperature:g}"
        self.policy = RetryPolicy(section.retries, section.backoff)
        self._loop: BackgroundLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self._limiter: RateLimiter | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _bg(self) -> BackgroundLoop:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop

    async def _call(self, system: str, user: str, schema: dict[str, Any], grammar: str) -> Any:
        if self._sem is None:  # created on the loop that uses them
            self._sem = asyncio.Semaphore(self.section.concurrency)
            self._limiter = RateLimiter(self.section.rpm)
        async with self._sem:
            return await with_retries(
                lambda: self.client.complete(system, [{"role": "user", "content": user}], schema=schema,
                                             grammar=grammar, temperature=self.section.temperature,
                                             max_tokens=self.section.max_tokens),
                self.policy, self.ledger, self._limiter)

    # -- scoring ----------------------------------------------------------------------------------
    async def _score_one(self, item: JudgeItem) -> Judgement:
        key = item.key(self.id)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return Judgement(dict(hit["scores"]), cached=True)
        user = prompts.score_user(item.messages, item.answer, self.section.max_answer_chars)
        system, grammar, scale = ((prompts.SCORE_SYSTEM_LOCAL, prompts.SCORE_GBNF_LOCAL, prompts.LOCAL_SCALE)
                                  if self.local else (prompts.SCORE_SYSTEM, "", 1.0))
        try:
            reply = await self._call(system, user, prompts.SCORE_SCHEMA, grammar)
        except CallError as err:
            return Judgement({}, missing_reason=f"{err.kind}: {err}", usage=err.usage)
        j = prompts.parse_scores(reply.text, reply.usage, scale)
        if not j.ok:
            self.ledger.error("bad_judgement")
        elif self.cache is not None:
            self.cache.put(key, {"scores": dict(j.scores)})
        return j

    async def _score_all(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        return [replace(j, judge=self.id) for j in await asyncio.gather(*(self._score_one(i) for i in items))]

    async def ascore(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        """For async callers (datagen): runs on the judge's own loop."""
        return await self._bg().arun(self._score_all(items))

    def score(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        if not items:
            return []
        return self._bg().run(self._score_all(items))

    # -- pairwise ---------------------------------------------------------------------------------
    async def _compare(self, messages: Sequence[Mapping[str, str]], a: str, b: str) -> PairVerdict:
        key = JudgeItem(tuple(messages), f"A:{a}\nB:{b}").key(self.id + ":cmp")
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return PairVerdict(hit["verdict"], cached=True)
        user = prompts.compare_user(messages, a, b, self.section.max_answer_chars)
        try:
            reply = await self._call(prompts.COMPARE_SYSTEM, user, prompts.COMPARE_SCHEMA, prompts.COMPARE_GBNF)
        except CallError as err:
            return PairVerdict(None, f"{err.kind}: {err}")
        v = prompts.parse_verdict(reply.text)
        if v.verdict is not None and self.cache is not None:
            self.cache.put(key, {"verdict": v.verdict})
        return v

    def compare(self, messages: Sequence[Mapping[str, str]], a: str, b: str) -> PairVerdict:
        return self._bg().run(self._compare(messages, a, b))

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
