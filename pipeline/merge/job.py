"""The merge stage's work, in order: train the branches (if any) → merge → compare.

Phases report as ``progress`` events (``phase`` = branches | merge | compare) and ``merge`` /
``comparison`` events; the merged adapter is ``checkpoints/final`` (metadata.json last, naming its
sources), the report ``report/comparison.{md,json}``. A resumed run skips what is complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline.checkpoints.store import read_checkpoint
from pipeline.errors import AbaError
from pipeline.merge.plan import Branch, BranchRunner, plan_branches
from pipeline.merge.report import REPORT_DIR, REPORT_JSON, write_report
from pipeline.merge.sources import AdapterSource, check_compatible, check_settings, resolve_source

FINAL = "final"


class MergeJob:
    def __init__(self, ctx: Any) -> None:
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
            self._merge(sources, weights)
        if self.sec.compare and not self.ctx.stop_requested.is_set():
            self._compare(sources)

    def _source_refs(self) -> list[tuple[str, str]]:
        """(label, ref) of every adapter merged: the trained branches' best, then merge.sources."""
        out = [(b.label, f"run:{b.run_id}@best") for b in self.branches if b.role == "source"]
        return out + [("", ref) for ref in self.sec.sources]

    def _sources(self) -> list[AdapterSource]:
        return [resolve_source(ref, self.root) for _label, ref in self._source_refs()]

    def _merge(self, sources: list[AdapterSource], weights: list[float]) -> None:
        from pipeline.merge.combine import merge_to_checkpoint
        from pipeline.models.resolve import resolve_model

        self.ctx.emit("progress", 0, total_steps=1, phase="merge")
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
        self.ctx.emit("checkpoint", 1, name=FINAL)
        self.ctx.emit("merge", 1, method=self.sec.method, sources=[s.label for s in sources], weights=weights,
                      density=self.sec.density, r=written.get("r"), seconds=round(time.time() - t0, 2))
        self.ctx.emit("progress", 1, total_steps=1, phase="merge")
        self.ctx.log(f"merge: {self.sec.method} of {', '.join(s.label for s in sources)} → {self.dest}")

    def _entrants(self, sources: list[AdapterSource]) -> list[Any]:
        from pipeline.merge.compare import BASE, Entrant

        labels = [label or s.label for (label, _ref), s in zip(self._source_refs(), sources, strict=True)]
        out = [Entrant("merge", "merged", self.dest, f"run:{self.ctx.run_id}@{FINAL}")]
        out += [Entrant(lab, "source", s.path, s.ref) for lab, s in zip(labels, sources, strict=True)]
        for b in self.branches:
            if b.role == "joint":
                out.append(Entrant(b.label, "joint", resolve_source(f"run:{b.run_id}@best", self.root).path,
                                   f"run:{b.run_id}@best"))
        for ref in self.sec.compare_with:
            other = resolve_source(ref, self.root, "merge.compare_with")
            out.append(Entrant(other.label, "other", other.path, ref))
        out.append(Entrant(BASE, "base", None, sources[0].base_source))
        return out

    def _compare(self, sources: list[AdapterSource]) -> None:
        from pipeline.data.loaders import load_prompts
        from pipeline.merge.compare import build_report, generate, score_answers
        from pipeline.models.resolve import resolve_model
        from pipeline.rewards.scorer import get_scorer

        if self.ctx.resume and (self.ctx.run_dir / REPORT_DIR / REPORT_JSON).is_file():
            return
        grpo = self.ctx.cfg.sections.get("grpo")
        data = grpo.data if grpo is not None else "builtin:epistemic-stance-25"
        scorer_name = grpo.scorer if grpo is not None else "rubric"
        notes: list[str] = []
        try:
            scorer = get_scorer(scorer_name)
        except AbaError as exc:
            notes.append(f"scorer {scorer_name} unavailable ({exc}); scored with the rubric scorer")
            scorer_name, scorer = "rubric", get_scorer("rubric")
        if scorer_name == "rubric":
            notes.append("Scores are the local rubric heuristics (pipeline/rewards/rubric.py), not an LLM judge: "
                         "read them as a smoke comparison; the prompts may overlap the training prompts.")
        try:
            entrants = self._entrants(sources)
        except AbaError as exc:
            self.ctx.fail(str(exc))
        prompts = [r["prompt"] for r in load_prompts(data).rows[: self.sec.compare_prompts]]
        self.ctx.emit("progress", 0, total_steps=len(entrants), phase="compare")
        t0 = time.time()
        base = resolve_model(sources[0].base_source)
        answers = generate(base, entrants, prompts, self.sec.compare_tokens, self.dest, self.ctx.stop_requested)
        if len(answers) < len(entrants):
            self.ctx.log("merge: stopped during the comparison; resume to write the report")
            return
        scores = score_answers(scorer, prompts, answers)
        report = build_report(
            scores, answers, prompts, run_id=self.ctx.run_id, method=self.sec.method, density=self.sec.density,
            weights=read_checkpoint(self.dest).meta.get("merge", {}).get("weights"),
            sources=[s.label for s in sources], roles={e.label: e.role for e in entrants},
            refs={e.label: e.ref for e in entrants}, scorer=scorer_name, data=data, prompts=len(prompts),
            max_new_tokens=self.sec.compare_tokens, seconds=round(time.time() - t0, 1), notes=notes)
        path = write_report(self.ctx.run_dir, report)
        for e in entrants:
            self.ctx.emit("comparison", None, model=e.label, role=e.role, overall=report["means"][e.label]["overall"],
                          strength=report["tournament"]["strength"].get(e.label))
        self.ctx.emit("progress", len(entrants), total_steps=len(entrants), phase="compare")
        self.ctx.log(f"merge: comparison report {path.parent / 'comparison.md'}")
