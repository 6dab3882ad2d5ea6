"""The abliterate stage's body (worker only): prompts → directions → baseline → Optuna study →
chosen trial saved as a checkpoint → heal pairs → report. pipeline/stages/abliterate.py calls run()."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from pipeline.abliterate import directions as dirs_mod
from pipeline.abliterate.ablate import Ablator
from pipeline.abliterate.compare import ARM_STEP, arms, rss_mb, write_comparison
from pipeline.abliterate.engine import Engine
from pipeline.abliterate.kernel import TrialParams
from pipeline.abliterate.objectives import Measure, baseline_reference, measure, objective_names
from pipeline.abliterate.pareto import Trial, choose, read_study
from pipeline.abliterate.progress import RunningBest
from pipeline.abliterate.prompts import capability_items, fact_questions, limited, load_prompts
from pipeline.abliterate.refusal import make_detector
from pipeline.abliterate.report import write_report
from pipeline.abliterate.save import save_checkpoint
from pipeline.abliterate.second_opinion import arbitrate
from pipeline.abliterate.study import Outcome, finished, open_study, reconcile, recover, run_trials
from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.errors import ConfigError
from pipeline.runs.layout import ABLITERATE_DIR, DIRECTIONS_JSON, DIRECTIONS_PT, FINAL, HEAL_PAIRS, JUDGE_CACHE
from pipeline.runs.vocabulary import EventType, SecondOpinion, objective_fields
from pipeline.runs.worker import StageContext

TEMPLATE_REFUSAL = "I'm sorry, but I can't help with that request."


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or \
        "out of memory" in str(exc).lower()


def _directions(ctx_dir: Path, engine: Engine, cfg: Any, harmful: list[str],
                harmless: list[str]) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Computed once per run and kept (a resume reuses them, so every trial sees the same directions)."""
    pt, info_path = ctx_dir / DIRECTIONS_PT, ctx_dir / DIRECTIONS_JSON
    if pt.is_file() and info_path.is_file():
        d, mean = dirs_mod.load(pt)
        return d, mean, json.loads(info_path.read_text())
    d, mean, info = dirs_mod.compute(engine, harmful, harmless, cfg.directions, cfg.cones, cfg.orthogonalize, cfg.seed)
    tmp = pt.with_suffix(".pt.tmp")
    dirs_mod.save(tmp, d, mean)
    os.replace(tmp, pt)
    info.update({"shape": list(d.shape), "cones": cfg.cones, "k": int(d.shape[1]), "orthogonalize": cfg.orthogonalize,
                 "system_prompt": cfg.system_prompt})
    atomic_write_json(info_path, info)
    return d, mean, info


