"""Strategy B's branch runner on real runs (supervisor + worker processes), with the selftest stage in
place of GRPO so it takes seconds: start, wait, fail on a failed branch, stop, resume the same runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config.run import RunConfig, build_config
from pipeline.config.schema import SelftestSection, SupervisorSection
from pipeline.merge.plan import Branch, BranchRunner, plan_branches
from pipeline.runs.launcher import wait_for
from pipeline.runs.layout import BRANCHES_FILE
from pipeline.runs.status import read_status
from pipeline.runs.store import RunStore, load_run_config
from pipeline.runs.worker import StageContext, StageFailed


def selftest_branches(behaviour: dict[str, str]) -> Callable[[RunConfig, Branch, str], RunConfig]:
    def make(cfg: RunConfig, branch: Branch, parent: str) -> RunConfig:
        sec = SelftestSection(behaviour=behaviour.get(branch.label, "succeed"), steps=2, step_seconds=0.01)
        return RunConfig(stage="selftest", sections={"selftest": sec, "supervisor": SupervisorSection()},
                         name=cfg.name, parent=parent)
    return make


def merge_ctx(store: RunStore, resume: bool = False, path: Path | None = None) -> StageContext:
    if path is None:
        cfg = build_config("merge", sets=['merge.train=["entropy_reduction", "calibrated_uncertainty"]'])
        _rid, path = store.create_run(cfg)
    return StageContext(path, load_run_config(path), resume=resume)


def runner(ctx: StageContext, behaviour: dict[str, str]) -> BranchRunner:
    return BranchRunner(ctx, plan_branches(ctx.cfg.section("merge")), parallel=2, poll=0.1,
                        make_config=selftest_branches(behaviour))


def branch_ids(ctx: StageContext) -> dict[str, str]:
    return {k: v["run_id"] for k, v in json.loads((ctx.run_dir / BRANCHES_FILE).read_text()).items()}


def test_branches_run_as_child_runs_and_a_failed_one_fails_the_merge_until_resumed(store: RunStore) -> None:
    ctx = merge_ctx(store)
    with pytest.raises(StageFailed, match=r"branch calibrated \(run .*\) ended failed"):
        runner(ctx, {"calibrated": "crash"}).run()
    ids = branch_ids(ctx)
    assert set(ids) == {"entropy", "calibrated"}
    assert wait_for(store, ids["entropy"], {"succeeded"}, timeout=60) == "succeeded"
    for rid in ids.values():
        assert read_status(store.root / rid).parent == ctx.run_id
    # The operator fixes the failed branch and resumes the merge run: the same run is resumed, none is added.
    child = store.root / ids["calibrated"] / "run.toml"
    child.write_text(child.read_text().replace('behaviour = "crash"', 'behaviour = "succeed"'))
    again = merge_ctx(store, resume=True, path=ctx.run_dir)
    assert runner(again, {}).run() is True
    assert branch_ids(again) == ids
    assert read_status(store.root / ids["calibrated"]).attempt == 2
    assert len(store.run_ids()) == 3  # the merge run and its two branches


def test_stopping_the_merge_run_stops_the_branch_it_waits_for(store: RunStore) -> None:
    ctx = merge_ctx(store)
    r = runner(ctx, {"entropy": "sleep", "calibrated": "sleep"})

    def stop_when_running() -> None:
        try:  # stop once both branch runs are running; whatever happens, stop in the end
            while not (ctx.run_dir / BRANCHES_FILE).exists() or None in branch_ids(ctx).values():
                if ctx.stop_requested.wait(0.1):
                    return
            for rid in branch_ids(ctx).values():
                wait_for(store, rid, {"running"}, timeout=60)
        finally:
            ctx.stop_requested.set()

    t = threading.Thread(target=stop_when_running)
    t.start()
    try:
        assert r.run() is False
    finally:
        ctx.stop_requested.set()
        t.join()
    for rid in branch_ids(ctx).values():
        assert wait_for(store, rid, {"stopped", "succeeded", "failed"}, timeout=60) == "stopped"
