"""Runs through a real Slurm on loopback (tests/support/slurm.py): queued → running → succeeded in `aba ps`,
stop with a resumable checkpoint, scancel, a supervisor killed under Slurm, and `after` through afterok.

Skips with the exact reason when the daemons cannot start here (docs/cluster.md says how to run it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.checkpoints.store import list_checkpoints
from pipeline.config.run import build_config
from pipeline.runs.launcher import launch, resume, stop, wait_for
from pipeline.runs.status import TERMINAL, read_status_raw
from pipeline.runs.store import RunStore
from tests.support.cli import aba
from tests.support.slurm import LocalSlurm

pytestmark = pytest.mark.slow
ENDED = set(TERMINAL) | {"lost"}
PAIRS = [
    {"prompt": "What is 2+2?", "chosen": "4.", "rejected": "Maybe 5."},
    {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "I am not sure."},
]
FAST = ["model.lora_r=4", "model.lora_alpha=8", "supervisor.launcher=slurm"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    sl = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    why = sl.start()
    if why:
        pytest.skip(f"no loopback Slurm on this machine: {why}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(sl.conf)  # the launcher (here) and `aba` (children) find this cluster
    try:
        yield sl
    finally:
        sl.stop()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def ps(store: RunStore) -> dict[str, dict]:
    out = aba("ps", "--json", runs_dir=store.root)
    assert out.returncode == 0, out.stderr
    return {r["run_id"]: r for r in json.loads(out.stdout)}


def job(path: Path) -> str:
    jid = read_status_raw(path).job_id
    assert jid
    return jid


def cancel_waiters(job_id: str) -> list[int]:
    """Processes still waiting to scancel this job."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace") if entry.name.isdigit() else ""
        except OSError:
            continue
        if cmd.startswith("bash") and f"scancel {job_id}" in cmd:
            found.append(int(entry.name))
    return found


def wait_metric(path: Path, step: int, timeout: float = 900) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        ev = path / "events.jsonl"
        if ev.exists() and any(json.loads(ln).get("type") == "metrics" and json.loads(ln).get("step", 0) >= step
                               for ln in ev.read_text().splitlines() if ln.strip()):
            return
        time.sleep(0.2)
    raise AssertionError(f"step {step} never logged: {(path / 'stderr.log').read_text()[-2000:]}")


