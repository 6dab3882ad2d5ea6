"""`aba demo`, `aba open` and the TUI's start-up errors, through the real command line."""

from __future__ import annotations

import json
import os
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


def test_status_reads_as_numbers_people_use_and_names_the_exports_gguf(store: RunStore, tmp_path: Path):
    from pipeline.atomic import atomic_write_json
    from pipeline.config.run import build_config
    from pipeline.runs.status import read_status_raw, write_status

    rid, path = store.create_run(build_config("export"))
    st = read_status_raw(path)
    st.state, st.started_at, st.ended_at, st.exit_code = "succeeded", 1_700_000_000.0, 1_700_000_754.3, 0
    write_status(path, st)
    (path / "events.jsonl").write_text(json.dumps({"ts": 1.0, "type": "metrics", "step": 3,
                                                   "loss": 0.123456789}) + "\n")
    (path / "exports").mkdir()
    (path / "exports" / "r-best-q8_0.gguf").write_bytes(b"GGUF" + b"\0" * 2048)
    atomic_write_json(path / "exports" / "r-best-q8_0.json",
                      {"quant": "q8_0", "size_bytes": 150 * 2**20, "created_at": 1.0, "verify": {"ok": True}})
    out = aba("status", rid[:15], runs_dir=Path(os.path.relpath(store.root)))
    assert out.returncode == 0, out.stderr
    lines = dict(line.strip().split(": ", 1) for line in out.stdout.splitlines())
    assert lines["loss"] == "0.1235 (last logged)" and lines["ended"].endswith("(took 12m34s)")
    assert lines["export"] == f"{(path / 'exports' / 'r-best-q8_0.gguf').resolve()} (q8_0, 150.0MB, verified)"
    assert Path(lines["folder"]).is_absolute()
    raw = json.loads(aba("status", rid, "--json", runs_dir=store.root).stdout)
    assert raw["loss"] == 0.123456789  # --json keeps the raw values
