"""The detached supervisor: how runs end, and that they outlive whoever launched them."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from pipeline.config.run import build_config
from pipeline.runs import launcher
from pipeline.runs.events import iter_events
from pipeline.runs.procinfo import alive
from pipeline.runs.status import TERMINAL, read_status, read_status_raw
from pipeline.runs.supervisor import worker_command
from tests.support.cli import aba

END = set(TERMINAL) | {"lost"}


def start(store, *sets: str):
    cfg = build_config("selftest", sets=list(sets))
    run_id, path = launcher.launch(store, cfg)
    return run_id, path


def wait_running(path, timeout: float = 30.0):
    """Until the worker is in its loop (its first metrics event), not merely spawned."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = read_status_raw(path)
        if st.state == "running" and st.pid and (path / "events.jsonl").exists() and any(
            e["type"] == "metrics" for e in events(path)
        ):
            return st
        time.sleep(0.05)
    raise AssertionError(f"run never started: {read_status_raw(path)}")


def events(path) -> list[dict]:
    return [e for _o, e in iter_events(path / "events.jsonl")]


def test_success_is_recorded(store):
    run_id, path = start(store, "selftest.steps=3")
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    st = read_status(path)
    assert st.exit_code == 0 and st.signal is None and st.ended_at >= st.started_at
    steps = [e["step"] for e in events(path) if e["type"] == "metrics"]
    assert steps == [1, 2, 3]


def test_simulated_cuda_oom_is_classified_oom(store):
    run_id, path = start(store, "selftest.behaviour=cuda_oom")
    assert launcher.wait_for(store, run_id, END) == "oom"
    st = read_status(path)
    assert st.exit_code == 1 and "CUDA out of memory" in st.reason


def test_host_memory_error_is_oom(store):
    run_id, path = start(store, "selftest.behaviour=memory_error")
    assert launcher.wait_for(store, run_id, END) == "oom"
    assert "MemoryError" in read_status(path).reason


def test_crash_is_failed_with_last_error_line(store):
    run_id, path = start(store, "selftest.behaviour=crash")
    assert launcher.wait_for(store, run_id, END) == "failed"
    st = read_status(path)
    assert st.exit_code == 1
    assert st.reason.startswith("ValueError: simulated crash")


def test_sigkill_of_worker_is_failed_with_signal_9(store):
    run_id, path = start(store, "selftest.behaviour=sleep")
    st = wait_running(path)
    os.kill(st.pid, signal.SIGKILL)
    assert launcher.wait_for(store, run_id, END) == "failed"
    st = read_status(path)
    assert st.signal == 9 and st.exit_code is None
    assert "SIGKILL" in st.reason