class Abliteration:
    def __init__(self, ctx: StageContext) -> None:
        from pipeline.models.resolve import resolve_model

        self.ctx = ctx
        self.cfg = ctx.cfg.section("abliterate")
        self.work = ctx.run_dir / ABLITERATE_DIR
        self.work.mkdir(parents=True, exist_ok=True)
        self.model_source = ctx.cfg.section("model").source
        self.model_path = str(resolve_model(self.model_source))
        harmful, harmless = load_prompts(self.cfg.harmful, "harmful"), load_prompts(self.cfg.harmless, "harmless")
        tr, te = self.cfg.train_limit, self.cfg.test_limit
        self.h_train, self.h_test = limited(harmful.train, tr), limited(harmful.test, te)
        self.b_train, self.b_test = limited(harmless.train, tr), limited(harmless.test, te)
        self.detector = make_detector(self.cfg.detector, self.cfg.markers)
        self.objectives = objective_names(self.cfg.hallucination, self.cfg.capability)
        self.extras: dict[str, Any] = {}
        if self.cfg.hallucination:
            self.extras["facts"] = fact_questions()
        if self.cfg.capability:
            self.extras["capability"] = capability_items()
        self.judge = self._judge()

    def _judge(self) -> Any:
        if self.cfg.judge != "judge":
            return None
        from pipeline.judge.factory import make_judge

        return make_judge(self.ctx.cfg.sections.get("judge"), cache_dir=self.work / JUDGE_CACHE)

    # -- measurements ------------------------------------------------------------------------------------
    def measure(self, seed: int) -> tuple[Measure, SecondOpinion]:
        """One measurement with OOM → halve the batch and retry (down to 1), then the judge's opinion."""
        while True:
            try:
                m = measure(self.engine, self.base, self.h_test, self.b_test, self.detector, self.cfg, seed,
                            self.extras)
                return m, self.second_opinion(m)
            except (RuntimeError, MemoryError) as exc:
                if not is_oom(exc) or self.engine.batch_size <= 1:
                    raise
                self.engine.batch_size //= 2
                self.ctx.alert("oom_halved", f"out of memory during a trial: batch_size → {self.engine.batch_size}, "
                               "retrying the trial", level="warning")

    def second_opinion(self, m: Measure) -> SecondOpinion:
        """The judge on the detector's least certain answers; with ``judge = decide`` its verdict replaces
        the detector's where they differ (the trial's refusals are recounted)."""
        if self.judge is None or self.cfg.judge_sample <= 0:
            return {}
        before = list(m.flags)
        arb = arbitrate(self.judge, self.h_test, m.answers, m.flags, m.uncertain, self.cfg.judge_sample,
                        decide=self.cfg.judge == "decide")
        if self.cfg.judge == "decide":
            m.decide(arb.flags)
        return arb.fields(before)  # type: ignore[return-value]

    # -- the stage ---------------------------------------------------------------------------------------
    def phase(self, name: str, step: int, total: int) -> None:
        """A `progress` event of phase ``name`` (the runs pane's phase, step/total and ETA)."""
        cfg = self.cfg
        phases = ["prepare", "trials"] + ([] if cfg.compare_cones else ["save"] + (["gguf"] if cfg.gguf_eval else []))
        self.ctx.emit(EventType.PROGRESS, step, total_steps=total, phase=name, phases=phases)

    def run(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        self.phase("prepare", 0, 2)  # the baseline, the directions
        self.engine = Engine.load(self.model_path, cfg.batch_size, cfg.system_prompt)
        self.base = baseline_reference(self.engine, self.b_test, cfg.kl_tokens)
        if not read_study(ctx.run_dir).baseline:
            bm, opinion = self.measure(cfg.seed)
            ctx.emit(EventType.BASELINE, 0, refusals=bm.refusals, n=bm.n, kl=0.0, undecided=bm.undecided,
                     hallucination=bm.hallucination, capability=bm.capability,
                     examples=[{"prompt": p, "answer": a[:200]}
                               for p, a in list(zip(self.h_test, bm.answers, strict=True))[:4]],
                     **opinion)
        self.phase("prepare", 1, 2)
        if cfg.compare_cones:
            self.run_arms()
            return
        directions, info = self.prepare(self.work, cfg.cones)
        self.phase("prepare", 2, 2)
        self.study_loop(self.work, "", 0, cfg.cones, directions)
        if ctx.stop_requested.is_set():
            ctx.log("abliterate: stop requested; the study keeps every finished trial (aba resume continues it)")
            return
        self.finish(directions, info)

    def run_arms(self) -> None:
        """Concept cones on/off: the same trial budget for each arm (pipeline/abliterate/compare.py)."""
        ctx = self.ctx
        memory: dict[str, dict[str, float]] = {}
        for i, (arm, cones) in enumerate(arms(self.cfg.compare_cones)):
            before = rss_mb()
            directions, _info = self.prepare(self.work / arm, cones)
            self.study_loop(self.work / arm, arm, i * ARM_STEP, cones, directions)
            memory[arm] = {"peak_rss_mb": round(rss_mb(), 1), "peak_rss_growth_mb": round(rss_mb() - before, 1),
                           "directions_mb": round(directions.numel() * 4 / 2**20, 3)}
            if ctx.stop_requested.is_set():
                ctx.log("abliterate: stop requested; both studies keep their finished trials (aba resume continues)")
                return
        write_comparison(ctx.run_dir, memory)

    def prepare(self, work: Path, cones: int) -> tuple[torch.Tensor, dict]:
        """Directions for ``work`` (computed once, kept) and the ablator over them."""
        cfg = self.cfg
        work.mkdir(parents=True, exist_ok=True)
        saved = cfg.cones
        cfg.cones = cones
        try:
            directions, mean, info = _directions(work, self.engine, cfg, self.h_train, self.b_train)
        finally:
            cfg.cones = saved
        self.ablator = Ablator(self.engine.model, directions, cfg.variant, cfg.norm, tuple(cfg.components), cfg.scope,
                               harmless_mean=mean)
        return directions, info

    def study_loop(self, work: Path, arm: str, offset: int, cones: int, directions: torch.Tensor) -> Any:
        """Open (or resume) the study in ``work`` and run it to ``trials``; events carry ``arm`` when set."""
        ctx, cfg = self.ctx, self.cfg
        study = open_study(work, self.objectives, cfg.sampler, cfg.startup_trials, cfg.seed)
        stale = recover(study)
        done_before = len(finished(study))
        if not done_before:
            ctx.emit(EventType.ABLITERATE_SETUP, offset, objectives=[list(o) for o in self.objectives],
                     n_layers=self.ablator.n_layers, variant=cfg.variant, norm=cfg.norm, cones=cones,
                     directions=int(directions.shape[1]), components=list(cfg.components),
                     train=[len(self.h_train), len(self.b_train)], test=[len(self.h_test), len(self.b_test)],
                     model=self.model_path, arm=arm or None, system_prompt=cfg.system_prompt, scope=cfg.scope,
                     max_kl=cfg.max_kl, kl_constraint=cfg.kl_constraint, detector=cfg.detector)
        if stale or done_before:
            ctx.emit(EventType.RESUME, offset + done_before, message=f"study {arm or ''} resumed: {done_before} "
                     f"finished trials kept, {stale} interrupted trial(s) marked failed", logged_until=done_before,
                     arm=arm or None)
        self.phase("trials", offset + done_before, offset + cfg.trials)
        best = RunningBest(cfg.max_kl, [t for t in read_study(ctx.run_dir).trials if t.arm == arm])

        def evaluate(number: int, params: TrialParams, t0: float) -> Outcome:
            self.ablator.apply(params)
            try:
                m, opinion = self.measure(cfg.seed + number)
            finally:
                self.ablator.reset()
            values = m.values(cfg.hallucination, cfg.capability)
            named = {n: v for (n, _d), v in zip(self.objectives, values, strict=True)}
            event = {"trial": number, **objective_fields(named), "n": m.n, "undecided": m.undecided,
                     "params": params.as_flat(), "seconds": round(time.time() - t0, 2),
                     "batch_size": self.engine.batch_size, "arm": arm or None, **opinion}
            return Outcome(values, event, m.kl - cfg.max_kl if cfg.kl_constraint else None)

        def emit(number: int, event: dict[str, Any]) -> None:
            step = offset + number + 1
            named = {n: event[n] for n, _d in self.objectives if n in event}
            ctx.emit(EventType.TRIAL, step, **event)
            charted: dict[str, Any] = {**objective_fields(named), "trial_s": event.get("seconds"),
                                       **best.add(number, named)}  # with the running best
            ctx.emit(EventType.METRICS, step, **{k: v for k, v in charted.items() if v is not None})
            self.phase("trials", offset + len(finished(study)), offset + cfg.trials)
            ctx.log(f"abliterate: {arm + ' ' if arm else ''}trial {number}: "
                    + ", ".join(f"{k}={v:.4g}" for k, v in named.items()) + f" ({event.get('seconds')} s)")

        emitted = [t.number for t in read_study(ctx.run_dir).trials if t.arm == arm]
        late = reconcile(study, emitted, emit)
        if late:
            ctx.log(f"abliterate: wrote the events of trial(s) {late}, finished before the worker stopped")

        def stop() -> bool:
            if cfg.test_pause_after and not ctx.resume and len(finished(study)) >= cfg.test_pause_after:
                ctx.log(f"abliterate: test hook: pausing after {cfg.test_pause_after} trials")
                ctx.stop_requested.wait(timeout=300)  # bounded: an abandoned test leaves no eternal worker
            return ctx.stop_requested.is_set()

        run_trials(study, cfg.trials, tuple(cfg.components), cfg.warm_start, cfg.scope, evaluate, emit, stop)
        return study

    def finish(self, directions: torch.Tensor, info: dict) -> None:
        ctx, cfg = self.ctx, self.cfg
        view = read_study(ctx.run_dir)
        chosen = choose(view.trials, cfg.max_kl)
        if chosen is None:
            ctx.fail("abliterate: no trial finished")
            return
        params = TrialParams.from_flat(chosen.params, tuple(cfg.components))
        meta = self.trial_meta(chosen, info)
        parts = 2 if cfg.heal_pairs else 1  # the checkpoint, the healing pairs
        self.phase("save", 0, parts)
        self.ablator.apply(params)
        try:
            ckpt = save_checkpoint(self.ablator, self.engine.tok, ctx.checkpoints_dir / FINAL, meta)
            self.phase("save", 1, parts)
            pairs = self.heal_pairs() if cfg.heal_pairs else 0
        finally:
            self.ablator.reset()
        self.phase("save", parts, parts)
        objectives = objective_fields(chosen.values)
        ctx.emit(EventType.CHECKPOINT, chosen.number + 1, name="final", trial=chosen.number, **objectives)
        gguf = self.gguf_eval(ckpt) if cfg.gguf_eval else None
        ctx.emit(EventType.ABLITERATE_CHOSEN, chosen.number + 1, trial=chosen.number, checkpoint="final",
                 heal_pairs=pairs, gguf=gguf, **objectives)
        write_report(ctx.run_dir, read_study(ctx.run_dir), cfg, gguf)

    def trial_meta(self, trial: Trial, info: dict) -> dict[str, Any]:
        cfg = self.cfg
        return {"trial": trial.number, "objectives": trial.values, "params": trial.params, "variant": cfg.variant,
                "norm": cfg.norm, "components": list(cfg.components), "scope": cfg.scope,
                "system_prompt": cfg.system_prompt,
                "directions": {"k": info.get("k"), "cones": cfg.cones, "orthogonalize": cfg.orthogonalize},
                "base_model": self.model_path, "model_source": self.model_source, "step": trial.number + 1,
                **({"refusals": trial.values["refusals"], "kl": trial.values["kl"]} if "kl" in trial.values else {})}

    def heal_pairs(self) -> int:
        """heal_pairs.jsonl for the chained DPO: chosen = the abliterated model's compliant answer,
        rejected = the original model's refusal (a template refusal where it complied already)."""
        prompts = self.h_train[: self.cfg.heal_pairs]
        tokens = self.cfg.heal_tokens
        ablated = self.engine.generate(prompts, tokens)
        with self.ablator.suspended():
            original = self.engine.generate(prompts, tokens)
        rows = []
        for p, a, o in zip(prompts, ablated, original, strict=False):
            if self.detector(p, a) is not False:
                continue  # still refusing (or undecided): not a "chosen" answer
            rejected = o if self.detector(p, o) else TEMPLATE_REFUSAL
            if a.strip() and a.strip() != rejected.strip():
                rows.append({"prompt": p, "chosen": a, "rejected": rejected, "category": "abliterate-heal"})
        path = self.ctx.run_dir / HEAL_PAIRS
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self.ctx.log(f"abliterate: {len(rows)} heal pairs → {path}")
        return len(rows)

    def gguf_eval(self, ckpt: Path) -> dict[str, Any] | None:
        from pipeline.abliterate.gguf_eval import evaluate_gguf

        total = 1 + len(self.h_test) + len(self.b_test)  # the conversion, then one step a prompt
        self.phase("gguf", 0, total)
        try:
            return evaluate_gguf(ckpt, self.work, self.h_test, self.b_test, self.base, self.detector, self.cfg,
                                 self.engine, on_step=lambda done: self.phase("gguf", done, total))
        except Exception as exc:  # the HF result stands; say why the GGUF one is missing
            self.ctx.alert("gguf_eval_failed", f"GGUF measurement failed: {type(exc).__name__}: {exc}"[:500],
                           level="warning")
            return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def run(ctx: StageContext) -> None:
    try:
        Abliteration(ctx).run()
    except ConfigError as exc:
        ctx.fail(str(exc))
