"""Workers' CPU threads by the free cores (pipeline.runs.cpu) and `aba doctor --smoke` leaving no run behind."""

from __future__ import annotations

from pathlib import Path

from pipeline.config.run import build_config
from pipeline.doctor import _smoke
from pipeline.runs import launcher
from pipeline.runs.cpu import free_cores, pick_threads
from pipeline.runs.status import TERMINAL

END = set(TERMINAL) | {"lost"}


def test_free_cores_follow_the_load():
    assert free_cores(2, 0.1) == 2  # a quiet 2-core box: both
    assert free_cores(2, 17.0) == 1  # a busy one: one thread, never zero
    assert free_cores(8, 3.4) == 5
    assert pick_threads(3, 2, 17.0) == (3, "supervisor.threads")  # the config key wins
    n, why = pick_threads(0, 4, 1.2)
    assert n == 3 and "3 of 4 cores free (load average 1.2)" in why


def test_the_worker_sets_its_threads_before_the_stage_runs(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1", "supervisor.threads=3"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    assert "worker: 3 CPU threads (supervisor.threads)" in (path / "stdout.log").read_text()
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    assert "cores free (load average" in (path / "stdout.log").read_text()


def test_doctor_smoke_leaves_no_run_behind_unless_kept(tmp_path: Path):
    runs = tmp_path / "runs"
    quick = build_config("selftest", sets=["selftest.steps=2"])
    check = _smoke(runs, cfg=quick)
    assert check.state == "ok" and "succeeded" in check.detail
    assert not runs.exists() or not any(runs.iterdir())
    bad = _smoke(runs, cfg=build_config("selftest", sets=["selftest.behaviour=crash"]))
    assert bad.state == "fail" and "ValueError: simulated crash" in bad.detail and "--keep" in bad.fix
    assert not runs.exists() or not any(runs.iterdir())
    kept = _smoke(runs, keep=True, cfg=quick)
    assert kept.state == "ok" and "(kept)" in kept.detail
    assert [p.name for p in runs.iterdir()] == [kept.detail.split(":")[0]]