def test_stop_saves_checkpoint_and_ends_stopped(store):
    run_id, path = start(store, "selftest.behaviour=sleep")
    wait_running(path)
    launcher.stop(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "stopped"
    st = read_status(path)
    assert st.exit_code == 0 and st.stop_requested
    assert (path / "checkpoints" / "checkpoint-000001" / "metadata.json").exists()


def test_stop_escalates_to_sigkill_after_grace(store):
    # A worker that ignores SIGTERM (blocked in C code, say) is killed once the grace period ends.
    run_id, path = start(store, "selftest.behaviour=sleep", "supervisor.grace_seconds=0.5")
    st = wait_running(path)
    os.kill(st.pid, signal.SIGSTOP)  # a stopped process cannot handle SIGTERM
    t0 = time.time()
    launcher.stop(store, run_id)
    assert launcher.wait_for(store, run_id, END, timeout=20) == "stopped"
    assert time.time() - t0 < 10
    st = read_status(path)
    assert st.signal == 9 and "grace" in st.reason


def test_stop_of_a_finished_run_is_refused(store):
    run_id, _ = start(store, "selftest.steps=1")
    launcher.wait_for(store, run_id, END)
    with pytest.raises(Exception, match="not running"):
        launcher.stop(store, run_id)


def test_run_outlives_the_launching_process_and_its_end_is_recorded(store):
    proc = aba("run", "selftest", "--set", "selftest.behaviour=sleep", runs_dir=store.root)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    path = store.path(run_id)
    wait_running(path)  # the `aba run` process has exited by now
    ps = json.loads(aba("ps", "--json", runs_dir=store.root).stdout)
    assert [(r["run_id"], r["state"]) for r in ps] == [(run_id, "running")]
    st = read_status_raw(path)
    # Its own session: a hang-up of our terminal or SSH does not reach it.
    assert os.getsid(st.supervisor_pid) != os.getsid(0)
    assert aba("stop", run_id, runs_dir=store.root).returncode == 0
    assert launcher.wait_for(store, run_id, END) == "stopped"


def test_kill_9_of_supervisor_and_worker_shows_lost(store):
    _run_id, path = start(store, "selftest.behaviour=sleep")
    st = wait_running(path)
    os.kill(st.pid, signal.SIGSTOP)  # kill -9 of both, as a reboot does: the worker cannot record an end
    os.kill(st.supervisor_pid, signal.SIGKILL)
    os.killpg(st.pid, signal.SIGKILL)
    deadline = time.time() + 30
    while (alive(st.supervisor_pid, st.supervisor_start) or alive(st.pid, st.pid_start)) and time.time() < deadline:
        time.sleep(0.05)
    ps = json.loads(aba("ps", "--json", runs_dir=store.root).stdout)
    assert ps[0]["state"] == "lost"
    assert "supervisor" in ps[0]["reason"]


def test_oom_retry_halves_batch_and_records_attempts(store):
    run_id, path = start(store, "selftest.behaviour=oom", "selftest.oom_above_batch=2",
                         "supervisor.oom_retry=halve", "supervisor.max_attempts=3")
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    st = read_status(path)
    assert st.attempt == 3
    attempts = [e for e in events(path) if e["type"] == "attempt"]
    assert [a["attempt"] for a in attempts] == [2, 3]
    assert "batch_size 8→4" in attempts[0]["change"] and "batch_size 4→2" in attempts[1]["change"]
    assert "batch_size = 2" in (path / "run.toml").read_text()


def test_oom_retry_never_publishes_an_ended_state_between_attempts(store):
    _run_id, path = start(store, "selftest.behaviour=oom", "selftest.oom_above_batch=1",
                          "supervisor.oom_retry=halve", "supervisor.max_attempts=4")
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        st = read_status_raw(path)
        seen.append((st.attempt, st.state))
        if st.state in END and st.attempt == 4:
            break
    ended_early = [s for s in seen if s[1] in END and s[0] < 4]
    assert ended_early == [], ended_early[:3]
    assert read_status(path).state == "succeeded"


def test_oom_retry_gives_up_after_max_attempts(store):
    run_id, path = start(store, "selftest.behaviour=oom", "supervisor.oom_retry=halve",
                         "supervisor.max_attempts=2")
    assert launcher.wait_for(store, run_id, END) == "oom"
    assert read_status(path).attempt == 2


def test_resume_continues_without_duplicate_steps(store):
    run_id, path = start(store, "selftest.behaviour=sleep", "selftest.steps=4")
    wait_running(path)
    launcher.stop(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "stopped"
    # The same run.toml, relaunched: the stage picks up after its last step.
    toml = (path / "run.toml").read_text().replace('behaviour = "sleep"', 'behaviour = "succeed"')
    (path / "run.toml").write_text(toml)
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    steps = [e["step"] for e in events(path) if e["type"] == "metrics"]
    assert steps == [1, 2, 3, 4]
    assert read_status(path).attempt == 2


def test_chain_starts_the_next_stage_linked_to_its_parent(store, tmp_path):
    cfg_file = tmp_path / "chain.toml"
    cfg_file.write_text('stage = "selftest"\nthen = ["selftest"]\n[selftest]\nsteps = 2\n')
    cfg = build_config(files=[cfg_file])
    run_id, path = launcher.launch(store, cfg)
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    chain = [e for e in events(path) if e["type"] == "chain"]
    assert chain, events(path)
    child = chain[0]["next_run"]
    assert launcher.wait_for(store, child, END) == "succeeded"
    assert read_status(store.path(child)).parent == run_id


def test_multi_gpu_worker_goes_through_accelerate(tmp_path):
    cfg = build_config("dpo", sets=["supervisor.gpus=4"])
    cmd = worker_command(cfg, tmp_path, resume=False, attempt=1)
    assert cmd[1:] == ["-m", "accelerate.commands.launch", "--num_processes", "4", "--multi_gpu",
                       "-m", "pipeline.runs.worker", str(tmp_path), "--attempt", "1"]
    cfg = build_config("dpo", sets=["supervisor.gpus=2", f"supervisor.accelerate_config={tmp_path}/ds.yaml"])
    cmd = worker_command(cfg, tmp_path, resume=True, attempt=2)
    assert "--config_file" in cmd and cmd[-1] == "--resume"
    assert cmd[cmd.index("-m", 3) + 1] == "pipeline.runs.worker"
    single = worker_command(build_config("dpo"), tmp_path, resume=False, attempt=1)
    assert single[1:4] == ["-P", "-m", "pipeline.runs.worker"]  # -P: no cwd on sys.path
