"""The eval stage's work (called by pipeline/stages/eval.py): probes → analysis → reports.

Output in the run folder (docs/evaluation.md)::

    eval/probes.jsonl      append-only answers (resumable by content key)
    eval/battery.jsonl     the battery's answers, same row format
    eval/tournament.jsonl  every pairing's verdict
    eval_report.md / eval_report.json   written last, atomically (the JSON marks the eval complete)
"""

from __future__ import annotations

import json
import os
import time
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.chat.battery import load_battery
from pipeline.config.paths import lookup_runs_dir
from pipeline.config.runref import RunRef, is_run_ref, parse_run_ref, run_ref
from pipeline.errors import AbaError, ConfigError
from pipeline.evaluate import report as rep
from pipeline.evaluate import stance_model
from pipeline.evaluate.models import ModelRef, parse_ref, unique_labels
from pipeline.evaluate.probe import Setting, Task, answered, collect
from pipeline.evaluate.progress import EvalProgress, eval_phases
from pipeline.evaluate.questions import Question, load_questions
from pipeline.redact import redact
from pipeline.runs.layout import (
    EVAL_BATTERY,
    EVAL_DIR,
    EVAL_MODELS,
    EVAL_PROBES,
    EVAL_REPORT_JSON,
    EVAL_REPORT_MD,
    EVAL_TOURNAMENT,
    JUDGE_CACHE,
    METADATA,
)
from pipeline.runs.vocabulary import EventType
from pipeline.safeio import open_append

if TYPE_CHECKING:
    from pipeline.judge.interface import Judge
    from pipeline.runs.worker import StageContext


def settings(cfg: Any) -> list[Setting]:
    out = []
    for i, raw in enumerate(cfg.temperatures):
        try:
            t = float(raw)
        except ValueError:
            raise ConfigError(f"eval.temperatures[{i}]={raw!r}: expected a number, e.g. \"0.7\"") from None
        if not 0 <= t <= 5:
            raise ConfigError(f"eval.temperatures[{i}]={raw!r}: expected a temperature from 0 to 5")
        out.append(Setting(f"t{t:g}", t, cfg.top_p, cfg.max_tokens))
    if not out:
        raise ConfigError("eval.temperatures: empty (expected at least one temperature, e.g. [\"0.7\"])")
    return out


def model_refs(model_source: str, cfg: Any, runs_root: Path | None = None) -> list[ModelRef]:
    refs: list[ModelRef] = []
    if cfg.baseline:
        refs.append(parse_ref(cfg.baseline, "eval.baseline", runs_root))
    if model_source and model_source != cfg.baseline:
        for src in expand_checkpoints(model_source, cfg.checkpoints, runs_root):
            refs.append(parse_ref(src, "model.source", runs_root))
    for i, m in enumerate(cfg.models):
        if m not in (cfg.baseline, model_source):
            refs.append(parse_ref(m, f"eval.models[{i}]", runs_root))
    if not refs:
        raise ConfigError("eval: no model to evaluate (set model.source, eval.baseline or eval.models)")
    return unique_labels(refs)


def whole_run(model_source: str) -> RunRef | None:
    """``model.source`` as a ``run:<id>`` naming no checkpoint (the one eval.checkpoints expands), else None."""
    if not is_run_ref(model_source):
        return None
    ref = parse_run_ref(model_source)
    return ref if ref.checkpoint is None else None


def _parent_dir(ref: RunRef, runs_root: Path | None) -> Path:
    from pipeline.runs.store import RunStore

    root = runs_root or lookup_runs_dir()
    try:
        return RunStore(root).resolve(ref.run)
    except AbaError:
        raise ConfigError(f"model.source='{ref}': no such run in {root}") from None


def expand_checkpoints(model_source: str, names: list[str], runs_root: Path | None) -> list[str]:
    """``run:<id>`` with eval.checkpoints → one ``run:<id>@<name>`` per checkpoint (else the source)."""
    ref = whole_run(model_source)
    if not names or ref is None:
        return [model_source]
    from pipeline.evaluate.best import periodic_checkpoints

    run_dir = _parent_dir(ref, runs_root)
    picked = periodic_checkpoints(run_dir) if names == ["all"] else names
    if not picked:
        raise ConfigError(f"eval.checkpoints={names!r}: run {run_dir.name} has no complete periodic checkpoint")
    return [run_ref(ref.run, n) for n in picked]


