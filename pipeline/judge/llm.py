"""LLMJudge: the Judge protocol over any model client, with bounded concurrency, retries and a cache."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pipeline.judge import prompts
from pipeline.judge.cache import JudgeCache
from pipeline.judge.calls import BackgroundLoop, Reply, RetryPolicy, call_model
from pipeline.judge.clients import Client
from pipeline.judge.config import judge_shape
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.failures import CallError
from pipeline.judge.families import family_of
from pipeline.judge.interface import JudgeItem, Judgement, PairVerdict
from pipeline.judge.ledger import Ledger
from pipeline.judge.pacing import Pacer
from pipeline.judge.prices import price_for


class LLMJudge:
    """Scores answers on the 9 dimensions (a separate call from any generation: seed 000's approach B)."""

    def __init__(self, client: Client, section: Any, cache: JudgeCache | None = None,
                 ledger: Ledger | None = None) -> None:
        self.client = client
        self.section = section
        self.cache = cache
        self.local = client.backend == "local"
        self.shape = judge_shape(section)  # the one request shape every judgement sends
        self.notes = self.shape.notes
        fam = family_of(client.model, getattr(section, "family", "")) if client.backend == "gemini" else None
        # A local model costs no API money; an unknown model's price is unknown unless configured.
        price = None if self.local else price_for(fam.name if fam else None, section.price_input, section.price_output)
        self.ledger = ledger or Ledger(price)
        scale = f":s{prompts.LOCAL_SCALE:g}" if self.local else ""
        temp = "default" if self.shape.temperature is None else f"{self.shape.temperature:g}"
        think = self.shape.params().get("thinking")
        self.id = (f"{client.backend}:{client.model}:{prompts.PROMPT_VERSION}{scale}:t{temp}"
                   + (f":th{think}" if think is not None else ""))
        self.policy = RetryPolicy(section.retries, section.backoff, section.retry_time, section.cap_retries)
        self._loop: BackgroundLoop | None = None
        self._pacer: Pacer | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _bg(self) -> BackgroundLoop:
        if self._loop is None:
            self._loop = BackgroundLoop()
        return self._loop

    async def _call(self, system: str, user: str, schema: dict[str, Any], grammar: str) -> Reply:
        if self._pacer is None:  # created on the loop that uses it
            self._pacer = Pacer(self.client.gate, self.section.concurrency, self.section.rpm)
        msgs = [{"role": "user", "content": user}]
        # A cut JSON object is worthless: a judgement cut by the cap is asked again with a larger one.
        return await call_model(lambda shape: self.client.complete(system, msgs, shape, schema=schema, grammar=grammar),
                                self.shape, self.policy, self.ledger, self._pacer, widen_truncated=True)

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
        if reply.truncated:  # never judged as complete: the JSON was cut by the output cap
            self.ledger.error("truncated")
            return Judgement({}, missing_reason=f"truncated: the judgement was cut by the output cap "
                             f"({reply.cap} tokens, thinking {reply.usage.get('thinking', 0)})", usage=reply.usage)
        j = prompts.parse_scores(reply.text, reply.usage, scale)
        if not j.ok:
            self.ledger.error("bad_judgement")
        elif self.cache is not None and len(j.scores) == len(DIMENSIONS):
            # Only a whole judgement is final: a partial or failed one is asked again next time.
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
        if reply.truncated:
            return PairVerdict(None, f"truncated: the verdict was cut by the output cap ({reply.cap} tokens)")
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
