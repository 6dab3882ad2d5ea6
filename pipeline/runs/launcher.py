"""Start, stop and resume runs from the CLI or the UI: nothing here waits on a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.atomic import atomic_write_json
from pipeline.config.run import RunConfig
from pipeline.errors import AbaError, RunDirError
from pipeline.runs import lock, trust
from pipeline.runs.cluster import control, deps
from pipeline.runs.layout import LOST_MARK, RUN_TOML, STATUS_FILE, STOP_FILE, SUPERVISOR_LOG
from pipeline.runs.procinfo import alive
from pipeline.runs.status import ACTIVE, Status, read_status, read_status_raw, worker_alive, write_status
from pipeline.runs.store import RunStore, load_run_config
from pipeline.safeio import open_append


def start_supervisor(run_dir: Path, resume: bool = False, lock_fd: int | None = None) -> None:
    """Spawn the supervisor; it double-forks, so the process we wait for exits at once. ``lock_fd`` (the
    run's lock, taken by the caller) is inherited by it, so the lock is never free in between."""
    cmd = [sys.executable, "-P", "-m", "pipeline.runs.supervisor", str(Path(run_dir).resolve())]
    if resume:
        cmd.append("--resume")
    if lock_fd is not None:
        cmd += ["--lock-fd", str(lock_fd)]
    # -P keeps the working directory off sys.path; our own package root goes on PYTHONPATH instead, so a
    # source checkout run without installing still finds it (and the worker after it).
    root = str(Path(__file__).resolve().parents[2])
    paths = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": paths if root in paths.split(os.pathsep) else os.pathsep.join(
        p for p in (root, paths) if p)}
    log = open_append(Path(run_dir) / SUPERVISOR_LOG)
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True, env=env,
                              pass_fds=() if lock_fd is None else (lock_fd,), start_new_session=True,
                              check=False, timeout=60)
    finally:
        os.close(log)
    if proc.returncode != 0:
        raise AbaError(f"{run_dir}: the supervisor did not start (exit {proc.returncode}); see supervisor.log")


def launch(store: RunStore, cfg: RunConfig, force: bool = False) -> tuple[str, Path]:
    """Create the run folder and start its supervisor. Refused (ConfigError) when the runs dir's disk is
    too small for what the run will write, unless ``force`` or ``supervisor.disk_check = false``."""
    if not force:
        from pipeline.runs.faults.diskplan import check_disk

        check_disk(cfg, store.root)
    if cfg.after:
        cfg.after = deps.resolve_after(store, cfg.after)
    run_id, path, fd = store.claim_run(cfg)
    try:
        if cfg.sections["supervisor"].launcher == "slurm":
            control.submit_run(path, cfg)  # the job's supervisor takes the lock when it starts
        else:
            start_supervisor(path, lock_fd=fd)
    finally:
        os.close(fd)
    return run_id, path


def _status(run_id: str, path: Path, raw: bool = False, locked: bool = False) -> Status:
    """The run's status, or one line saying why it cannot be read (a corrupt or unreadable status.json).
    ``locked``: the caller holds the run's lock (so the lock tells nothing about the run's processes)."""
    try:
        return read_status_raw(path) if raw else read_status(path, probe_lock=not locked)
    except (OSError, ValueError) as exc:
        from pipeline.runs.faults.runs_dir import read_error

        _fault, why = read_error(path / STATUS_FILE, exc)
        raise RunDirError(f"run {run_id}: cannot read its status ({why})") from None


def stop(store: RunStore, ref: str, grace: float | None = None) -> str:
    info = store.get(ref)
    st = _status(info.run_id, info.path)
    if st.state not in ACTIVE:
        raise AbaError(f"run {info.run_id} is not running (state {st.state})")
    if st.job_id:
        cfg = load_run_config(info.path)
        control.stop_run(info.path, st, cfg.sections["supervisor"].grace_seconds if grace is None else grace,
                         STOP_FILE)
        return info.run_id
    if grace is not None:
        try:
            atomic_write_json(info.path / STOP_FILE, {"grace_seconds": grace})
        except OSError as exc:
            raise AbaError(f"run {info.run_id}: cannot write {STOP_FILE} ({exc.strerror}); stop it as the "
                           "user who owns it, or without --grace") from None
    try:
        if st.supervisor_pid is None or not alive(st.supervisor_pid, st.supervisor_start):
            if st.pid is None or not worker_alive(st):
                raise AbaError(f"run {info.run_id}: its supervisor is gone (state lost); nothing to stop")
            os.killpg(st.pid, signal.SIGTERM)  # an orphaned worker: it stops after a checkpoint and records it
        else:
            os.kill(st.supervisor_pid, signal.SIGTERM)
    except PermissionError:
        raise AbaError(f"run {info.run_id}: its supervisor (pid {st.supervisor_pid}) belongs to another user; "
                       "stop it as that user") from None
    return info.run_id


def resume(store: RunStore, ref: str) -> str:
    """Relaunch a run that failed, was stopped or was lost (a succeeded run refuses). Under the run's lock,
    taken first: a second resume, a live supervisor or a live worker makes this refuse; the config is read
    and validated before the status changes, so a broken run.toml leaves the run as it was."""
    info = store.get(ref)
    rid, path = info.run_id, info.path
    trust.check_runnable(path, rid)
    fd = lock.acquire(path, rid)
    try:
        st = _status(rid, path, locked=True)
        if st.state in ACTIVE or worker_alive(st):
            raise AbaError(f"run {rid} is still {st.state}; stop it first (aba stop {rid})")
        if st.state == "succeeded":  # a resume would re-fire its chain (a second export); training again is a new run
            raise AbaError(f"run {rid} succeeded: nothing to resume; to train again start a new run from its "
                           f"config: aba run --config {path / RUN_TOML}")
        cfg = load_run_config(path)
        raw = _status(rid, path, raw=True)
        raw.state, raw.attempt, raw.reason = "queued", raw.attempt + 1, f"resumed after {st.state}"
        raw.supervisor_pid = raw.supervisor_start = raw.pid = raw.pid_start = None
        try:
            write_status(path, raw)
            for name in (STOP_FILE, LOST_MARK):
                try:
                    (path / name).unlink()
                except FileNotFoundError:
                    pass
        except OSError as exc:
            raise RunDirError(f"run {rid}: cannot write to {path} ({exc.strerror}); nothing was changed") from None
        if cfg.sections["supervisor"].launcher == "slurm":
            control.submit_run(path, cfg, resume=True)  # a new job, from the last complete checkpoint
        else:
            start_supervisor(path, resume=True, lock_fd=fd)
    finally:
        os.close(fd)
    return rid


def wait_for(store: RunStore, ref: str, states: set[str], timeout: float = 60.0) -> str:
    """Poll until the run reaches one of ``states`` (CLI --wait and tests)."""
    deadline = time.time() + timeout
    info = store.get(ref)
    while True:
        state = read_status(info.path).state
        if state in states or time.time() > deadline:
            return state
        time.sleep(0.1)
