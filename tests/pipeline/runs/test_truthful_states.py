"""States that tell the truth, and no symlink followed out of the runs dir: a broken run.toml leaves the
status alone, a renamed live run is followed, a checkpoint without metadata.json is never picked, and prune
or cleanup through a symlinked checkpoints/ deletes nothing outside."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pipeline.checkpoints.browser import collect, execute_prune, plan_prune
from pipeline.checkpoints.select import pick_checkpoint
from pipeline.checkpoints.store import checkpoint_name, last_complete, write_metadata
from pipeline.config.run import build_config
from pipeline.errors import AbaError
from pipeline.runs import launcher
from pipeline.runs.events import EventWriter, iter_events
from pipeline.runs.faults.disk import cleanup_partial
from pipeline.runs.lock import is_held
from pipeline.runs.status import TERMINAL, read_status_raw
from pipeline.safeio import UnsafePath
from tests.support.cli import aba

END = set(TERMINAL) | {"lost"}


def wait(cond, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def started(store, *sets: str) -> tuple[str, Path]:
    run_id, path = launcher.launch(store, build_config("selftest", sets=list(sets)))
    wait(lambda: read_status_raw(path).state == "running" and (path / "events.jsonl").exists() and any(
        e["type"] == "metrics" for _o, e in iter_events(path / "events.jsonl")), "the worker's first step")
    return run_id, path


def test_resume_with_a_broken_run_toml_changes_nothing(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=3",
                                                                          "selftest.behaviour=crash"]))
    assert launcher.wait_for(store, run_id, END) == "failed"  # resumable, but for its run.toml
    before = (path / "status.json").read_bytes()
    (path / "run.toml").write_text('stage = "selftest"\n[selftest]\nsteps = "many"\n')
    res = aba("resume", run_id, runs_dir=store.root)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "selftest.steps" in res.stderr, res.stderr
    assert (path / "status.json").read_bytes() == before  # not queued, so never a false "lost" either
    assert not is_held(path)


def test_a_live_run_folder_renamed_is_followed_and_stops_with_a_checkpoint_there(store):
    run_id, path = started(store, "selftest.behaviour=sleep")
    new = store.root / "renamed-run"
    path.rename(new)
    wait(lambda: read_status_raw(new).run_id == "renamed-run", "the supervisor to follow the folder")
    assert path.is_symlink()  # the worker's paths go on working through the old name
    ps = json.loads(aba("ps", "--json", runs_dir=store.root).stdout)
    assert [(r["run_id"], r["state"]) for r in ps] == [("renamed-run", "running")]
    assert aba("status", "renamed-run", runs_dir=store.root).returncode == 0
    launcher.stop(store, "renamed-run")
    assert launcher.wait_for(store, "renamed-run", END) == "stopped"
    saved = [e["name"] for _o, e in iter_events(new / "events.jsonl") if e["type"] == "checkpoint"]
    assert saved and (new / "checkpoints" / saved[-1] / "metadata.json").exists()  # the stop's, in the new place
    wait(lambda: not path.is_symlink() and not path.exists(), "the old name removed")
    moved = [e for _o, e in iter_events(new / "events.jsonl") if e.get("code") == "run_moved"]
    assert moved and "renamed-run" in moved[0]["message"]
    assert run_id not in {r.name for r in store.root.iterdir()}


def test_a_checkpoint_without_metadata_is_never_picked(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=2"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    hf = path / "checkpoints" / "checkpoint-99"  # an HF save cut short: trainer state, no metadata.json
    hf.mkdir()
    (hf / "trainer_state.json").write_text(json.dumps({"global_step": 99, "log_history": [{"loss": 0.01}]}))
    os.utime(hf, (time.time() + 60, time.time() + 60))  # and the newest folder
    assert last_complete(path).name == checkpoint_name(2)
    assert pick_checkpoint(path, "latest").name == checkpoint_name(2)
    rows = {r.name: r for r in collect(store.root)}
    assert rows["checkpoint-99"].state == "incomplete"


def _victim(tmp_path: Path) -> Path:
    outside = tmp_path / "precious"
    for name in ("checkpoint-0001", "checkpoint-0002", ".trainer-like"):
        (outside / name).mkdir(parents=True)
        (outside / name / "weights.bin").write_bytes(b"keep me")
    write_metadata(outside / "checkpoint-0001", {"step": 1, "loss": 0.5})
    return outside


def test_prune_and_cleanup_through_a_symlinked_checkpoints_delete_nothing_outside(store, tmp_path):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    outside = _victim(tmp_path)
    before = sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))
    os.rename(path / "checkpoints", tmp_path / "own-checkpoints")
    (path / "checkpoints").symlink_to(outside)
    rows = [r for r in collect(store.root) if r.run_id == run_id]
    plan = plan_prune(rows, "loss", keep_best=0, keep_last=False, remove_broken=True)
    assert plan.delete  # the plan sees the folders behind the link …
    with pytest.raises(ValueError, match="symbolic link"):
        execute_prune(plan)  # … and deleting through it is refused
    assert cleanup_partial(path) == []  # the half-written-checkpoint cleanup refuses it too
    assert sorted(str(p.relative_to(outside)) for p in outside.rglob("*")) == before
    # A symlinked run folder is not a run of the runs dir at all: nothing lists, prunes or resumes it.
    (path / "checkpoints").unlink()
    link = store.root / "20990101-0000-selftest-link"
    link.symlink_to(path)
    assert link.name not in {r.run_id for r in collect(store.root)}
    assert json.loads(aba("ps", "--json", runs_dir=store.root).stdout)[0]["run_id"] == run_id


def test_writers_refuse_a_symlinked_file(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched\n")
    (tmp_path / "events.jsonl").symlink_to(target)
    with pytest.raises(UnsafePath, match="symbolic link"):
        EventWriter(tmp_path / "events.jsonl")
    assert target.read_text() == "untouched\n"


def test_stop_and_resume_on_a_corrupt_status_are_one_line(store):
    run_id, path = launcher.launch(store, build_config("selftest", sets=["selftest.steps=1"]))
    assert launcher.wait_for(store, run_id, END) == "succeeded"
    (path / "status.json").write_text('{"run_id": "x", "stage": "selftest", "state": 7}')
    for cmd in ("stop", "resume"):
        res = aba(cmd, run_id, runs_dir=store.root)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr, res.stderr
        assert "status.json" in res.stderr and "state" in res.stderr
    with pytest.raises(AbaError, match="cannot read its status"):
        launcher.resume(store, run_id)
