"""A cluster run's true state from Slurm: queued with the pending reason, or how its job ended.

The supervisor inside the job writes status.json as on a local machine; Slurm is asked only for what
the supervisor cannot say: that the job is still pending (and why), or that the job ended without the
supervisor recording it (time limit, node failure, the job's memory limit, scancel of a pending job).
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.runs.cluster.slurm import PENDING, Job, SlurmError, lookup
from pipeline.runs.layout import SLURM_JOB_OUTPUT
from pipeline.runs.status import ACTIVE, RunState, Status, read_status_raw, write_status

DEPENDENCY_FAILED = "DependencyNeverSatisfied"


def classify_job(job: Job, after: list[str] | None = None) -> tuple[RunState, str]:
    """(state, reason) for a job that ended while status.json still said queued/running."""
    jid, nodes = job.job_id, f" on {job.nodes}" if job.nodes else ""
    resume = "; aba resume continues from the last complete checkpoint"
    if job.state == "CANCELLED":
        if job.reason == DEPENDENCY_FAILED:
            names = ", ".join(after or []) or "a run it waits for"
            return "failed", f"dependency did not succeed ({names}); Slurm cancelled job {jid}"
        return "stopped", f"Slurm job {jid} cancelled (scancel){resume}"
    if job.state == "TIMEOUT":
        return "failed", f"Slurm job {jid} hit its time limit (TIMEOUT){nodes}{resume}"
    if job.state == "PREEMPTED":
        return "stopped", f"Slurm job {jid} preempted{nodes}{resume}"
    if job.state == "NODE_FAIL":
        return "failed", f"Slurm job {jid}: node failure (NODE_FAIL){nodes}{resume}"
    if job.state == "OUT_OF_MEMORY":
        return "oom", f"Slurm job {jid} exceeded its memory limit (OUT_OF_MEMORY){nodes}"
    if job.state == "BOOT_FAIL":
        return "failed", f"Slurm job {jid}: node boot failure (BOOT_FAIL){nodes}"
    if job.state == "DEADLINE":
        return "failed", f"Slurm job {jid} passed its deadline (DEADLINE)"
    code = f" (exit {job.exit_code})" if job.exit_code else ""
    return "failed", (f"Slurm job {jid} ended {job.state}{code} without the supervisor recording an end; "
                      f"see {SLURM_JOB_OUTPUT.replace('%j', jid)} in the run folder")


def _after(run_dir: Path | None) -> list[str]:
    if run_dir is None:
        return []
    try:
        from pipeline.runs.store import load_run_config

        return load_run_config(run_dir).after
    except Exception:  # a reader must not fail on a run.toml it cannot read
        return []


def reconcile(status: Status, run_dir: Path | None = None) -> Status:
    """The status a reader shows for a Slurm run that status.json calls queued or running."""
    assert status.job_id is not None
    try:
        job = lookup(status.job_id)
    except SlurmError:
        return status  # not on a Slurm host: status.json is all we know
    if job is None:
        status.reason = f"Slurm no longer knows job {status.job_id} while status.json says {status.state}"
        status.state = "lost"
        return status
    status.nodes = job.nodes or status.nodes
    if job.state in PENDING:
        if job.reason == DEPENDENCY_FAILED:
            status.state = "failed"
            status.reason = f"dependency did not succeed ({', '.join(_after(run_dir)) or 'see run.toml'})"
            return status
        status.state = "queued"
        status.reason = f"Slurm job {job.job_id} pending: {job.reason or job.state}"
        return status
    if job.active:
        if status.state == "queued" and not status.reason:
            status.reason = f"Slurm job {job.job_id} starting on {job.nodes or '?'}"
        return status
    # The job ended. The supervisor may have written its end a moment ago: prefer that.
    if run_dir is not None:
        fresh = read_status_raw(run_dir)
        if fresh.state not in ACTIVE:
            return fresh
    status.state, status.reason = classify_job(job, _after(run_dir))
    status.ended_at = status.ended_at or time.time()
    if run_dir is not None:
        # Record it: once Slurm forgets the job (MinJobAge, no accounting), this is all that is left.
        try:
            write_status(run_dir, status)
        except OSError:
            pass
    return status


def where(status: Status) -> str:
    """Where a run lives, for the runs list and `aba ps`: ``local`` or ``slurm:<job>@<nodes>``."""
    if not status.job_id:
        return "local"
    return f"slurm:{status.job_id}" + (f"@{status.nodes}" if status.nodes else "")


def waiting_for(status: Status) -> str | None:
    """Why a queued run waits, in a few words: Slurm's pending reason, or the runs it comes after."""
    reason = status.reason or ""
    if status.state != "queued" or not reason:
        return None
    if " pending: " in reason:
        return reason.split(" pending: ", 1)[1]
    if reason.startswith("waiting for "):
        return "after " + reason.removeprefix("waiting for ").removesuffix(" to succeed")
    return None
