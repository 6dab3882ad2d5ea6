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
from pipeline.errors import AbaError
from pipeline.runs.cluster import control, deps
from pipeline.runs.layout import STOP_FILE, SUPERVISOR_LOG
from pipeline.runs.procinfo import alive
from pipeline.runs.status import ACTIVE, read_status, read_status_raw, write_status
from pipeline.runs.store import RunStore, load_run_config


def start_supervisor(run_dir: Path, resume: bool = False) -> None:
    """Spawn the supervisor; it double-forks, so the process we wait for exits at once."""
    cmd = [sys.executable, "-m", "pipeline.runs.supervisor", str(Path(run_dir).resolve())]
    if resume:
        cmd.append("--resume")
    with open(Path(run_dir) / SUPERVISOR_LOG, "ab") as log:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=True,
                              start_new_session=True, check=False, timeout=60)
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
    run_id, path = store.create_run(cfg)
    if cfg.sections["supervisor"].launcher == "slurm":
        control.submit_run(path, cfg)
    else:
        start_supervisor(path)
    return run_id, path


def stop(store: RunStore, ref: str, grace: float | None = None) -> str:
    info = store.get(ref)
    st = read_status(info.path)
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
    if st.supervisor_pid is None or not alive(st.supervisor_pid, st.supervisor_start):
        raise AbaError(f"run {info.run_id}: its supervisor is gone (state lost); nothing to stop")
    try:
        os.kill(st.supervisor_pid, signal.SIGTERM)
    except PermissionError:
        raise AbaError(f"run {info.run_id}: its supervisor (pid {st.supervisor_pid}) belongs to another user; "
                       "stop it as that user") from None
    return info.run_id


def resume(store: RunStore, ref: str) -> str:
    info = store.get(ref)
    st = read_status(info.path)
    if st.state in ACTIVE:
        raise AbaError(f"run {info.run_id} is still {st.state}; stop it first (aba stop {info.run_id})")
    raw = read_status_raw(info.path)
    raw.state, raw.attempt, raw.reason = "queued", raw.attempt + 1, f"resumed after {st.state}"
    raw.supervisor_pid = raw.supervisor_start = None
    write_status(info.path, raw)
    try:
        (info.path / STOP_FILE).unlink()
    except FileNotFoundError:
        pass
    cfg = load_run_config(info.path)
    if cfg.sections["supervisor"].launcher == "slurm":
        control.submit_run(info.path, cfg, resume=True)  # a new job, from the last complete checkpoint
    else:
        start_supervisor(info.path, resume=True)
    return info.run_id


def wait_for(store: RunStore, ref: str, states: set[str], timeout: float = 60.0) -> str:
    """Poll until the run reaches one of ``states`` (CLI --wait and tests)."""
    deadline = time.time() + timeout
    info = store.get(ref)
    while True:
        state = read_status(info.path).state
        if state in states or time.time() > deadline:
            return state
        time.sleep(0.1)
