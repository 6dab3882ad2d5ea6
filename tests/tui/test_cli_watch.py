"""The command line's watching: `aba ps --watch` in a real terminal (tmux), and `aba run --wait` over a
whole chain (real supervisors and workers: a selftest chain)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.monitor.chain import wait_chain
from pipeline.runs.status import TERMINAL, read_status
from pipeline.runs.store import RunStore
from tests.support.cli import aba
from tests.support.paths import FIXTURES, REPO
from tests.tui.test_tmux import Tmux, _row

ABLITERATE = "20250301-1530-abliterate-demo"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_ps_watch_redraws_a_runs_row_as_its_events_arrive_and_quits_on_ctrl_c(tmp_path: Path):
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "stage_runs", runs, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    t = Tmux(f"aba-ps-{os.getpid()}-{tmp_path.name[-8:]}")
    cmd = f"{sys.executable} -m aba_tui ps --watch --interval 0.3 --runs-dir {runs}; echo EXITED $?; sleep 60"
    subprocess.run([*t.base, "new-session", "-d", "-s", "aba", "-x", "200", "-y", "20", cmd], cwd=REPO, check=True,
                   timeout=20, env={**os.environ, "TERM": "xterm-256color"})
    try:
        t.wait_for(lambda s: "14/30" in _row(s, ABLITERATE) and "trials" in _row(s, ABLITERATE), what="the row")
        ts = json.loads((runs / ABLITERATE / "events.jsonl").read_text().splitlines()[-1])["ts"]
        with open(runs / ABLITERATE / "events.jsonl", "a") as fh:  # the study finishes its trials: saving
            fh.write(json.dumps({"ts": ts + 30, "type": "progress", "step": 0, "total_steps": 2, "phase": "save"})
                     + "\n")
        screen = t.wait_for(lambda s: "0/2" in _row(s, ABLITERATE) and "save" in _row(s, ABLITERATE),
                            what="the row redrawn")
        assert screen.count(ABLITERATE) == 1  # in place: one table on the screen, not one more per redraw
        t.keys("C-c")
        t.wait_for(lambda s: "EXITED 0" in s, what="ctrl-c to end it")
    finally:
        t("kill-server")


def test_run_wait_returns_only_after_the_chains_last_stage_ended(store: RunStore, tmp_path: Path):
    chain = tmp_path / "chain.toml"
    chain.write_text('stage = "selftest"\nthen = ["selftest"]\n[selftest]\nsteps = 3\nstep_seconds = 0.2\n')
    res = aba("run", "--config", str(chain), "--wait", runs_dir=store.root, timeout=180)
    assert res.returncode == 0, res.stderr
    first, second = res.stdout.split()  # each run's id, the chain's next as it starts
    assert read_status(store.path(second)).parent == first
    assert read_status(store.path(second)).state == "succeeded"  # ended before the command returned
    assert f"{second}: succeeded" in res.stderr


def test_the_chain_wait_names_a_later_stage_that_failed(store: RunStore):
    # The parent succeeded and started its child (the `chain` event, as the supervisor writes it); the child failed.
    now = time.time()
    for rid, state, parent in (("a", "succeeded", None), ("b", "failed", "a")):
        path = store.path(rid)
        path.mkdir(parents=True)
        (path / "status.json").write_text(json.dumps({
            "run_id": rid, "stage": "eval" if parent else "dpo", "state": state, "host": "elsewhere",
            "started_at": now, "ended_at": now, "reason": "judge: no signal" if parent else None, "parent": parent}))
    (store.path("a") / "events.jsonl").write_text(json.dumps({"ts": now, "type": "chain", "next_run": "b",
                                                              "next_stage": "eval"}) + "\n")
    seen: list[tuple[str, str]] = []
    end = wait_chain(store, "a", timeout=5, on_next=lambda rid, stage: seen.append((rid, stage)))
    assert (end.run_id, end.stage, end.state, end.reason, end.runs) == ("b", "eval", "failed", "judge: no signal",
                                                                        ("a", "b"))
    assert seen == [("b", "eval")] and not end.ok and end.state in TERMINAL
