"""The datagen worker: prompts → N traces at three levels → a judgement each, appended as they finish.

Bounded concurrency (``concurrency`` workers on one event loop), an rpm limit, retries with backoff
(pipeline.judge.calls). A stop request lets the traces in flight finish and starts no new one; a kill
loses only those. A resume skips every content key already in data/items.jsonl.
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from pipeline.atomic import atomic_write_text
from pipeline.datagen import store
from pipeline.datagen.levels import SYSTEM, gen_params, item_key, level_of, thinking_budget
from pipeline.datagen.prompts import (
    EXPAND_SCHEMA,
    Prompt,
    expansion_request,
    load_prompt_set,
    parse_expansion,
    row_to_prompt,
)
from pipeline.judge.calls import CallError, Ledger, RateLimiter, RetryPolicy, with_retries
from pipeline.judge.clients import Client, make_client
from pipeline.judge.interface import JudgeItem, Judgement
from pipeline.runs.layout import (
    DATA,
    DATAGEN_ERRORS,
    DATAGEN_EXPANDED,
    DATAGEN_ITEMS,
    DATAGEN_LEDGER,
    DATAGEN_PROMPTS,
    JUDGE_CACHE,
)
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext

if TYPE_CHECKING:
    from pipeline.judge.llm import LLMJudge


class Datagen:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.sec = ctx.cfg.section("datagen")
        self.judge_sec = ctx.cfg.sections.get("judge")
        self.data = ctx.run_dir / DATA
        self.data.mkdir(parents=True, exist_ok=True)
        free = self.sec.backend == "local"  # a local model costs no API money
        self.gen_ledger = Ledger(0.0 if free else self.sec.price_input, 0.0 if free else self.sec.price_output)
        self.judge: LLMJudge | None = None
        self.done = 0
        self.total = 0
        self.session_done = 0
        self.judge_missing = 0
        self.t0 = time.monotonic()
        self._ledger_saved = 0.0

    # -- prompts ----------------------------------------------------------------------------------
    def _base_prompts(self) -> list[Prompt]:
        prompts = load_prompt_set(self.sec.prompts)
        if self.sec.categories:
            prompts = [p for p in prompts if p.category in self.sec.categories]
        return prompts

    async def _expand(self, client: Client, prompts: list[Prompt]) -> list[Prompt]:
        """Top each category up to per_category with generated prompts (kept across resumes)."""
        path = self.data / DATAGEN_EXPANDED
        known = {p.digest for p in prompts}
        for row in store.iter_rows(path):
            try:
                p = row_to_prompt(row, str(path))
            except Exception:
                continue
            if p.digest not in known:
                known.add(p.digest)
                prompts.append(p)
        if not self.sec.per_category:
            return prompts
        cats = self.sec.categories or sorted({p.category for p in prompts})
        policy = RetryPolicy(self.sec.retries, self.sec.backoff)
        for cat in cats:
            have = [p for p in prompts if p.category == cat]
            attempts = 0
            while len(have) < self.sec.per_category and attempts < 3 * self.sec.per_category:
                if self.ctx.stop_requested.is_set():
                    return prompts
                attempts += 1
                ask = [{"role": "user", "content": expansion_request(cat, have[-5:])}]
                try:
                    reply = await with_retries(partial(client.complete, "", ask, schema=EXPAND_SCHEMA,
                                                       temperature=1.0, max_tokens=300), policy, self.gen_ledger)
                except CallError:
                    continue
                new = parse_expansion(reply.text, cat, f"{cat}-gen-{len(have) + 1:04d}-{attempts}")
                if new is None or new.digest in known:
                    continue  # a duplicate or an unusable row: dedupe keeps the set clean
                known.add(new.digest)
                store.append_line(path, new.to_row())
                prompts.append(new)
                have.append(new)
        return prompts

    # -- one trace --------------------------------------------------------------------------------
    async def _one(self, client: Client, limiter: RateLimiter, prompt: Prompt, index: int, key: str) -> None:
        level = level_of(index)
        params = gen_params(self.sec, level)
        messages = prompt.chat()
        row: dict[str, Any] = {"key": key, "prompt_id": prompt.id, "category": prompt.category, "level": level,
                               "index": index, "messages": messages, "backend": client.backend,
                               "model": client.model, "params": {k: v for k, v in params.items() if k != "system"}}
        try:
            reply = await with_retries(lambda: client.complete(
                SYSTEM[level], messages, temperature=self.sec.temperature, max_tokens=self.sec.max_tokens,
                thinking_budget=thinking_budget(self.sec, level), stream=self.sec.stream),
                RetryPolicy(self.sec.retries, self.sec.backoff), self.gen_ledger, limiter)
        except CallError as err:
            if err.transient:  # retries ran out: logged, and a resume tries again
                store.append_line(self.data / DATAGEN_ERRORS, {**row, "error": {"kind": err.kind, "message": str(err)},
                                                             "ts": round(time.time(), 3)})
                self._progress()
                return
            # blocked / empty / refused: recorded with its reason, never retried forever
            row.update(text=None, finish=err.kind, error={"kind": err.kind, "message": str(err)}, usage=err.usage)
        else:
            row.update(text=reply.text, finish=reply.finish, error=None, usage=reply.usage)
        judgement = await self._judge(messages, row.get("text"))
        row["judge"] = judgement.to_json() if judgement is not None else None  # the file's form
        row["ts"] = round(time.time(), 3)
        store.append_line(self.data / DATAGEN_ITEMS, row)
        self.done += 1
        self.session_done += 1
        self._progress()

    async def _judge(self, messages: list[dict[str, str]], text: str | None) -> Judgement | None:
        if self.judge is None or not text:
            return None
        (j,) = await self.judge.ascore([JudgeItem(tuple(messages), text)])
        if not j.ok or j.missing_dimensions():
            self.judge_missing += 1
        return j

    # -- progress ---------------------------------------------------------------------------------
    def ledger(self) -> dict[str, Any]:
        out = {"generator": self.gen_ledger.snapshot()}
        if self.judge is not None:
            out["judge"] = self.judge.ledger.snapshot()
            cache = self.judge.cache
            out["judge"]["cache"] = {"hits": cache.hits, "misses": cache.misses} if cache else None
        return out

    def _progress(self, final: bool = False) -> None:
        led = self.ledger()
        gen, jud = led["generator"], led.get("judge") or {}
        elapsed = max(1e-6, time.monotonic() - self.t0)
        rate = self.session_done / elapsed
        errors: dict[str, int] = {}
        for part in (gen, jud):
            for k, v in (part.get("errors") or {}).items():
                errors[k] = errors.get(k, 0) + v
        tokens = {k: gen["tokens"][k] + (jud.get("tokens") or {}).get(k, 0) for k in gen["tokens"]}
        metrics: dict[str, Any] = {
            "done": self.done, "total": self.total, "items_per_s": round(rate, 4),
            "eta_s": round((self.total - self.done) / rate, 1) if rate > 0 else None,
            "requests": gen["requests"] + jud.get("requests", 0),
            "retries": sum(gen["retries"].values()) + sum((jud.get("retries") or {}).values()),
            "errors": sum(errors.values()), **{f"errors_{k}": v for k, v in errors.items()},
            "tokens_input": tokens["input"], "tokens_output": tokens["output"], "tokens_thinking": tokens["thinking"],
            "cost_usd": round(gen["cost_usd"] + jud.get("cost_usd", 0.0), 6), "judge_missing": self.judge_missing,
        }
        self.ctx.emit(EventType.METRICS, self.done, **{k: v for k, v in metrics.items() if v is not None})
        now = time.monotonic()
        if final or now - self._ledger_saved >= 1.0:  # an fsync'd write a second, not one an item
            self._ledger_saved = now
            atomic_write_text(self.data / DATAGEN_LEDGER, _json(led))

    # -- the run ----------------------------------------------------------------------------------
    async def _main(self) -> dict[str, Any] | None:
        client = make_client(self.sec, "datagen", seed=self.sec.seed)
        prompts = await self._expand(client, self._base_prompts())
        if self.sec.max_prompts:
            prompts = _round_robin(prompts)[: self.sec.max_prompts]
        listed = [{"id": p.id, "category": p.category, "messages": p.chat()} for p in prompts]
        atomic_write_text(self.data / DATAGEN_PROMPTS, "".join(_json(r) + "\n" for r in listed))
        store.repair_tail(self.data / DATAGEN_ITEMS)
        done_keys = {r.key for r in store.read_items(self.ctx.run_dir)}
        work = []
        for p in prompts:
            for i in range(self.sec.traces):
                params = gen_params(self.sec, level_of(i))
                key = item_key(p.chat(), level_of(i), i, client.backend, client.model, params)
                if key not in done_keys:
                    work.append((p, i, key))
        self.total = len(prompts) * self.sec.traces
        self.done = self.total - len(work)
        self.ctx.emit(EventType.PROGRESS, self.done, total_steps=self.total, prompts=len(prompts),
                      traces_per_prompt=self.sec.traces, skipped_done=self.done)
        self.ctx.log(f"datagen: {len(prompts)} prompts × {self.sec.traces} traces; {self.done} done, "
                     f"{len(work)} to go ({client.backend}:{client.model})")
        queue: asyncio.Queue[tuple[Prompt, int, str]] = asyncio.Queue()
        for w in work:
            queue.put_nowait(w)
        limiter = RateLimiter(self.sec.rpm)

        async def worker() -> None:
            while not queue.empty() and not self.ctx.stop_requested.is_set():
                p, i, key = queue.get_nowait()
                await self._one(client, limiter, p, i, key)

        await asyncio.gather(*(worker() for _ in range(min(self.sec.concurrency, max(1, len(work))))))
        self._progress(final=True)
        if self.ctx.stop_requested.is_set():
            return None
        return store.build_outputs(self.ctx.run_dir, listed, self.sec.pair_margin)

    def run(self) -> None:
        if self.sec.judge and self.judge_sec is not None:
            from pipeline.judge.factory import make_judge

            self.judge = make_judge(self.judge_sec, cache_dir=self.ctx.run_dir / JUDGE_CACHE)
        saved = self.data / DATAGEN_LEDGER
        if self.ctx.resume and saved.is_file():  # a resumed run keeps counting from where it was
            old = json.loads(saved.read_text(encoding="utf-8"))
            self.gen_ledger.load(old.get("generator", {}))
            if self.judge is not None:
                self.judge.ledger.load(old.get("judge", {}))
        try:
            manifest = asyncio.run(self._main())
        finally:
            if self.judge is not None:
                self.judge.close()
        if manifest is None:
            self.ctx.log("datagen: stopped; items so far are kept, `aba resume` continues")
            return
        self.ctx.emit(EventType.DATAGEN, self.done, **manifest["rows"], items=manifest["items"],
                      judged=manifest["judged"])
        self.ctx.log(f"datagen: wrote {manifest['rows']} from {manifest['items']} items")


def _round_robin(prompts: list[Prompt]) -> list[Prompt]:
    """Interleave categories, so a cut at max_prompts keeps them all."""
    groups: dict[str, list[Prompt]] = {}
    for p in prompts:
        groups.setdefault(p.category, []).append(p)
    out: list[Prompt] = []
    while any(groups.values()):
        for g in groups.values():
            if g:
                out.append(g.pop(0))
    return out


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
