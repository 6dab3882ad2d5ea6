"""The control centre in a real terminal: tmux runs `aba`, send-keys drives it, capture-pane reads it.

A real selftest run (behaviour=sleep) is started through pipeline.runs.launcher while the app is open;
its worker is killed with SIGKILL and the row must turn to failed while the app keeps running; `q`
asks (a run is active), `y` quits, and a run started from it keeps going (runs are detached supervisors).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.runs import launcher
from pipeline.runs.procinfo import alive
from pipeline.runs.status import read_status_raw
from pipeline.runs.store import RunStore
from tests.support.paths import REPO
from tests.support.tui import FIXTURE, GRPO

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.base = ["tmux", "-L", socket, "-f", "/dev/null"]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=20).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "aba")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "aba", *keys)

    def wait_for(self, cond: Callable[[str], bool], timeout: float = 30.0, what: str = "text") -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if cond(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")


def _row(screen: str, run_id: str) -> str:
    return next((ln for ln in screen.splitlines() if run_id in ln), "")


@pytest.fixture
def tmux(tmp_path: Path, store: RunStore) -> Iterator[Tmux]:
    shutil.copytree(FIXTURE, store.root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    t = Tmux(f"aba-test-{os.getpid()}-{tmp_path.name[-8:]}")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "TERM": "xterm-256color"}
    cmd = f"{sys.executable} -m aba_tui --runs-dir {store.root}"
    subprocess.run([*t.base, "new-session", "-d", "-s", "aba", "-x", "160", "-y", "48", cmd], env=env,
                   cwd=REPO, check=True, timeout=20)
    yield t
    t("kill-server")


def _sleeping_selftest(store: RunStore) -> str:
    cfg = build_config("selftest", [], ["selftest.behaviour=sleep", "selftest.steps=3",
                                        "supervisor.grace_seconds=5"])
    run_id, _ = launcher.launch(store, cfg)
    return run_id


def test_real_terminal_drive_kill_a_worker_and_quit(tmux: Tmux, store: RunStore):
    # Each pane fills in on its own (telemetry after its first sample): wait for all, never race them.
    tmux.wait_for(lambda s: "1 Runs" in s and GRPO in s and "oom #2" in _row(s, "20250301-1300-dpo-qwen")
                  and ("No NVIDIA GPU" in s or "GPU0" in s),  # the real NVML of this machine, either way
                  what="the dashboard with its runs and telemetry")

    victim = _sleeping_selftest(store)
    tmux.wait_for(lambda s: "running" in _row(s, victim) and "1/3" in _row(s, victim),
                  what="the new run as running at step 1/3")

    # Keys reach the app: hide and show the logs pane, open and close the help.
    tmux.keys("3")
    tmux.wait_for(lambda s: "3 Logs" not in s and "stdout.log" not in s, what="the logs pane hidden")
    tmux.keys("3")
    tmux.wait_for(lambda s: "stdout.log" in s, what="the logs pane back")
    tmux.keys("?")
    tmux.wait_for(lambda s: "Everywhere" in s, what="the help")
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "Everywhere" not in s, what="the help closed")

    # SIGKILL the worker under the supervisor: the row turns failed, the app stays up.
    worker = read_status_raw(store.path(victim)).pid
    assert worker and alive(worker)
    os.kill(worker, signal.SIGKILL)
    tmux.wait_for(lambda s: "failed" in _row(s, victim), what="the killed run as failed")
    # The alert (toast or alerts pane) may land a frame after the row: wait for it rather than race it.
    tmux.wait_for(lambda s: "run_failed" in s or "killed by SIGKILL" in s, what="the run_failed alert")
    survivor = _sleeping_selftest(store)
    tmux.wait_for(lambda s: "running" in _row(s, survivor), what="the app still watching")

    # q asks (a run is active), y quits; the run it was watching keeps going.
    tmux.keys("q")
    tmux.wait_for(lambda s: "Quit the control centre?" in s and survivor in s, what="the question")
    tmux.keys("y")
    deadline = time.monotonic() + 15
    while "aba" in tmux("list-sessions") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "aba" not in tmux("list-sessions")
    st = read_status_raw(store.path(survivor))
    assert st.state == "running" and alive(st.supervisor_pid, st.supervisor_start)
    launcher.stop(store, survivor, grace=0.0)
    assert launcher.wait_for(store, survivor, {"stopped"}, timeout=30) == "stopped"
