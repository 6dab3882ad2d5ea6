"""Workers' CPU threads (pipeline.runs.cpu): every allowed core by default, the operator's count, the
adaptive policy's decisions from measured CPU use, and `aba doctor --smoke` leaving no run behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.doctor import _smoke
from pipeline.runs import cpu, launcher
from pipeline.runs.cpu import AdaptiveThreads, Allowed, ThreadPlan, cgroup_quota, pick_threads, threads_for
from pipeline.runs.status import TERMINAL

END = set(TERMINAL) | {"lost"}


def test_allowed_cores_are_the_affinity_capped_by_the_quota():
    assert Allowed(8).cores == 8 and "no cgroup quota" in Allowed(8).why
    assert Allowed(8, 2.5).cores == 3  # rounded up, as the JVM and .NET do
    assert "cgroup quota 2.5 CPUs of 8" in Allowed(8, 2.5).why
    assert Allowed(2, 4.0).cores == 2  # a quota above the mask does not add cores
    assert Allowed(4, 0.2).cores == 1


def _fake_cgroup(tmp: Path, proc_cgroup: str, mountinfo: str = "") -> tuple[Path, Path]:
    proc = tmp / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(proc_cgroup)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    return tmp / "cg", proc


def test_cgroup_v2_quota_is_the_tightest_along_the_path(tmp_path: Path):
    root, proc = _fake_cgroup(tmp_path, "0::/user.slice/job\n")
    (root / "user.slice" / "job").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "user.slice" / "job" / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(root, proc) is None
    (root / "user.slice" / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(root, proc) == pytest.approx(1.5)
    (root / "user.slice" / "job" / "cpu.max").write_text("50000 100000\n")
    assert cgroup_quota(root, proc) == pytest.approx(0.5)


def test_cgroup_v1_quota_through_the_mount_a_container_sees(tmp_path: Path):
    mountinfo = ("30 25 0:26 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup "
                 "rw,cpu,cpuacct\n")
    root, proc = _fake_cgroup(tmp_path, "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n", mountinfo)
    # The container's cgroup is the mount's root: its files sit at the mount point itself.
    mount = tmp_path / "mnt"
    mount.mkdir()
    mountinfo = mountinfo.replace("/sys/fs/cgroup/cpu,cpuacct", str(mount))
    (proc / "self" / "mountinfo").write_text(mountinfo)
    (mount / "cpu.cfs_quota_us").write_text("-1\n")
    (mount / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(root, proc) is None
    (mount / "cpu.cfs_quota_us").write_text("200000\n")
    assert cgroup_quota(root, proc) == pytest.approx(2.0)


def test_this_machine_reads_without_error():
    a = cpu.allowed()
    assert 1 <= a.cores <= (os.cpu_count() or 1)
    assert cpu.usable_cores() == a.cores


def test_the_default_is_every_allowed_core_whatever_the_load():
    n, why = pick_threads(0, "all", Allowed(2))
    assert n == 2 and why.startswith("all 2 allowed cores: 2 in the affinity mask")
    assert pick_threads(3, "all", Allowed(2))[0] == 3  # the operator's count wins, even above the cores
    assert "supervisor.threads = 3" in pick_threads(3, "adaptive", Allowed(2))[1]
    n, why = pick_threads(0, "all", Allowed(8), ranks=4)  # DDP ranks on one machine share the cores
    assert n == 2 and "4 ranks" in why
    assert pick_threads(0, "adaptive", Allowed(4, 3.0))[0] == 3


def test_threads_fit_beside_the_measured_use_of_others():
    assert threads_for(0.1, 2) == 2
    assert threads_for(1.0, 2) == 1
    assert threads_for(1.8, 2) == 1  # never zero
    assert threads_for(3.4, 8) == 5


class FakeCpu:
    """/proc/stat busy seconds and our own CPU seconds as a test sets them, on a fake clock."""

    def __init__(self) -> None:
        self.now = self.busy = self.own = 0.0

    def tick(self, seconds: float, others: float, ours: float) -> None:
        self.now += seconds
        self.busy += seconds * (others + ours)
        self.own += seconds * ours


def test_adaptive_lowers_and_raises_after_a_settled_change(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(cpu, "apply_threads", lambda n: applied.append(n))
    applied: list[int] = []
    f = FakeCpu()
    a = AdaptiveThreads(2, 2, interval=10, settle=2, sample=lambda: (f.busy, f.own), clock=lambda: f.now)
    f.tick(10, others=0.0, ours=2.0)  # our own two threads do not count against us
    assert a.observe() is None and a.current == 2
    f.tick(10, others=1.2, ours=0.8)
    assert a.observe() is None  # one busy window is not enough
    f.tick(10, others=0.1, ours=1.9)
    assert a.observe() is None  # …and a quiet one resets the streak
    for _ in range(2):
        f.tick(10, others=1.5, ours=0.5)
        got = a.observe()
    assert got is not None and got[0] == 1 and "other processes used 1.5 of 2" in got[1]
    logged: list[str] = []
    assert a.apply_pending(logged.append) == 1 and applied == [1]
    assert logged == [f"worker: now 1 CPU thread ({got[1]})"]
    assert a.apply_pending(logged.append) is None  # applied once
    for _ in range(2):
        f.tick(10, others=0.2, ours=1.0)
        got = a.observe()
    assert got is not None and got[0] == 2 and a.apply_pending(logged.append) == 2 and applied == [1, 2]


def test_the_plan_applies_only_on_the_stage_thread(monkeypatch: pytest.MonkeyPatch):
    """OpenMP keeps the thread count per thread: a change made on the monitor thread would not reach the
    stage's parallel regions, so the plan applies it on the main thread only."""
    applied: list[int] = []
    monkeypatch.setattr(cpu, "apply_threads", lambda n: applied.append(n))
    plan = ThreadPlan(0, "adaptive", Allowed(2))
    assert plan.adaptive is not None
    plan.adaptive._pending = (1, "test")
    t = threading.Thread(target=plan.apply_pending)
    t.start()
    t.join()
    assert applied == []
    plan.apply_pending()
    assert applied == [1]
    assert ThreadPlan(0, "all", Allowed(2)).adaptive is None
    assert ThreadPlan(2, "adaptive", Allowed(2)).adaptive is None  # a fixed count stays fixed


