"""One run folder, one worker: racing resumes, a supervisor killed with SIGKILL, a worker that outlives it.

Every wait is on a condition (a status, a step, a process gone), never a sleep sized for a quiet machine:
these run on a shared 2-core box. The selftest stage's worker logs a step every 20 ms and, when resumed,
continues after the last step in events.jsonl: two workers on one folder show up as duplicate steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import AbaError
from pipeline.runs import launcher
from pipeline.runs.events import iter_events
from pipeline.runs.lock import is_held
from pipeline.runs.procinfo import alive
from pipeline.runs.status import TERMINAL, read_status, read_status_raw
from tests.support.paths import REPO

END = set(TERMINAL) | {"lost"}
RACES = 20

# A racer imports everything first, then waits for the starting gun (a file), then runs the real CLI.
RACER = """
import os, sys, time
from aba_tui.cli import main
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
sys.exit(main(["resume", sys.argv[2], "--runs-dir", sys.argv[3]]))
"""


def wait(cond, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def steps(path: Path) -> list[int]:
    if not (path / "events.jsonl").exists():
        return []
    return [e["step"] for _o, e in iter_events(path / "events.jsonl") if e["type"] == "metrics"]


def no_duplicates(path: Path) -> list[int]:
    got = steps(path)
    dup = [s for s, n in Counter(got).items() if n > 1]
    assert not dup, f"steps logged twice (two workers on one folder): {dup[:10]}"
    assert got == list(range(1, len(got) + 1)), "steps are not consecutive"
    return got


def running_past(path: Path, step: int) -> bool:
    st = read_status_raw(path)
    return st.state == "running" and st.pid is not None and bool(steps(path)) and steps(path)[-1] > step


def stopped(store, run_id: str, path: Path) -> str:
    launcher.stop(store, run_id)
    state = launcher.wait_for(store, run_id, END, timeout=60)
    wait(lambda: not is_held(path), "the lock to be free (supervisor and worker gone)")
    return state


def start(store, *sets: str):
    return launcher.launch(store, build_config("selftest", sets=["selftest.step_seconds=0.02", *sets]))


def test_two_resumes_race_and_only_one_starts_a_worker(store, tmp_path):
    run_id, path = start(store, "selftest.steps=100000")
    wait(lambda: running_past(path, 0), "the first step")
    assert stopped(store, run_id, path) == "stopped"
    won = 0
    for i in range(RACES):
        attempt = read_status_raw(path).attempt
        go = tmp_path / f"go-{i}"
        racers = [subprocess.Popen([sys.executable, "-c", RACER, str(go), run_id, str(store.root)], cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(0.3)  # both have imported and wait at the gun (they would still race if one were late)
        go.touch()
        outs = [(p.wait(timeout=120), *p.communicate()) for p in racers]
        codes = sorted(code for code, _o, _e in outs)
        assert codes == [0, 2], outs
        loser = next(err for code, _o, err in outs if code == 2)
        assert loser.count("\n") == 1 and "Traceback" not in loser and (
            "busy" in loser or "still queued" in loser or "still running" in loser), loser
        won += 1
        assert read_status_raw(path).attempt == attempt + 1  # one resume counted, not two
        last = steps(path)[-1]
        wait(lambda last=last: running_past(path, last), f"race {i}: the resumed worker's next step")
        assert stopped(store, run_id, path) == "stopped"
        no_duplicates(path)
    assert won == RACES
    # The end: run to completion from where it stopped; every step once, one final state.
    done = no_duplicates(path)[-1] + 3
    toml = (path / "run.toml").read_text().replace("steps = 100000", f"steps = {done}")
    (path / "run.toml").write_text(toml)
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, END, timeout=120) == "succeeded"
    assert no_duplicates(path)[-1] == done


def test_kill_9_of_the_supervisor_stops_its_worker_and_a_resume_never_runs_two(store):
    run_id, path = start(store, "selftest.steps=100000")
    for cycle in range(3):
        last = steps(path)[-1] if steps(path) else 0
        wait(lambda last=last: running_past(path, last), f"cycle {cycle}: a step")
        st = read_status_raw(path)
        killed_at = time.time() - 0.01
        os.kill(st.supervisor_pid, signal.SIGKILL)
        resumed = False
        # While its worker lives (it stops after a checkpoint), every resume refuses.
        while alive(st.pid, st.pid_start):
            try:
                launcher.resume(store, run_id)
            except AbaError as exc:
                assert "busy" in str(exc) or "still running" in str(exc), exc
                continue
            assert not alive(st.pid, st.pid_start), "a resume started while the orphaned worker still ran"
            resumed = True  # it exited between the check and the resume: that resume is the legitimate one
            break
        # The orphan recorded its own end: stopped after a checkpoint (saved after the kill, before that end).
        evs = [e for _o, e in iter_events(path / "events.jsonl")]
        died = f"supervisor (pid {st.supervisor_pid}) died"
        ends = [i for i, e in enumerate(evs) if e["type"] == "status" and died in (e.get("reason") or "")]
        assert [evs[i]["state"] for i in ends] == ["stopped"], [evs[i] for i in ends]
        saved = [e["name"] for e in evs[:ends[0]] if e["type"] == "checkpoint" and e["ts"] >= killed_at]
        assert saved and (path / "checkpoints" / saved[-1] / "metadata.json").exists(), saved
        if not resumed:
            end = read_status(path)
            assert end.state == "stopped" and "stopped after saving a checkpoint" in end.reason, end
            launcher.resume(store, run_id)
        no_duplicates(path)
    last = steps(path)[-1]
    wait(lambda: running_past(path, last), "the last resume's step")
    assert stopped(store, run_id, path) == "stopped"
    no_duplicates(path)


def test_lost_only_when_neither_supervisor_nor_worker_lives(store):
    run_id, path = start(store, "selftest.behaviour=sleep")
    wait(lambda: running_past(path, 0), "the worker")
    st = read_status_raw(path)
    os.kill(st.pid, signal.SIGSTOP)  # the worker cannot act on its SIGTERM yet
    try:
        os.kill(st.supervisor_pid, signal.SIGKILL)
        wait(lambda: not alive(st.supervisor_pid, st.supervisor_start), "the supervisor to die")
        shown = read_status(path)
        assert shown.state == "running" and "the worker" in shown.reason, shown
        with pytest.raises(AbaError, match=r"busy|still running"):
            launcher.resume(store, run_id)
    finally:
        os.kill(st.pid, signal.SIGCONT)
    assert launcher.wait_for(store, run_id, END, timeout=60) == "stopped"
    assert "died" in read_status(path).reason
    # Both gone without a word (kill -9 of both): only now is it lost, and resumable.
    run2, path2 = start(store, "selftest.behaviour=sleep")
    wait(lambda: running_past(path2, 0), "the second run's worker")
    st2 = read_status_raw(path2)
    os.kill(st2.pid, signal.SIGSTOP)
    os.kill(st2.supervisor_pid, signal.SIGKILL)
    os.killpg(st2.pid, signal.SIGKILL)
    wait(lambda: read_status(path2).state == "lost", "lost")
    launcher.resume(store, run2)
    wait(lambda: running_past(path2, 1), "the resumed run")
    assert stopped(store, run2, path2) == "stopped"


def test_an_orphaned_worker_that_ignores_the_stop_is_killed_after_the_grace(store):
    _run_id, path = start(store, "selftest.behaviour=ignore_stop", "supervisor.grace_seconds=1")
    wait(lambda: running_past(path, 0), "the worker")
    st = read_status_raw(path)
    os.kill(st.supervisor_pid, signal.SIGKILL)
    wait(lambda: not alive(st.pid, st.pid_start), "the worker to end itself after the grace", timeout=60)
    end = read_status(path)
    assert end.state == "failed" and "did not stop within the grace period (1 s)" in end.reason
    wait(lambda: not is_held(path), "the lock to be free")