def load_all(cfg: Any) -> tuple[dict[str, Question], Any]:
    qs: dict[str, Question] = {}
    for spec in cfg.questions:
        for q in load_questions(spec):
            if q.id in qs:
                raise ConfigError(f"eval.questions: id {q.id!r} appears in two sets (ids must be unique)")
            qs[q.id] = q
    battery = None
    if cfg.battery:
        from pipeline.evaluate.questions import set_path

        battery = load_battery(set_path(cfg.battery))
    return qs, battery


def _messages(system: str, prompt: str) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]


def check(cfg_all: Any, runs_root: Path | None = None) -> None:
    """Preflight (light): refs, question sets, battery, settings, votes files — before any process starts."""
    cfg = cfg_all.section("eval")
    model_refs(cfg_all.section("model").source if "model" in cfg_all.sections else "", cfg, runs_root)
    load_all(cfg)
    settings(cfg)
    if cfg.judge == "judge" and "judge" in cfg_all.sections:
        from pipeline.judge.config import check_section

        check_section(cfg_all.section("judge"))
    for i, v in enumerate(cfg.votes):
        if not Path(v).is_file():
            raise ConfigError(f"eval.votes[{i}]={v!r}: no such file (expected an A/B chat votes.jsonl)")


class EvalRun:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.section("eval")
        self.out = ctx.run_dir / EVAL_DIR
        self.progress = EvalProgress(ctx, [])

    def run(self) -> None:
        ctx, cfg = self.ctx, self.cfg
        try:
            refs = model_refs(ctx.cfg.section("model").source, cfg, ctx.run_dir.parent)
            questions, battery = load_all(cfg)
            sets = settings(cfg)
        except AbaError as exc:
            ctx.fail(str(exc))
            return
        tasks = [Task(q.id, _messages(q.item.system or cfg.system_prompt, q.prompt), s, k,
                      {"category": q.category, "set": q.set_name})
                 for s in sets for q in questions.values() for k in range(cfg.samples)]
        btasks = [Task(it.id, _messages(it.system or cfg.system_prompt, it.prompt), sets[0], 0, {"battery": True})
                  for it in (battery.items if battery else [])]
        total = len(refs) * (len(tasks) + len(btasks))
        self.progress = EvalProgress(ctx, eval_phases(cfg.judge, cfg.tournament, len(refs)))
        self.progress.start("answer", total, models=[r.label for r in refs])
        done = 0
        threads = cfg.threads or None
        for ref in refs:
            ctx.log(f"eval: probing {ref.label} ({ref.kind}: {ref.ref})")
            base = done

            def progress(n: int, _of: int, base: int = base) -> None:
                self.progress.answered(base + n)

            try:
                from pipeline.evaluate.probe import open_generator

                gen = open_generator(ref, threads) if self._missing(ref, tasks, btasks) else None
                if gen is not None:
                    self._remember(ref, {"thinking": gen.thinking})
                try:
                    collect(ref, tasks, self.out / EVAL_PROBES, batch_size=cfg.batch_size, seed=cfg.seed,
                            stop=ctx.stop_requested.is_set, on_batch=progress, generator=gen)
                    collect(ref, btasks, self.out / EVAL_BATTERY, batch_size=cfg.batch_size, seed=cfg.seed,
                            stop=ctx.stop_requested.is_set, generator=gen)
                finally:
                    if gen is not None:
                        gen.close()
            except AbaError as exc:
                ctx.fail(f"eval: {ref.label}: {exc}")
            if ctx.stop_requested.is_set():
                ctx.log("eval: stop requested; a resume answers what is missing")
                return
            done += len(tasks) + len(btasks)
            self.progress.answered(done, fresh=0)
        self.report(refs, questions, battery)

    def _remember(self, ref: ModelRef, facts: dict[str, Any]) -> None:
        """What the eval learnt about a model while it was loaded (its template's thinking mode), kept in
        eval/models.json so a resumed or rebuilt report still knows it."""
        known = self._models()
        known[ref.label] = {**known.get(ref.label, {}), **facts}
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.out / EVAL_MODELS, known)

    def _models(self) -> dict[str, Any]:
        from pipeline.atomic import read_json_object

        return read_json_object(self.out / EVAL_MODELS) or {}

    def _missing(self, ref: ModelRef, tasks: list[Task], btasks: list[Task]) -> bool:
        from pipeline.evaluate.probe import row_key

        have = {r["key"] for r in answered(self.out / EVAL_PROBES) if not r.get("error")} | \
            {r["key"] for r in answered(self.out / EVAL_BATTERY) if not r.get("error")}
        return any(row_key(ref.label, t.setting.name, t.qid, t.sample) not in have for t in [*tasks, *btasks])

    def report(self, refs: list[ModelRef], questions: dict[str, Question], battery: Any) -> dict[str, Any]:
        from pipeline.evaluate.judges import close, make_eval_judge

        cfg, ctx = self.cfg, self.ctx
        labels = [r.label for r in refs]
        rows = [r for r in answered(self.out / EVAL_PROBES) if r.get("model") in labels]
        extra: dict[str, Any] = {"settings": [s.to_dict() for s in settings(cfg)], "samples": cfg.samples,
                                 "questions": list(cfg.questions), "created_at": time.time(), "run_id": ctx.run_id}
        known = self._models()
        thinking = {r.label: known.get(r.label, {}).get("thinking") for r in refs}
        if battery is not None:
            extra["battery"] = battery_summary(battery, answered(self.out / EVAL_BATTERY), labels, thinking)
        baseline = refs[0].label if cfg.baseline else None
        judge = None
        try:
            judge = make_eval_judge(cfg.judge, ctx.cfg.sections.get("judge"), self.out / JUDGE_CACHE)
            if judge is not None:
                from pipeline.evaluate.judged import add_tournament_swaps, judge_section

                ctx.log(f"eval: measuring the judge {judge.id} on {cfg.judge_calibration} calibration pairs")
                extra["judge"] = judge_section(judge, cfg.judge, ctx.cfg.sections.get("judge"), self.out / JUDGE_CACHE,
                                               rows, questions, labels, baseline, cfg.judge_answers,
                                               cfg.judge_calibration, progress=self.progress.judged)
                if cfg.tournament and len(labels) > 1:
                    extra["tournament"] = self.tournament(judge, rows, questions, labels)
                    add_tournament_swaps(extra["judge"], extra["tournament"]["order_swap"])
                flag = (extra["judge"].get("reliability") or {}).get("flag")
                if flag:
                    ctx.alert("judge_no_signal", f"{flag}: {'; '.join(extra['judge']['reliability']['reasons'])}",
                              level="warning")
        except AbaError as exc:
            ctx.fail(f"eval: judge {cfg.judge!r}: {exc}")
        finally:
            close(judge)
        models = [{**r.to_dict(), "thinking": thinking[r.label]} for r in refs]
        # The analyser fits its classifier at first use in a process; on a fresh machine that first reads its
        # training answers with the embedded model (cached after), a pause worth naming in the log.
        ctx.log(f"eval: reading the stance of {len(rows)} answers ({stance_model.ANALYSER_NAME}; "
                "its first use on a machine also reads its training answers once)")
        report = rep.build(models, rows, questions, baseline, extra)
        if cfg.record_in_checkpoints:
            record_in_checkpoints(refs, report, ctx.run_dir.parent, ctx.run_id)
        report["best"] = self.choose_best(refs, report)
        atomic_write_text(ctx.run_dir / EVAL_REPORT_MD, rep.markdown(report))
        atomic_write_json(ctx.run_dir / EVAL_REPORT_JSON, report)  # last: the report is complete
        for place, r in enumerate(refs, 1):
            m = report["per_model"][r.label]["metrics"]
            ctx.emit(EventType.EVAL, None, model=r.label, **{k: m[k]["p"] for k in rep.HEADLINE})
            self.progress.headline(place, {k: m[k]["p"] for k in rep.HEADLINE})
        ctx.log(f"eval: report written: {ctx.run_dir / EVAL_REPORT_MD}")
        return report

    def choose_best(self, refs: list[ModelRef], report: dict[str, Any]) -> dict[str, Any] | None:
        """Re-point the parent run's ``best`` when its best_metric is an eval metric (pipeline.evaluate.best)."""
        from pipeline.evaluate.best import parent_best_metric, repoint_best

        parent = whole_run(self.ctx.cfg.section("model").source)
        if not self.cfg.checkpoints or parent is None:
            return None
        run_dir = _parent_dir(parent, self.ctx.run_dir.parent)
        metric = parent_best_metric(run_dir)
        if not metric.startswith("eval_") or metric[5:] not in rep.HEADLINE:
            return None
        values: dict[str, Any] = {}
        for r in refs:  # the parent's checkpoints that expand_checkpoints named
            ref = parse_run_ref(r.ref) if is_run_ref(r.ref) else None
            if ref is not None and ref.run == parent.run and ref.checkpoint:
                values[ref.checkpoint] = report["per_model"][r.label]["metrics"][metric[5:]]["p"]
        chosen = repoint_best(run_dir, metric, values)
        if chosen:
            self.ctx.log(f"eval: {run_dir.name}: best is now {chosen['best']} by {metric} = {chosen['value']:.3f}")
        return chosen

    def tournament(self, judge: Judge, rows: list[dict[str, Any]], questions: dict[str, Question],
                   labels: list[str]) -> dict[str, Any]:
        from pipeline.chat.votes import read_votes
        from pipeline.evaluate import tournament as tn

        first = sorted({r["setting"] for r in rows})[:1]
        qids = [q for q in questions][: self.cfg.tournament_prompts]
        answers = {m: {r["qid"]: r["answer"] for r in rows if r["model"] == m and r["sample"] == 0
                       and r["setting"] in first and r["qid"] in qids} for m in labels}
        prompts = {q: _messages(self.cfg.system_prompt, questions[q].prompt) for q in qids}
        path = self.out / EVAL_TOURNAMENT
        matches = sum(1 for q in qids for a, b in combinations(labels, 2) if q in answers[a] and q in answers[b])
        self.progress.start("tournament", matches)
        path.unlink(missing_ok=True)  # a new journal each time; private (0600), never through a link
        with os.fdopen(open_append(path), "a", encoding="utf-8") as fh:
            def log(o: tn.Outcome) -> None:
                fh.write(redact(json.dumps(o.__dict__, ensure_ascii=False)) + "\n")
                self.progress.advanced("tournament")
            outcomes = tn.play(judge, prompts, answers, on_outcome=log, stop=self.ctx.stop_requested.is_set)
        votes = [v for f in self.cfg.votes for v in read_votes(Path(f))]
        outcomes += tn.human_outcomes(votes)
        return {"judge": judge.id, "order_swap": tn.order_swap(outcomes),
                **tn.rate(labels, outcomes, seed=self.cfg.seed).to_dict()}