def test_the_real_sampler_counts_other_processes_and_not_ours():
    a = AdaptiveThreads(2, 2)
    busy0, own0 = a._sample()
    children0 = sum(os.times()[2:4])  # every child this process has waited for so far (a whole suite's)
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"])
    end = time.process_time() + 0.3
    while time.process_time() < end:  # burn some CPU ourselves
        pass
    child.wait()
    busy1, own1 = a._sample()
    child_cpu = sum(os.times()[2:4]) - children0  # this child's user + system
    own = own1 - own0
    assert own >= 0.25
    others = (busy1 - busy0) - own
    assert others >= child_cpu - 0.1, (busy1 - busy0, own, child_cpu)


def test_the_worker_says_how_many_threads_and_why(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1", "supervisor.threads=3"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    assert "worker: 3 CPU threads (supervisor.threads = 3;" in (path / "stdout.log").read_text()
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    n = cpu.usable_cores()
    assert f"CPU thread{'s' if n > 1 else ''} (all {n} allowed cores: " in (path / "stdout.log").read_text()
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1",
                                                                          'supervisor.threads_policy="adaptive"']))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    assert "supervisor.threads_policy = adaptive lowers it while" in (path / "stdout.log").read_text()


def test_a_bad_policy_is_refused_naming_the_key():
    with pytest.raises(Exception, match="threads_policy"):
        build_config("selftest", sets=['supervisor.threads_policy="half"'])


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
