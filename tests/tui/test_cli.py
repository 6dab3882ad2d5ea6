"""`aba demo`, `aba open` and the TUI's start-up errors, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import AbaError
from pipeline.runs import launcher
from pipeline.runs.store import RunStore
from tests.support.cli import aba


def test_demo_starts_once_then_reuses_the_active_run(store: RunStore):
    first = aba("demo", "--no-ui", runs_dir=store.root)
    assert first.returncode == 0, first.stderr
    run_id = first.stdout.strip()
    assert "started demo run" in first.stderr and (store.path(run_id) / "run.toml").is_file()
    assert 'name = "demo"' in (store.path(run_id) / "run.toml").read_text()
    again = aba("demo", "--no-ui", runs_dir=store.root)
    assert again.returncode == 0 and again.stdout.strip() == run_id
    assert "already running" in again.stderr
    try:
        launcher.stop(store, run_id, grace=0.0)
    except AbaError:
        pass  # it already ended (e.g. no embedded model on this machine): nothing to stop
    assert launcher.wait_for(store, run_id, {"stopped", "failed", "succeeded"}, timeout=60) != "running"


def test_open_refuses_unreadable_paths_in_one_line(tmp_path: Path):
    out = aba("open", str(tmp_path / "nope.jsonl"), runs_dir=tmp_path / "runs")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "nope.jsonl: no such file or folder" in out.stderr
    words = tmp_path / "words.jsonl"
    words.write_text(json.dumps({"a": "b"}) + "\n")
    out = aba("open", str(words), runs_dir=tmp_path / "runs")
    assert out.returncode == 2 and "no numeric field" in out.stderr


def test_bad_user_config_stops_the_ui_with_the_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = tmp_path / "xdg" / "aba" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[telemetry]\ninterval_s = 0.01\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    out = aba(runs_dir=tmp_path / "runs")
    assert out.returncode == 2
    assert out.stderr.strip() == f"aba: {cfg}: telemetry.interval_s=0.01: expected a value ≥ 0.25"