def battery_summary(battery: Any, rows: list[dict[str, Any]], labels: list[str],
                    thinking: dict[str, bool | None] | None = None) -> dict[str, Any]:
    """Pass counts per model and one row per answer; ``think`` on a row: the think check on a thinking
    model (None where it does not apply)."""
    items = {it.id: it for it in battery.items}
    out: dict[str, Any] = {"name": battery.name, "summary": {}, "rows": []}
    for m in labels:
        thinks = (thinking or {}).get(m)
        passed = total = errors = judged = 0
        for r in rows:
            if r.get("model") != m or r.get("qid") not in items:
                continue
            it = items[r["qid"]]
            total += 1
            if r.get("error"):
                errors += 1
                continue
            if not it.expect:
                judged += 1
                out["rows"].append({"model": m, "id": it.id, "check": "judge", "answer": r["answer"][:300]})
                continue
            fails = it.check(r["answer"], thinks)
            passed += not fails
            out["rows"].append({"model": m, "id": it.id, "passed": not fails, "failures": fails,
                                "think": it.think_check(r["answer"], thinks), "answer": r["answer"][:300]})
        out["summary"][m] = {"passed": passed, "total": total, "errors": errors, "judged": judged}
    return out


def record_in_checkpoints(refs: list[ModelRef], report: dict[str, Any], runs_root: Path, run_id: str) -> None:
    """eval_* metrics into each evaluated run checkpoint's metadata (the browser ranks by them)."""
    from pipeline.models.runsource import run_checkpoint

    for r in refs:
        if not is_run_ref(r.ref):
            continue
        try:
            _run_dir, ck = run_checkpoint(runs_root, r.ref)
        except ConfigError:
            continue
        m = report["per_model"][r.label]["metrics"]
        meta = dict(ck.meta)
        evals = dict(meta.get("eval") or {})
        evals.update({k: m[k]["p"] for k in rep.HEADLINE if m[k]["p"] is not None})
        evals["run"] = run_id
        meta["eval"] = evals
        atomic_write_json(ck.path / METADATA, meta)


def preflight_check(cfg_all: Any, _sec: Any, runs_dir: Path | None = None) -> None:
    """The registry's check for the eval stage (``module:function`` with (cfg, section, runs_dir))."""
    check(cfg_all, runs_dir)