def test_slurm_queue_run_stop_cancel_and_lost_supervisor(cluster: LocalSlurm, store: RunStore,
                                                         tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    dpo = [*FAST, f"dpo.data={data}", "dpo.max_length=48", "dpo.warmup_steps=0"]
    # 1: held by Slurm at first, so `aba ps` must show it queued with Slurm's pending reason.
    r1, p1 = launch(store, build_config("dpo", [], [*dpo, "dpo.max_steps=1", 'slurm.extra=["--hold"]']))
    # 2: long enough to be stopped mid-training.
    r2, p2 = launch(store, build_config("dpo", [], [*dpo, "dpo.max_steps=400", "dpo.checkpoint_every=0",
                                                   "supervisor.grace_seconds=900"]))  # a step can be slow here
    row = ps(store)[r1]
    assert row["state"] == "queued" and "JobHeldUser" in row["reason"], row
    assert row["launcher"] == "slurm" and row["job_id"] == job(p1)
    assert "slurm:" + job(p1) in aba("ps", runs_dir=store.root).stdout  # where it lives, in the table
    subprocess.run(["scontrol", "release", job(p1)], check=True, capture_output=True)

    seen = ["queued"]
    deadline = time.time() + 900
    while time.time() < deadline and seen[-1] not in ENDED:
        state = ps(store)[r1]["state"]
        if state != seen[-1]:
            seen.append(state)
        time.sleep(0.3)
    assert seen == ["queued", "running", "succeeded"], (seen, (p1 / "stderr.log").read_text()[-2000:])
    assert ps(store)[r1]["nodes"] == cluster.host

    wait_metric(p2, 1)
    stop(store, r2)  # scancel --signal=TERM --batch: the supervisor stops the worker after a checkpoint
    assert wait_for(store, r2, ENDED, timeout=600) == "stopped", (p2 / "stderr.log").read_text()[-2000:]
    ckpts = [c for c in list_checkpoints(p2) if c.name.startswith("checkpoint-")]
    assert len(ckpts) == 1 and ckpts[0].complete and ckpts[0].meta["resumable"] is True
    assert ckpts[0].meta["kind"] == "stop"
    deadline = time.time() + 60
    while cancel_waiters(job(p2)) and time.time() < deadline:  # `aba stop`'s cancel-after-grace watcher
        time.sleep(0.5)
    assert cancel_waiters(job(p2)) == []  # it leaves once the job is gone, long before the grace ends

    # 3: cancelled with scancel behind aba's back; 4: its supervisor and worker killed (a node that dies), so
    # only Slurm can tell (a worker whose supervisor alone is killed stops and records it: test_one_worker.py).
    sleepy = ["supervisor.launcher=slurm", "selftest.steps=2000", "selftest.step_seconds=0.1"]
    r3, p3 = launch(store, build_config("selftest", [], sleepy))
    r4, p4 = launch(store, build_config("selftest", [], sleepy))
    wait_metric(p3, 2)
    wait_metric(p4, 2)
    subprocess.run(["scancel", job(p3)], check=True, capture_output=True)
    st4 = read_status_raw(p4)
    assert st4.pid and st4.supervisor_pid
    os.kill(st4.pid, signal.SIGSTOP)  # so that it cannot record an end before it dies too
    os.kill(st4.supervisor_pid, signal.SIGKILL)
    os.killpg(st4.pid, signal.SIGKILL)
    assert wait_for(store, r3, ENDED, timeout=60) == "stopped"
    assert "cancelled" in (ps(store)[r3]["reason"] or "")
    assert wait_for(store, r4, ENDED, timeout=60) == "failed"
    reason = ps(store)[r4]["reason"]
    assert f"Slurm job {job(p4)} ended" in reason and "without the supervisor recording an end" in reason
    assert read_status_raw(p4).state == "failed"  # recorded: Slurm forgets jobs, the run folder does not

    # aba resume submits a new job that continues the cancelled run; aba stop then stops that job.
    old = job(p3)
    resume(store, r3)
    assert job(p3) != old and read_status_raw(p3).attempt == 2
    assert wait_for(store, r3, {"running"}, timeout=120) == "running"
    stop(store, r3)
    assert wait_for(store, r3, ENDED, timeout=60) == "stopped"
    assert "slurm-job.sh" in os.listdir(p3) and "--resume" in (p3 / "slurm-job.sh").read_text()


def test_slurm_after_uses_afterok_and_a_failed_dependency_fails(cluster: LocalSlurm, store: RunStore) -> None:
    base = ["supervisor.launcher=slurm", "selftest.steps=3"]
    ok, _ = launch(store, build_config("selftest", [], [*base, "selftest.steps=10", "selftest.step_seconds=0.5"]))
    bad, _ = launch(store, build_config("selftest", [], [*base, "selftest.behaviour=crash"]))
    cfg_ok = build_config("selftest", [], base)
    cfg_ok.after = [ok]
    after_ok, p_ok = launch(store, cfg_ok)
    cfg_bad = build_config("selftest", [], base)
    cfg_bad.after = [bad]
    after_bad, _ = launch(store, cfg_bad)
    assert ps(store)[after_ok]["reason"] == f"Slurm job {job(p_ok)} pending: Dependency"
    assert wait_for(store, after_ok, ENDED, timeout=120) == "succeeded"
    assert read_status_raw(store.get(ok).path).ended_at <= read_status_raw(p_ok).started_at
    assert wait_for(store, after_bad, ENDED, timeout=120) == "failed"
    assert bad in (ps(store)[after_bad]["reason"] or "")


def _processes_of(run_dir: Path) -> list[str]:
    """Command lines of the supervisor and worker processes of this run still alive."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and str(run_dir) in cmd and "pipeline." in cmd:
            found.append(cmd.strip())
    return found


def _why(run_dir: Path) -> str:
    """Everything that says why a run ended: its status reason and the tails of its logs."""
    parts = [f"reason: {read_status_raw(run_dir).reason}"]
    for f in sorted(run_dir.glob("*.log")) + sorted(run_dir.glob("*.out")):
        parts.append(f"--- {f.name}\n{f.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)


def test_slurm_time_limit_signal_checkpoints_and_requeues(cluster: LocalSlurm, store: RunStore) -> None:
    rid, p = launch(store, build_config("selftest", [], ["supervisor.launcher=slurm", "slurm.requeue=true",
                                                         "selftest.steps=40", "selftest.step_seconds=0.1"]))
    wait_metric(p, 3)
    jid = job(p)
    # What `sbatch --signal=B:TERM@N` does before the time limit: SIGTERM to the batch shell (the
    # supervisor) alone, the job still RUNNING, no stop.json from aba.
    subprocess.run(["scancel", "--signal=TERM", "--batch", jid], check=True, capture_output=True)
    deadline = time.time() + 120
    while "pending: BeginTime" not in (ps(store)[rid]["reason"] or ""):
        assert time.time() < deadline, ps(store)[rid]
        time.sleep(0.3)
    assert ps(store)[rid]["state"] == "queued" and read_status_raw(p).attempt == 2
    # Slurm holds a requeued job back for a while (BeginTime), time enough for the first instance to leave;
    # wait for that here (its supervisor gone), then let the job start now.
    deadline = time.time() + 120
    while _processes_of(p):
        assert time.time() < deadline, f"the first instance of job {jid} never left: {_processes_of(p)}"
        time.sleep(0.3)
    # slurmd refuses a credential created in the same second it revoked the first instance's ("Job credential
    # revoked": whole-second times), which Slurm's own BeginTime hold always outlasts.
    time.sleep(2)
    subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], check=True, capture_output=True)
    assert wait_for(store, rid, ENDED, timeout=120) == "succeeded", _why(p)
    st = read_status_raw(p)
    assert st.job_id == jid and st.attempt == 2
    steps = [json.loads(ln)["step"] for ln in (p / "events.jsonl").read_text().splitlines()
             if json.loads(ln).get("type") == "metrics"]
    assert steps == list(range(1, 41))  # the requeued job resumed after the checkpoint: no step twice
