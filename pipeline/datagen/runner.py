"""The datagen worker: prompts → N traces at three levels → a judgement each, appended as they finish.

Every request is shaped for its model (pipeline.judge.shaping) and sent through one pacer: the
shared pause a rate limit asks for, adaptive concurrency, an rpm cap, retries bounded by time
(pipeline.judge.calls). A stop request lets the traces in flight finish and starts no new one; a kill
loses only those. A resume skips every finished key of data/items.jsonl, and asks again for what is
missing: lost traces, empty ones, missing judgements. The run ends failed when too much is missing.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from pipeline.atomic import atomic_write_text
from pipeline.datagen import store
from pipeline.datagen.config import category_counts
from pipeline.datagen.expand import Expansion
from pipeline.datagen.levels import LEVELS, SYSTEM, gen_params, generator_model, item_key, level_of, trace_shape
from pipeline.datagen.outputs import build_outputs
from pipeline.datagen.prompts import Prompt, load_prompt_set
from pipeline.datagen.rates import Rates
from pipeline.datagen.tally import REDO, Tally, needs_judgement
from pipeline.judge.calls import RetryPolicy, call_model
from pipeline.judge.clients import Client, make_client
from pipeline.judge.failures import CallError
from pipeline.judge.families import family_of
from pipeline.judge.interface import JudgeItem
from pipeline.judge.ledger import Ledger
from pipeline.judge.pacing import Pacer
from pipeline.judge.prices import price_for
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

Job = tuple[Prompt, int, str, dict[str, Any] | None]  # prompt, trace index, key, the row to re-judge (or None)


class Datagen:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.sec = ctx.cfg.section("datagen")
        self.judge_sec = ctx.cfg.sections.get("judge")
        self.data = ctx.run_dir / DATA
        self.data.mkdir(parents=True, exist_ok=True)
        self.shapes = {level: trace_shape(self.sec, level) for level in LEVELS}
        self.model = generator_model(self.sec)
        fam = family_of(self.model, self.sec.family) if self.sec.backend == "gemini" else None
        # A local model costs no API money; an unknown model's price is unknown unless configured.
        price = None if self.sec.backend == "local" else price_for(fam.name if fam else None, self.sec.price_input,
                                                                     self.sec.price_output)
        self.gen_ledger = Ledger(price)
        self.policy = RetryPolicy(self.sec.retries, self.sec.backoff, self.sec.retry_time, self.sec.cap_retries)
        self.judge: LLMJudge | None = None
        self.live = Tally()  # this run's counts: what the folder held, plus what this attempt adds
        self.rates = Rates(judging=False)  # the dashboard's pace, rates and score means (anew in _plan)
        self.phases = ["generate"]
        self.done = 0
        self.total = 0
        self.session_done = 0
        self.lost_now = 0
        self.fatal: CallError | None = None
        self.t0 = time.monotonic()
        self._ledger_saved = 0.0

    # -- prompts ----------------------------------------------------------------------------------
    def _base_prompts(self) -> list[Prompt]:
        prompts = load_prompt_set(self.sec.prompts)
        named = category_counts(self.sec)
        if named or self.sec.categories:
            prompts = [p for p in prompts if p.category in (named or self.sec.categories)]
        return prompts

    def _short(self, prompts: list[Prompt]) -> bool:
        """A category_counts target above what the set holds: the generator writes the rest."""
        have: dict[str, int] = {}
        for p in prompts:
            have[p.category] = have.get(p.category, 0) + 1
        return any(n > have.get(c, 0) for c, n in category_counts(self.sec).items())

    # -- one trace --------------------------------------------------------------------------------
    async def _one(self, client: Client, pacer: Pacer, prompt: Prompt, index: int, key: str) -> None:
        level = level_of(index)
        shape = self.shapes[level]
        messages = prompt.chat()
        params = gen_params(self.sec, level, shape)
        row: dict[str, Any] = {"key": key, "prompt_id": prompt.id, "category": prompt.category, "level": level,
                               "index": index, "messages": messages, "backend": client.backend,
                               "model": client.model, "params": {k: v for k, v in params.items() if k != "system"}}
        try:
            reply = await call_model(lambda s: client.complete(SYSTEM[level], messages, s, stream=self.sec.stream),
                                     shape, self.policy, self.gen_ledger, pacer)
        except CallError as err:
            if err.transient or err.fatal:  # retries ran out, or the quota is spent: a resume tries again
                self.fatal = self.fatal or (err if err.fatal else None)
                store.append_line(self.data / DATAGEN_ERRORS, {**row, "error": {"kind": err.kind, "message": str(err)},
                                                             "ts": round(time.time(), 3)})
                self.lost_now += 1
                self.rates.add(None)
                self._progress()
                return
            # blocked / empty / refused: recorded with its reason (a resume asks an empty one again)
            error = {"kind": err.kind, "message": str(err), **({"category": err.category} if err.category else {})}
            row.update(text=None, finish=err.kind, truncated=False, thoughts=None, error=error, usage=err.usage)
        else:
            row.update(text=reply.text, finish=reply.finish, truncated=reply.truncated,
                       thoughts=reply.thoughts or None, error=None, usage=reply.usage, cap=reply.cap)
        await self._finish(row)

    async def _finish(self, row: dict[str, Any], rejudge: bool = False) -> None:
        """Judge a complete trace (never a cut or empty one), append the row, count it."""
        item = store.Item.from_row(row)
        if item.complete and self.judge is not None:
            (j,) = await self.judge.ascore([JudgeItem(tuple(item.messages), item.text or "")])
            row["judge"] = j.to_json()  # the file's form
        elif not rejudge:
            row["judge"] = None  # no judgement was made: nothing complete to judge, or judging is off
        row["ts"] = round(time.time(), 3)
        store.append_line(self.data / DATAGEN_ITEMS, row)
        done = store.Item.from_row(row)
        self.live.add(done)
        self.rates.add(done)
        self.done += 1
        self.session_done += 1
        self._progress()

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
        t = self.live
        metrics: dict[str, Any] = {
            "done": self.done, "total": self.total, "items_per_s": round(rate, 4),
            "eta_s": round((self.total - self.done) / rate, 1) if rate > 0 else None,
            "requests": gen["requests"] + jud.get("requests", 0),
            "retries": sum(gen["retries"].values()) + sum((jud.get("retries") or {}).values()),
            "errors": sum(errors.values()), **{f"errors_{k}": v for k, v in errors.items()},
            "waits": gen["waits"] + jud.get("waits", 0), "waited_s": round(gen["waited_s"] + jud.get("waited_s", 0), 3),
            "tokens_input": tokens["input"], "tokens_output": tokens["output"], "tokens_thinking": tokens["thinking"],
            "cost_usd": round(gen["cost_usd"] + jud.get("cost_usd", 0.0), 6),
            "complete": t.complete, "truncated": t.truncated, "empty": t.empty, "lost": self.lost_now,
            "blocked": sum(t.blocked.values()), **{f"blocked_{k}": v for k, v in t.blocked.items()},
            "judged": t.judged, "judge_missing": t.judge_missing, "judge_partial": t.judge_partial,
            **self.rates.metrics(),
        }
        self.ctx.emit(EventType.METRICS, self.done, **{k: v for k, v in metrics.items() if v is not None})
        now = time.monotonic()
        if final or now - self._ledger_saved >= 1.0:  # an fsync'd write a second, not one an item
            self._ledger_saved = now
            atomic_write_text(self.data / DATAGEN_LEDGER, _json(led))

    # -- the run ----------------------------------------------------------------------------------
    def _plan(self, client: Client, prompts: list[Prompt]) -> tuple[set[str], list[Job]]:
        """Every planned key, and the work left: new or redone traces, judgements asked again."""
        store.repair_tail(self.data / DATAGEN_ITEMS)
        rows = {r["key"]: r for r in store.iter_rows(self.data / DATAGEN_ITEMS) if isinstance(r.get("key"), str)}
        planned: set[str] = set()
        work: list[Job] = []
        judging = self.judge is not None
        self.rates = Rates(judging)
        for p in prompts:
            for i in range(self.sec.traces):
                level = level_of(i)
                key = item_key(p.chat(), level, i, client.backend, client.model,
                               gen_params(self.sec, level, self.shapes[level]))
                planned.add(key)
                row = rows.get(key)
                item = store.Item.from_row(row) if row is not None else None
                if item is None or item.outcome in REDO:
                    work.append((p, i, key, None))
                elif judging and needs_judgement(item):
                    work.append((p, i, key, row))
                else:
                    self.live.add(item)
                    self.rates.seen(item)
        self.live.judging = judging
        return planned, work

    async def _main(self) -> tuple[dict[str, Any] | None, str | None]:
        client = make_client(self.sec, "datagen", seed=self.sec.seed)
        pacer = Pacer(client.gate, self.sec.concurrency, self.sec.rpm)
        for level, shape in self.shapes.items():
            self.ctx.log(f"datagen: {level}: {shape.describe()}")
        for note in sorted({n for s in self.shapes.values() for n in s.notes}):
            self.ctx.log(f"datagen: {note}")
        if self.sec.backend != "local" and self.gen_ledger.price is None:
            self.ctx.log(f"datagen: no price known for {client.model}: cost_usd counts 0 (set datagen.price_input "
                         "and datagen.price_output)")
        prompts = self._base_prompts()
        if self.sec.per_category or self._short(prompts):
            exp = Expansion(self.sec, self.data / DATAGEN_EXPANDED, self.ctx.log)
            self.phases = ["expand", "generate"]
            exp.on_progress = lambda written, asked: self.ctx.emit(EventType.PROGRESS, written, total_steps=asked,
                                                                   phase="expand", phases=self.phases)
            prompts = await exp.run(client, exp.reuse(prompts), self.policy, self.gen_ledger, pacer,
                                    self.ctx.stop_requested.is_set)
            if exp.verdict():
                return None, exp.verdict()
            if exp.asked > exp.written:
                self.ctx.alert("expansion_short", f"prompt expansion wrote {exp.written} of {exp.asked} prompts "
                               f"asked ({exp.failures})", level="warning")
        else:
            prompts = Expansion(self.sec, self.data / DATAGEN_EXPANDED, self.ctx.log).reuse(prompts)
        prompts = _cut(prompts, category_counts(self.sec))
        if self.sec.max_prompts:
            prompts = _round_robin(prompts)[: self.sec.max_prompts]
        listed = [{"id": p.id, "category": p.category, "messages": p.chat()} for p in prompts]
        atomic_write_text(self.data / DATAGEN_PROMPTS, "".join(_json(r) + "\n" for r in listed))
        planned, work = self._plan(client, prompts)
        self.total = len(planned)
        self.done = self.total - len(work)
        self.ctx.emit(EventType.PROGRESS, self.done, total_steps=self.total, prompts=len(prompts),
                      traces_per_prompt=self.sec.traces, skipped_done=self.done, phase="generate", phases=self.phases)
        rejudge = sum(1 for w in work if w[3] is not None)
        self.ctx.log(f"datagen: {len(prompts)} prompts × {self.sec.traces} traces; {self.done} done, "
                     f"{len(work) - rejudge} to generate, {rejudge} to judge again ({client.backend}:{client.model})")
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for w in work:
            queue.put_nowait(w)

        async def worker() -> None:
            while not queue.empty() and not self.ctx.stop_requested.is_set() and self.fatal is None:
                p, i, key, row = queue.get_nowait()
                if row is None:
                    await self._one(client, pacer, p, i, key)
                else:
                    await self._finish(dict(row), rejudge=True)

        await asyncio.gather(*(worker() for _ in range(min(self.sec.concurrency, max(1, len(work))))))
        self._progress(final=True)
        if self.ctx.stop_requested.is_set():
            return None, None
        tally = Tally.of(store.read_items(self.ctx.run_dir), planned, self.judge is not None)
        manifest = build_outputs(self.ctx.run_dir, listed, self.sec.pair_margin, self.sec.sft_thoughts, tally)
        if self.fatal is not None:
            return manifest, (f"datagen: {self.fatal}; {tally.complete} of {tally.planned} traces complete, "
                              "`aba resume` continues once the quota is back")
        return manifest, tally.verdict(self.sec.max_lost)

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
            manifest, failure = asyncio.run(self._main())
        finally:
            if self.judge is not None:
                self.judge.close()
        if manifest is not None:
            t = manifest.get("tally") or {}
            self.ctx.emit(EventType.DATAGEN, self.done, **manifest["rows"], items=manifest["items"],
                          judged=manifest["judged"], planned=t.get("planned", 0), complete=t.get("complete", 0),
                          truncated=t.get("truncated", 0), empty=t.get("empty", 0), lost=t.get("lost", 0),
                          blocked=dict(t.get("blocked") or {}), judge_missing=t.get("judge_missing", 0))
            self.ctx.log(f"datagen: wrote {manifest['rows']} from {manifest['items']} complete items; "
                         f"tally {t}")
        if failure:
            self.ctx.fail(failure)
        if manifest is None:
            self.ctx.log("datagen: stopped; items so far are kept, `aba resume` continues")


def _cut(prompts: list[Prompt], counts: dict[str, int]) -> list[Prompt]:
    """The first N prompts of each category named in ``counts`` (the set's, then generated ones)."""
    if not counts:
        return prompts
    seen: dict[str, int] = {}
    out = []
    for p in prompts:
        seen[p.category] = seen.get(p.category, 0) + 1
        if seen[p.category] <= counts.get(p.category, 0):
            out.append(p)
    return out


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
