"""The merge stage's work, in order: train the branches (if any) → merge → compare.

Phases report as ``progress`` events (``phase`` = branches | merge | compare) and ``merge`` /
``comparison`` events; the merged adapter is ``checkpoints/final`` (metadata.json last, naming its
sources). The comparison is an eval run of its own (stage eval, parent = this run, settings from
[eval]), summarised in ``report/comparison.{md,json}``. A resumed run skips what is complete.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.checkpoints.store import read_checkpoint
from pipeline.config.run import RunConfig
from pipeline.config.runref import run_ref
from pipeline.errors import AbaError
from pipeline.evaluate.models import model_label
from pipeline.merge.plan import Branch, BranchRunner, plan_branches, shared_sections
from pipeline.merge.report import summarise, write_report
from pipeline.merge.sources import AdapterSource, check_compatible, check_settings, resolve_source
from pipeline.merge.watch import merge_phases
from pipeline.runs.layout import COMPARISON_JSON, COMPARISON_MD, EVAL_REPORT_MD, FINAL, REPORT_DIR
from pipeline.runs.vocabulary import EventType

if TYPE_CHECKING:
    from pipeline.runs.worker import StageContext


def _run_id(branch: Branch) -> str:
    if branch.run_id is None:  # branches are launched (and recorded) before anything reads them
        raise AbaError(f"merge: branch {branch.label} has no run yet")
    return branch.run_id


class MergeJob:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.sec = ctx.cfg.section("merge")
        self.root: Path = ctx.run_dir.parent
        self.branches: list[Branch] = plan_branches(self.sec)
        self.dest: Path = ctx.checkpoints_dir / FINAL

    def run(self) -> None:
        try:
            weights = check_settings(self.sec, len(self.sec.train) + len(self.sec.sources))
        except AbaError as exc:
            self.ctx.fail(str(exc))
        if self.branches and not BranchRunner(self.ctx, self.branches, self.sec.parallel).run():
            self.ctx.log("merge: stopped while the branches trained; resume this run to go on")
            return
        try:
            sources = self._sources()
            check_compatible(sources, self.sec.method)
        except AbaError as exc:
            self.ctx.fail(str(exc))
        ck = read_checkpoint(self.dest)
        if not (self.ctx.resume and ck.complete):
            self._check_moved(sources)
            self._merge(sources, weights)
        if self.sec.compare and not self.ctx.stop_requested.is_set():
            self._compare(sources)

    def _source_refs(self) -> list[tuple[str, str]]:
        """(label, ref) of every adapter merged: the trained branches' (merge.branch_checkpoint), then
        merge.sources."""
        out = [(b.label, run_ref(_run_id(b), self.sec.branch_checkpoint)) for b in self.branches
               if b.role == "source"]
        return out + [("", ref) for ref in self.sec.sources]

    def _sources(self) -> list[AdapterSource]:
        return [resolve_source(ref, self.root) for _label, ref in self._source_refs()]

    def _check_moved(self, sources: list[AdapterSource]) -> None:
        """Every adapter must have moved from its initialisation (B = 0, so ΔW = 0): a merge of an adapter
        that never learnt anything compares nothing."""
        from pipeline.merge.delta import MOVED, Adapter

        norms = {s.label: Adapter(s.path).norm() for s in sources}
        for label, n in norms.items():
            self.ctx.log(f"merge: {label}: ‖ΔW‖ = {n:.4g}")
        still = [label for label, n in norms.items() if n < MOVED]
        if still:
            self.ctx.fail(f"merge: {', '.join(still)}: the adapter never moved from its initialisation (‖ΔW‖ = 0): "
                          "no training step had a gradient (in GRPO, every group's completions got the same "
                          "reward); train longer (grpo.max_steps), with more generations, or with a scorer that "
                          "tells the completions apart"
                          + ("; a best checkpoint can be a step before the first gradient: merge.branch_checkpoint "
                             "= final merges what each branch trained" if self.sec.branch_checkpoint == "best" else ""))

    def _merge(self, sources: list[AdapterSource], weights: list[float]) -> None:
        from pipeline.merge.combine import merge_to_checkpoint
        from pipeline.models.resolve import resolve_model

        self.ctx.emit(EventType.PROGRESS, 0, total_steps=1, phase="merge", phases=merge_phases(self.sec))
        t0 = time.time()
        base_source = sources[0].base_source
        base = resolve_model(base_source)
        meta = {"stage": "merge", "run_id": self.ctx.run_id, "model_source": base_source, "base_model": str(base),
                "merge": {"method": self.sec.method, "weights": weights, "density": self.sec.density,
                          "majority_sign": self.sec.majority_sign, "svd_rank": self.sec.svd_rank,
                          "seed": self.sec.seed},
                "merged_from": [s.describe() for s in sources]}
        written = merge_to_checkpoint(base, [s.path for s in sources], weights, self.sec.method, self.sec.density,
                                      self.sec.majority_sign, self.sec.svd_rank, self.sec.seed, self.dest, meta)
        self.ctx.emit(EventType.CHECKPOINT, 1, name=FINAL)
        moved = written.get("delta") or {}
        self.ctx.emit(EventType.MERGE, 1, method=self.sec.method, sources=[s.label for s in sources], weights=weights,
                      density=self.sec.density, r=written.get("r"), seconds=round(time.time() - t0, 2),
                      source_norms=moved.get("source_norms"), merged_norm=moved.get("merged_norm"),
                      kept=(moved.get("vs_rule_on_delta") or {}).get("kept"))
        self.ctx.emit(EventType.PROGRESS, 1, total_steps=1, phase="merge")
        self.ctx.log(f"merge: {self.sec.method} of {', '.join(s.label for s in sources)} → {self.dest}")

    def _compared(self, sources: list[AdapterSource]) -> tuple[list[str], dict[str, str]]:
        """The eval run's models after the merge itself: (refs, {eval label: role})."""
        refs: list[str] = []
        roles = {model_label(sources[0].base_source): "base", model_label(run_ref(self.ctx.run_id, FINAL)): "merged"}
        labels = [label for label, _ref in self._source_refs()]
        for label, s in zip(labels, sources, strict=True):
            ref = run_ref(s.run_id, s.checkpoint) if s.run_id else str(s.path)
            refs.append(ref)
            roles[model_label(ref)] = f"source: {label}" if label else "source"
        for b in self.branches:
            if b.role == "joint":
                refs.append(run_ref(_run_id(b), self.sec.branch_checkpoint))
                roles[model_label(refs[-1])] = "joint (Strategy A)"
        for ref in self.sec.compare_with:
            refs.append(ref)
            roles.setdefault(model_label(ref), "other")
        return refs, roles

    def _compare(self, sources: list[AdapterSource]) -> None:
        from pipeline.evaluate.report import read_report

        if self.ctx.resume and (self.ctx.run_dir / REPORT_DIR / COMPARISON_JSON).is_file():
            return
        refs, roles = self._compared(sources)
        base_source = sources[0].base_source

        def eval_config(cfg: RunConfig, _b: Branch, parent: str) -> RunConfig:
            model = dataclasses.replace(cfg.sections["model"], source=run_ref(parent, FINAL),
                                        label=f"{cfg.model_label()}-merge")
            ev = dataclasses.replace(cfg.sections["eval"], baseline=base_source, models=refs, checkpoints=[])
            return RunConfig(stage="eval", sections={"model": model, "eval": ev, **shared_sections(cfg)},
                             name=cfg.name, parent=parent,
                             description=f"Strategy B comparison of merge run {parent}")

        branch = Branch("compare", "eval", "", "eval")
        if not BranchRunner(self.ctx, [branch], 1, make_config=eval_config, phase="compare").run():
            self.ctx.log("merge: stopped while the comparison ran; resume this run to go on")
            return
        eval_dir = self.root / str(branch.run_id)
        found = read_report(eval_dir)
        if found is None:
            self.ctx.fail(f"merge: the comparison run {branch.run_id} succeeded but wrote no eval_report.json")
        report = found or {}
        meta = read_checkpoint(self.dest).meta.get("merge", {})
        summary = summarise(report, roles, run_id=self.ctx.run_id, method=self.sec.method, density=self.sec.density,
                            weights=meta.get("weights"), sources=[s.label for s in sources], eval_run=branch.run_id,
                            eval_report_md=str(eval_dir / EVAL_REPORT_MD))
        path = write_report(self.ctx.run_dir, summary)
        for label, m in summary["models"].items():
            self.ctx.emit(EventType.COMPARISON, None, model=label, role=m["role"], dimensions_mean=m["dimensions_mean"],
                          elo=m["elo"], win_rate=m["win_rate"])
        self.ctx.log(f"merge: comparison report {path.parent / COMPARISON_MD}")
