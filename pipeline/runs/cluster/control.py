"""Start, stop and resume a Slurm run from the CLI or the UI (the launcher's cluster side)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json
from pipeline.runs.cluster import deps, slurm
from pipeline.runs.cluster.schema import slurm_section
from pipeline.runs.status import Status, read_status_raw, write_status

STOP_MARGIN = 15.0  # seconds past the grace period before a stuck job is cancelled outright


def submit_run(run_dir: Path, cfg: Any, resume: bool = False) -> str:
    """sbatch the run's supervisor; status.json gets the job id, queued until the job starts."""
    root = run_dir.parent
    after_jobs = deps.slurm_job_ids(root, cfg.after) if cfg.after else None
    st = read_status_raw(run_dir)
    try:
        job_id = slurm.submit(run_dir, slurm_section(cfg), resume=resume, after_jobs=after_jobs or None)
    except slurm.SlurmError as exc:
        st.state, st.reason, st.ended_at = "failed", f"sbatch refused the job: {exc}", time.time()
        write_status(run_dir, st)
        raise
    st.launcher, st.job_id, st.state, st.nodes = "slurm", job_id, "queued", None
    st.reason = f"submitted as Slurm job {job_id}"
    st.supervisor_pid = st.supervisor_start = st.pid = None
    write_status(run_dir, st)
    return job_id


def stop_run(run_dir: Path, status: Status, grace: float, stop_file: str) -> None:
    """SIGTERM to the job's supervisor (scancel --signal=TERM), then scancel once the grace period is over.

    A job still pending is cancelled at once: nothing runs, nothing needs a checkpoint."""
    assert status.job_id is not None
    job = slurm.lookup(status.job_id)
    if job is not None and job.state in slurm.PENDING:
        slurm.cancel(status.job_id)
        raw = read_status_raw(run_dir)
        raw.state, raw.ended_at = "stopped", time.time()
        raw.reason = f"Slurm job {status.job_id} cancelled while queued"
        write_status(run_dir, raw)
        return
    # stop.json tells the supervisor the TERM is ours, not Slurm's time-limit signal.
    atomic_write_json(run_dir / stop_file, {"grace_seconds": grace, "by": "aba stop"})
    slurm.signal_batch(status.job_id, "TERM")
    slurm.cancel_later(status.job_id, grace + STOP_MARGIN)
