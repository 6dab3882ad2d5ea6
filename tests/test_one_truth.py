"""One source of truth each: the runs dir (flag, env, config file, ./runs) for the CLI and the TUI alike, and
a run's step/total computed once (the runs model) for `aba ps` and the runs pane."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aba_tui.app import AbaApp
from aba_tui.settings import load_settings
from pipeline.monitor.runs_model import RunsModel
from pipeline.runs.store import RunStore

REPO = Path(__file__).resolve().parent.parent


def _env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ABA_RUNS_DIR"}
    env["ABA_CONFIG"] = str(config)
    return env


def test_runs_dir_from_the_config_file_is_used_by_aba_run_ps_and_the_tui(tmp_path: Path) -> None:
    runs = tmp_path / "configured-runs"
    config = tmp_path / "config.toml"
    config.write_text(f'runs_dir = "{runs}"\n')
    cwd = tmp_path / "elsewhere"  # ./runs would be here: it must stay unused
    cwd.mkdir()
    env = _env(config)

    def aba(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "aba_tui", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    res = aba("run", "selftest", "--set", "selftest.steps=2", "--wait")
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.split()[0]
    assert (runs / run_id / "status.json").is_file() and not (cwd / "runs").exists()
    ps = json.loads(aba("ps", "--json").stdout)
    assert [r["run_id"] for r in ps] == [run_id]
    # The TUI resolves the same folder from the same file (and a flag still wins over it).
    old = os.environ.pop("ABA_RUNS_DIR", None)
    try:
        assert AbaApp(settings=load_settings(config)).store.root == runs
        assert AbaApp(runs_dir=tmp_path / "flag", settings=load_settings(config)).store.root == tmp_path / "flag"
    finally:
        if old is not None:
            os.environ["ABA_RUNS_DIR"] = old


def _long_run(root: Path, run_id: str, state: str, steps: int, total: int) -> Path:
    """A run whose progress event (total_steps) sits at the top of a long events file."""
    d = root / run_id
    d.mkdir(parents=True)
    now = time.time()
    st = {"run_id": run_id, "stage": "dpo", "state": state, "host": "another-host", "started_at": now - 3600,
          "ended_at": None if state == "running" else now, "attempt": 1, "updated_at": now}
    (d / "status.json").write_text(json.dumps(st))
    (d / "run.toml").write_text('stage = "dpo"\n')
    lines = [json.dumps({"ts": now - 3600, "type": "progress", "step": 0, "total_steps": total})]
    pad = "x" * 200  # make each line long so the progress event is megabytes from the end
    lines += [json.dumps({"ts": now - 3600 + s, "type": "metrics", "step": s, "loss": 1.0 / s, "note": pad})
              for s in range(1, steps + 1)]
    (d / "events.jsonl").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("state", ["succeeded", "running"])
def test_aba_ps_and_the_runs_pane_agree_on_step_and_total_far_from_the_progress_event(tmp_path: Path,
                                                                                     state: str) -> None:
    runs = tmp_path / "runs"
    run_id = f"20250101-0000-{state}"
    d = _long_run(runs, run_id, state, steps=12000, total=50000)
    assert d.joinpath("events.jsonl").stat().st_size > 2 << 20
    res = subprocess.run([sys.executable, "-m", "aba_tui", "ps", "--runs-dir", str(runs), "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    ps = json.loads(res.stdout)[0]
    assert (ps["step"], ps["total_steps"]) == (12000, 50000)
    # The pane's model with the run selected (its series loaded) and a small full-history limit, so only the
    # file's tail is read, as for a big file.
    model = RunsModel(RunStore(runs), tail_lines=2000, full_history_bytes=1 << 20)
    model.want({run_id})
    model.poll_once()
    model.poll_once()
    row = next(r for r in model.rows() if r.run_id == run_id)
    entry = model.entry(run_id)
    assert entry is not None and entry.loaded and entry.series.tail_only
    assert (row.step, row.total) == (ps["step"], ps["total_steps"])
