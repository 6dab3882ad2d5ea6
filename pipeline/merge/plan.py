"""Runs a merge run starts and waits for: Strategy B's GRPO branches, then the comparison's eval run.

Each branch is a run of its own (stage grpo, ``parent`` = the merge run), so the control centre lists,
charts, stops and resumes it like any other. The merge run records its branches in ``branches.json``
(atomic) as it launches them: a resumed merge run waits for, or resumes, the same runs instead of
training again. Stopping the merge run stops the branches it is waiting for (each saves a checkpoint).
Light at import: the worker calls it, and the preflight reads ``branch_weights``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.atomic import atomic_write_json
from pipeline.config.run import RunConfig
from pipeline.errors import AbaError, ConfigError
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.rewards.weights import parse_weights
from pipeline.runs.layout import BRANCHES_FILE
from pipeline.runs.vocabulary import EventType

if TYPE_CHECKING:
    from pipeline.runs.worker import StageContext

ENDED = ("succeeded", "failed", "oom", "stopped", "lost")


def branch_weights(item: str, key: str = "merge.train") -> str:
    """A branch item → grpo.reward_weights: a dimension name puts weight 1 on it and 0 on the other eight;
    ``equal`` is 1/9 each; anything else is a reward_weights spec, checked as GRPO checks it."""
    item = item.strip()
    if item in DIMENSIONS:
        return ",".join(f"{d}={1 if d == item else 0}" for d in DIMENSIONS)
    if item == "equal":
        return ""
    if "=" not in item:
        raise ConfigError(f"{key}: {item!r} is neither a dimension ({', '.join(DIMENSIONS)}) nor equal nor a "
                          "reward_weights spec like entropy_reduction=1,calibrated_uncertainty=0.5")
    parse_weights(item, key)
    return item


def short_name(item: str) -> str:
    if item in DIMENSIONS:
        return item.split("_")[0]
    return "joint" if item == "equal" else "custom"


@dataclass
class Branch:
    label: str  # unique within the plan: entropy, calibrated, joint …
    spec: str  # as written in merge.train / merge.joint
    weights: str  # grpo.reward_weights
    role: str  # "source" (merged), "joint" (compared only) or "eval" (the comparison run)
    run_id: str | None = None


def plan_branches(sec: Any) -> list[Branch]:
    out: list[Branch] = []
    seen: dict[str, int] = {}
    items = [(s, "source") for s in sec.train] + ([(sec.joint, "joint")] if sec.joint != "off" else [])
    for spec, role in items:
        name = "joint" if role == "joint" else short_name(spec)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name}{seen[name]}"
        out.append(Branch(label, spec, branch_weights(spec, "merge.joint" if role == "joint" else "merge.train"),
                          role))
    return out


def shared_sections(cfg: RunConfig) -> dict[str, Any]:
    """Copies of the sections a child run shares with its merge run (judge, supervisor, slurm)."""
    return {k: dataclasses.replace(v) for k, v in cfg.sections.items() if k in ("judge", "supervisor", "slurm")}


def branch_config(cfg: RunConfig, branch: Branch, parent_id: str) -> RunConfig:
    model = dataclasses.replace(cfg.sections["model"])
    model.label = f"{cfg.model_label()}-{branch.label}"
    grpo = dataclasses.replace(cfg.sections["grpo"], reward_weights=branch.weights)
    sections = {"model": model, "grpo": grpo, **shared_sections(cfg)}
    what = "Strategy A (joint reward)" if branch.role == "joint" else f"Strategy B branch ({branch.spec})"
    return RunConfig(stage="grpo", sections=sections, name=cfg.name, parent=parent_id,
                     description=f"{what} of merge run {parent_id}")


class BranchRunner:
    """Launch the branches (at most ``parallel`` at once), wait for them, resume them after a stop."""

    def __init__(self, ctx: StageContext, branches: list[Branch], parallel: int = 1, poll: float = 1.0,
                 make_config: Callable[[RunConfig, Branch, str], RunConfig] = branch_config,
                 phase: str = "branches") -> None:
        from pipeline.runs.store import RunStore

        self.ctx = ctx
        self.make_config = make_config
        self.phase = phase
        self.branches = branches
        self.parallel = max(1, parallel)
        self.poll = poll
        self.store = RunStore(ctx.run_dir.parent)
        self.path: Path = ctx.run_dir / BRANCHES_FILE
        self.stages: dict[str, str] = {}  # branch label → its run's stage (from its status)
        self._load()

    def _load(self) -> None:
        try:
            known = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        for b in self.branches:
            rid = known.get(b.label, {}).get("run_id") if isinstance(known.get(b.label), dict) else None
            if rid and (self.store.root / rid).is_dir():
                b.run_id = rid

    def _save(self) -> None:
        try:  # other runners of this merge run (training branches, the comparison) keep their entries
            known = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        known.update({b.label: {"run_id": b.run_id, "spec": b.spec, "weights": b.weights, "role": b.role}
                      for b in self.branches})
        atomic_write_json(self.path, known)

    def state(self, b: Branch) -> str:
        from pipeline.runs.status import read_status

        if b.run_id is None:
            return "pending"
        try:
            st = read_status(self.store.root / b.run_id)
        except (OSError, ValueError):
            return "lost"
        self.stages[b.label] = st.stage
        return st.state

    def _start(self, b: Branch) -> None:
        from pipeline.runs import launcher

        st = self.state(b)
        if b.run_id is None:
            b.run_id, _ = launcher.launch(self.store, self.make_config(self.ctx.cfg, b, self.ctx.run_id))
            self._save()
            self.ctx.emit(EventType.BRANCH, None, branch=b.label, run=b.run_id, action="started", weights=b.weights)
        elif st in ("stopped", "failed", "oom", "lost") and self.ctx.resume:
            launcher.resume(self.store, b.run_id)
            self.ctx.emit(EventType.BRANCH, None, branch=b.label, run=b.run_id, action="resumed", after=st)
        what = "the comparison" if b.role == "eval" else b.weights or "equal weights"
        self.ctx.log(f"merge: branch {b.label} → run {b.run_id} ({what})")

    def _stop_active(self) -> None:
        from pipeline.runs import launcher

        for b in self.branches:
            if b.run_id and self.state(b) in ("queued", "running"):
                try:
                    launcher.stop(self.store, b.run_id)
                    self.ctx.log(f"merge: stopping branch {b.label} ({b.run_id}); resume the merge run to go on")
                except AbaError as exc:
                    self.ctx.log(f"merge: branch {b.label}: {exc}")

    def run(self) -> bool:
        """True when every branch succeeded; False when stopped. A failed branch fails the merge run."""
        from pipeline.merge.watch import BranchWatch

        todo = list(self.branches)
        started: set[str] = set()
        done = 0
        watch = BranchWatch(self.ctx, self.phase)  # progress: the branches' own steps, summed
        watch.start()
        while True:
            if self.ctx.stop_requested.is_set():
                self._stop_active()
                return False
            states = {b.label: self.state(b) for b in todo}
            for b in todo:
                st = states[b.label]
                if st == "succeeded" or b.label in started:
                    continue
                # A branch left over from an earlier attempt that is still going: just wait for it.
                if st in ("queued", "running"):
                    started.add(b.label)
                    continue
                active = sum(1 for x in todo if states[x.label] in ("queued", "running"))
                if active >= self.parallel:
                    break
                self._start(b)
                started.add(b.label)
                states[b.label] = "running"
            ended = [b for b in todo if b.label in started and states[b.label] in ENDED]
            for b in ended:
                st = self.state(b)  # fresh: the first read may predate the launch
                if st in ("queued", "running"):
                    continue
                if st != "succeeded":
                    self._stop_active()
                    self.ctx.fail(f"merge: branch {b.label} (run {b.run_id}) ended {st}; the merge run needs it "
                                  f"(see aba status {b.run_id}; resume it, then resume this run)")
            watch.look([(b.label, b.run_id) for b in todo], self.store.root, self.stages)
            done = sum(1 for b in todo if states[b.label] == "succeeded")
            if done == len(todo):
                return True
            time.sleep(self.poll)
