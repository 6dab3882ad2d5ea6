"""Readers bounded: a nested-JSON line, a 256 MB single line, a FIFO in a file's place, a status.json of the
wrong types. `aba ps` answers within 2 s of its own start-up time, and one bad run never stops the others."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.monitor import runs_model
from pipeline.monitor.runs_model import RunsModel
from pipeline.runs.events import MAX_LINE_BYTES, Follower, iter_events, read_last_lines
from pipeline.runs.procinfo import start_ticks
from pipeline.runs.store import RunStore
from tests.support.paths import REPO

HUGE = 256 << 20
NESTED = b"[" * 200_000 + b"]" * 200_000


def _status(path: Path, active: bool, **extra: object) -> None:
    me = os.getpid()
    st = {"run_id": path.name, "stage": "selftest", "state": "running" if active else "succeeded",
          "host": socket.gethostname(), "supervisor_pid": me if active else None,
          "supervisor_start": start_ticks(me) if active else None, "attempt": 1, "updated_at": time.time(),
          "started_at": time.time() - 60, **extra}
    (path / "status.json").write_text(json.dumps(st))


def _metrics(step: int) -> bytes:
    return json.dumps({"ts": 9.0, "type": "metrics", "step": step, "loss": 0.5}).encode() + b"\n"


def _good_lines(steps: int) -> bytes:
    lines = [{"ts": 1.0, "type": "progress", "step": 0, "total_steps": 10}]
    lines += [{"ts": 1.0 + s, "type": "metrics", "step": s, "loss": 1.0 / s} for s in range(1, steps + 1)]
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def bad_runs_dir(root: Path) -> dict[str, str]:
    """A runs dir of bad run folders, active and ended; returns run id → the state `aba ps` must show."""
    want: dict[str, str] = {}
    for active in (True, False):
        tag = "live" if active else "ended"
        state = "running" if active else "succeeded"
        nested = root / f"20250101-0001-selftest-nested-{tag}"
        nested.mkdir(parents=True)
        _status(nested, active)
        (nested / "events.jsonl").write_bytes(_good_lines(2) + NESTED + b"\n" + _metrics(3))
        want[nested.name] = state
        huge = root / f"20250101-0002-selftest-huge-{tag}"
        huge.mkdir()
        _status(huge, active)
        with open(huge / "events.jsonl", "wb") as fh:  # sparse: cheap to make, 256 MB to read
            fh.write(_good_lines(2) + b'{"type": "metrics", "note": "')
            fh.truncate(HUGE)
        want[huge.name] = state
        fifo = root / f"20250101-0003-selftest-fifo-{tag}"
        fifo.mkdir()
        _status(fifo, active)
        os.mkfifo(fifo / "events.jsonl")
        want[fifo.name] = state
    status_fifo = root / "20250101-0004-selftest-status-fifo"
    status_fifo.mkdir()
    os.mkfifo(status_fifo / "status.json")
    want[status_fifo.name] = "corrupt"
    typed = root / "20250101-0005-selftest-wrong-types"
    typed.mkdir()
    _status(typed, True, supervisor_pid="not a pid")
    want[typed.name] = "corrupt"
    good = root / "20250101-0006-selftest-good"
    good.mkdir()
    _status(good, False)
    (good / "events.jsonl").write_bytes(_good_lines(4))
    want[good.name] = "succeeded"
    return want


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad") / "runs"
    return root, bad_runs_dir(root)


def timed_ps(runs: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "aba_tui", "ps", "--json", "--runs-dir", str(runs)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    return time.monotonic() - t0, proc


def test_aba_ps_answers_within_2_s_over_nested_huge_and_fifo_files(bad_runs, tmp_path):
    runs, want = bad_runs
    empty = tmp_path / "empty"
    empty.mkdir()
    baseline, _ = timed_ps(empty)  # the interpreter's own start-up on this machine, now
    took, proc = timed_ps(runs)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    rows = {r["run_id"]: r for r in json.loads(proc.stdout)}
    assert {rid: r["state"] for rid, r in rows.items()} == want
    assert "status.json" in rows["20250101-0004-selftest-status-fifo"]["reason"]
    assert "supervisor_pid" in rows["20250101-0005-selftest-wrong-types"]["reason"]
    assert rows["20250101-0006-selftest-good"]["step"] == 4
    assert took - baseline < 2.0, f"aba ps took {took:.2f} s ({baseline:.2f} s to start an empty one)"


def test_readers_skip_and_count_what_they_cannot_hold(bad_runs):
    runs, _want = bad_runs
    nested = runs / "20250101-0001-selftest-nested-ended" / "events.jsonl"
    assert [e.get("step") for _o, e in iter_events(nested)] == [0, 1, 2, 3]
    huge = runs / "20250101-0002-selftest-huge-ended" / "events.jsonl"
    t0 = time.monotonic()
    assert read_last_lines(huge, 5) == [] and [e["step"] for _o, e in iter_events(huge)] == [0, 1, 2]
    f = Follower(huge)
    lines, _ = f.read_lines()
    assert len(lines) == 3 and f.long_lines == 1 and f._skipping  # the unfinished huge line is not held
    assert time.monotonic() - t0 < 30  # linear in the file's size (once), not quadratic
    with pytest.raises(OSError, match="FIFO"):
        Follower(runs / "20250101-0003-selftest-fifo-live" / "events.jsonl").read_lines()
    tail = subprocess.run([sys.executable, "-m", "aba_tui", "tail", "20250101-0003-selftest-fifo-live", "--runs-dir",
                           str(runs)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert tail.returncode == 1 and tail.stderr.count("\n") == 1 and "FIFO" in tail.stderr, tail.stderr


def test_a_long_line_between_good_ones_is_skipped_and_counted(tmp_path):
    p = tmp_path / "events.jsonl"
    p.write_bytes(_good_lines(1) + b'{"x": "' + b"a" * (MAX_LINE_BYTES + 10) + b'"}\n' + _metrics(2))
    f = Follower(p)
    lines, _ = f.read_lines(max_bytes=1 << 20)  # in slices, as the watcher reads a backlog
    while f.pending():
        more, _ = f.read_lines(max_bytes=1 << 20)
        lines += more
    assert f.long_lines == 1 and [json.loads(x)["step"] for x in lines] == [0, 1, 2]


def test_the_watcher_survives_any_one_bad_run_and_marks_it_corrupt(bad_runs, monkeypatch, caplog):
    runs, want = bad_runs
    real = runs_model.summarize_tail

    def broken(path: Path, *a: object, **k: object) -> dict:
        if "good" in str(path):
            raise RuntimeError("a reader bug we did not foresee")
        return real(path, *a, **k)

    monkeypatch.setattr(runs_model, "summarize_tail", broken)
    model = RunsModel(RunStore(runs), scan_s=0.0)
    with caplog.at_level(logging.WARNING, logger="pipeline.monitor.runs_model"):
        model.poll_once()
        model.poll_once()
    rows = {r.run_id: r for r in model.rows()}
    assert rows["20250101-0006-selftest-good"].state == "corrupt"
    assert "a reader bug" in (rows["20250101-0006-selftest-good"].reason or "")
    assert any("a reader bug" in r.getMessage() for r in caplog.records)
    others = {rid: s for rid, s in want.items() if "good" not in rid}
    assert {rid: rows[rid].state for rid in others} == others


def test_the_small_files_a_folder_holds_never_block_or_flood_a_reader(tmp_path):
    """notes.json, run.toml (run details, compare) and a checkpoint's metadata.json: a FIFO in their place is
    not waited on, a huge one is not read whole; `aba status` still answers."""
    from pipeline.checkpoints.store import read_checkpoint
    from pipeline.monitor.summary import summarize
    from pipeline.runs.notes import read_notes
    from tests.support.cli import aba

    runs = tmp_path / "runs"
    run = runs / "20250101-0007-selftest-fifos"
    (run / "checkpoints" / "checkpoint-000001").mkdir(parents=True)
    _status(run, False)
    (run / "events.jsonl").write_bytes(_good_lines(2))
    for name in ("notes.json", "run.toml", "checkpoints/checkpoint-000001/metadata.json"):
        os.mkfifo(run / name)
    assert read_notes(run).tags == [] and read_notes(run).note == ""
    assert summarize(run).config == {}
    ck = read_checkpoint(run / "checkpoints" / "checkpoint-000001")
    assert ck.state == "incomplete"
    proc = aba("status", run.name, runs_dir=runs)
    assert proc.returncode == 0 and "succeeded" in proc.stdout, proc
    for name in ("notes.json", "checkpoints/checkpoint-000001/metadata.json"):
        os.unlink(run / name)
    with open(run / "notes.json", "wb") as fh:  # sparse: 256 MB of nothing that parses
        fh.truncate(HUGE)
    (run / "checkpoints" / "checkpoint-000001" / "metadata.json").write_bytes(NESTED)
    assert read_notes(run).note == ""
    ck = read_checkpoint(run / "checkpoints" / "checkpoint-000001")
    assert ck.state == "corrupt", ck  # nested too deeply for the parser: corrupt, not a crash
