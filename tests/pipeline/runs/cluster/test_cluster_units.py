"""The cluster pieces that need no Slurm: job script and multi-node command, Slurm-state mapping, the
ranks' agreement without a process group, `after` in config, and local `--after` through real supervisors."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError, RunNotFound
from pipeline.monitor.runs_model import RunsModel
from pipeline.runs.cluster import jobside, ranks, slurm
from pipeline.runs.cluster.state import classify_job, waiting_for, where
from pipeline.runs.launcher import launch, wait_for
from pipeline.runs.status import TERMINAL, Status, read_status, read_status_raw, write_status
from pipeline.runs.store import RunStore
from tests.support.cli import aba

ENDED = set(TERMINAL) | {"lost"}


def test_job_script_carries_the_sections_options_and_resumes_when_requeued(tmp_path: Path) -> None:
    cfg = build_config("selftest", [], ["supervisor.launcher=slurm", "slurm.partition=gpu", "slurm.nodes=2",
                                        "slurm.gpus_per_node=4", "slurm.mem=64G", "slurm.time=01:00:00",
                                        "slurm.account=ml", "slurm.qos=high", "slurm.signal_before=300",
                                        "slurm.requeue=true", 'slurm.extra=["--constraint=a100"]'])
    text = slurm.job_script(cfg.sections["slurm"], "r1", tmp_path, resume=False)
    for opt in ("--partition=gpu", "--nodes=2", "--gpus-per-node=4", "--mem=64G", "--time=01:00:00",
                "--account=ml", "--qos=high", "--signal=B:TERM@300", "--requeue", "--constraint=a100",
                f"--output={tmp_path}/slurm-%j.out"):
        assert f"#SBATCH {opt}\n" in text, opt
    assert 'SLURM_RESTART_COUNT:-0}" -gt 0 ]; then resume=--resume' in text
    assert text.rstrip().endswith(f"-P -m pipeline.runs.supervisor {tmp_path} --foreground $resume")
    root = Path(__file__).resolve().parents[4]  # the package root, on PYTHONPATH as -P leaves the cwd out
    assert f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}\n" in text
    assert "resume=--resume\n" in slurm.job_script(cfg.sections["slurm"], "r1", tmp_path, resume=True)


def test_multinode_command_runs_accelerate_on_every_node_from_the_slurm_environment() -> None:
    cfg = build_config("dpo", [], ["supervisor.launcher=slurm", "slurm.nodes=3", "slurm.gpus_per_node=2"])
    assert jobside.multinode_command(build_config("dpo", [], []), ["run"]) is None  # one node: plain worker
    env = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": ""}
    cmd = jobside.multinode_command(cfg, ["/runs/r", "--attempt", "1"], env)
    assert cmd is not None and cmd[:4] == ["srun", "--nodes=3", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    inner = shlex.split(cmd[-1])
    for flag, value in (("--num_machines", "3"), ("--num_processes", "6"), ("--main_process_port", "29742"),
                        ("--main_process_ip", "127.0.0.1"), ("--machine_rank", "$SLURM_NODEID")):
        assert inner[inner.index(flag) + 1] == value, flag
    assert inner[-5:] == ["-m", "pipeline.runs.worker", "/runs/r", "--attempt", "1"]


@pytest.mark.parametrize(("state", "reason", "want", "words"), [
    ("CANCELLED", "None", "stopped", "cancelled (scancel)"),
    ("CANCELLED", "DependencyNeverSatisfied", "failed", "dependency did not succeed (r0)"),
    ("TIMEOUT", "", "failed", "time limit (TIMEOUT)"),
    ("PREEMPTED", "", "stopped", "preempted"),
    ("NODE_FAIL", "", "failed", "NODE_FAIL) on n[1-2]"),
    ("OUT_OF_MEMORY", "", "oom", "OUT_OF_MEMORY"),
    ("COMPLETED", "", "failed", "without the supervisor recording an end"),
])
def test_slurm_end_states_map_to_run_states(state: str, reason: str, want: str, words: str) -> None:
    got, why = classify_job(slurm.Job("7", state, reason if reason != "None" else "", "n[1-2]"), ["r0"])
    assert got == want and words in why and "7" in why


def test_where_a_run_lives_and_why_it_waits() -> None:
    st = Status(run_id="r", stage="dpo", state="queued", job_id="12", reason="Slurm job 12 pending: Priority")
    assert (where(st), waiting_for(st)) == ("slurm:12", "Priority")
    st.nodes, st.state = "gpu[1-2]", "running"
    assert (where(st), waiting_for(st)) == ("slurm:12@gpu[1-2]", None)
    local = Status(run_id="r", stage="dpo", state="queued", reason="waiting for a, b to succeed")
    assert (where(local), waiting_for(local)) == ("local", "after a, b")


def test_agreement_without_a_process_group_is_the_local_flag() -> None:
    assert ranks.agree(True, False) == (True, False)
    assert ranks.may_stop_early(True) and not ranks.may_stop_early(False)


def test_after_in_config_is_validated_and_resolved(store: RunStore, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('stage = "selftest"\nafter = [1, 2]\n')
    with pytest.raises(ConfigError, match=r"after=\[1, 2\]: expected a list of run ids"):
        build_config(files=[bad])
    cfg = build_config("selftest", [], [])
    cfg.after = ["nope"]
    with pytest.raises(RunNotFound, match="--after 'nope': run 'nope': no such run"):
        launch(store, cfg)
    assert store.run_ids() == []  # nothing half-made
    out = aba("run", "selftest", "--after", "nope", runs_dir=store.root)
    assert out.returncode == 2 and "--after 'nope'" in out.stderr


def test_local_after_waits_queued_then_runs_and_a_failed_dependency_fails(store: RunStore) -> None:
    first, p1 = launch(store, build_config("selftest", [], ["selftest.steps=30", "selftest.step_seconds=0.1"]))
    crash, _ = launch(store, build_config("selftest", [], ["selftest.behaviour=crash"]))
    cfg = build_config("selftest", [], ["selftest.steps=2"])
    cfg.after = [first]
    second, p2 = launch(store, cfg)
    assert wait_for(store, second, {"queued"}, timeout=30) == "queued"
    deadline = time.time() + 30
    while "waiting for" not in (read_status(p2).reason or "") and time.time() < deadline:
        time.sleep(0.05)
    assert read_status(p2).reason == f"waiting for {first} to succeed"
    assert wait_for(store, second, ENDED, timeout=120) == "succeeded"
    events = [json.loads(ln) for ln in (p2 / "events.jsonl").read_text().splitlines() if ln.strip()]
    began = min(e["ts"] for e in events if e["type"] == "status" and e.get("state") == "running")
    assert read_status_raw(p1).state == "succeeded" and began >= (read_status_raw(p1).ended_at or 0)
    cfg = build_config("selftest", [], [])
    cfg.after = [first, crash]
    third, p3 = launch(store, cfg)
    assert wait_for(store, third, ENDED, timeout=60) == "failed"
    assert read_status(p3).reason.startswith(f"dependency {crash} ended failed")
    assert not (p3 / "stdout.log").exists()  # no worker ever started


def test_a_reader_that_cannot_reach_slurm_keeps_what_status_json_says(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slurm.conf").write_text("")  # a Slurm client that cannot be used: squeue fails at once
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "slurm.conf"))
    slurm.forget_cache()
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    write_status(run, Status(run_id="r1", stage="dpo", state="running", job_id="5", nodes="n1", launcher="slurm",
                             host="elsewhere"))
    assert read_status(run).state == "running"  # not "lost": nobody could ask Slurm
    with pytest.raises(slurm.SlurmError):
        slurm.lookup("5")  # the failure is remembered, so readers do not wait on Slurm again and again
    out = aba("ps", runs_dir=tmp_path / "runs")
    assert out.returncode == 0 and "slurm:5@n1" in out.stdout and "running" in out.stdout
    model = RunsModel(RunStore(tmp_path / "runs"))  # what the runs pane shows
    model.poll_once()
    row = next(r for r in model.rows() if r.run_id == "r1")
    assert (row.state, row.where) == ("running", "slurm:5@n1")
    slurm.forget_cache()
