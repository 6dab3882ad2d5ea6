"""The Slurm CLI (sbatch, squeue, sacct, scancel, scontrol) as functions: Slurm schedules, we only ask.

Job states are read with one ``squeue --states=all`` for every job of ours (it also lists jobs that ended
less than ``MinJobAge`` ago), cached for a moment so a runs list of fifty cluster runs costs one call;
jobs squeue no longer knows are looked up in ``sacct`` (accounting), whose terminal answers are kept.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_text
from pipeline.errors import AbaError
from pipeline.runs.layout import SLURM_JOB_OUTPUT, SLURM_JOB_SCRIPT

CACHE_SECONDS = 2.0
FAILURE_SECONDS = 60.0  # how long a failed squeue is believed before Slurm is asked again
QUERY_TIMEOUT = 10.0
PENDING = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
ACTIVE = PENDING | {"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "RESIZING",
                    "STAGE_OUT"}


class SlurmError(AbaError):
    """A Slurm command is missing or refused a request."""


@dataclass(frozen=True)
class Job:
    job_id: str
    state: str  # Slurm's JobState: PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, ...
    reason: str = ""  # the pending reason (Resources, Priority, Dependency, JobHeldUser, ...)
    nodes: str = ""
    exit_code: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def run_cli(cmd: list[str], timeout: float = 30.0) -> str:
    """stdout of a Slurm command; one clear error when it is missing, times out or fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise SlurmError(f"{cmd[0]}: not found (supervisor.launcher = \"slurm\" needs the Slurm client "
                         "commands on PATH: run aba on a login node of the cluster)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{shlex.join(cmd)}: no answer from Slurm in {timeout:g} s") from None
    if proc.returncode != 0:
        msg = (proc.stderr.strip() or proc.stdout.strip() or f"exit code {proc.returncode}").splitlines()[-1]
        raise SlurmError(f"{shlex.join(cmd[:2])}…: {msg}")
    return proc.stdout


# -- submit ----------------------------------------------------------------------------------------
def sbatch_options(sec: Any, run_id: str, run_dir: Path) -> list[str]:
    """The job's ``#SBATCH`` options from a [slurm] section."""
    opts = [f"--job-name=aba-{run_id}"[:120], f"--output={run_dir / SLURM_JOB_OUTPUT}", f"--chdir={os.getcwd()}",
            f"--nodes={sec.nodes}", "--ntasks-per-node=1", f"--cpus-per-task={sec.cpus_per_task}"]
    if sec.gpus_per_node:
        opts.append(f"--gpus-per-node={sec.gpus_per_node}")
    for flag, value in (("--partition", sec.partition), ("--mem", sec.mem), ("--time", sec.time),
                        ("--account", sec.account), ("--qos", sec.qos)):
        if value:
            opts.append(f"{flag}={value}")
    if sec.signal_before:
        # B: only the batch shell (the supervisor) gets it; it stops the worker with a checkpoint.
        opts.append(f"--signal=B:TERM@{sec.signal_before}")
    opts.append("--requeue" if sec.requeue else "--no-requeue")
    return opts + list(sec.extra)


def job_script(sec: Any, run_id: str, run_dir: Path, resume: bool) -> str:
    """A batch script that runs the run's supervisor in the foreground on the first allocated node."""
    opts = sbatch_options(sec, run_id, run_dir)
    for o in opts:  # the config refuses them already; a line break here would be a shell line of its own
        if any(c in o for c in "\n\r\0"):
            raise SlurmError(f"sbatch option {o.splitlines()[0]!r}…: holds a line break (refusing to write it)")
    lines = ["#!/bin/bash"] + [f"#SBATCH {shlex.quote(o)}" for o in opts]
    # -P: the job's working directory cannot shadow our modules; our package root goes on PYTHONPATH
    # instead, as the local launcher does (a source checkout run without installing).
    sup = [sys.executable, "-P", "-m", "pipeline.runs.supervisor", str(run_dir), "--foreground"]
    root = shlex.quote(str(Path(__file__).resolve().parents[3]))
    lines += [
        "# Written by aba; the run folder must be on a filesystem every node shares.",
        f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}",
        f"resume={'--resume' if resume else ''}",
        "# A job Slurm requeued (time limit with slurm.requeue, preemption) continues from its checkpoint.",
        'if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then resume=--resume; fi',
        f"exec {shlex.join(sup)} $resume",
    ]
    return "\n".join(lines) + "\n"


def submit(run_dir: Path, sec: Any, resume: bool = False, after_jobs: list[str] | None = None) -> str:
    """Write the job script into the run folder and sbatch it; returns the job id."""
    run_dir = Path(run_dir).resolve()
    script = run_dir / SLURM_JOB_SCRIPT
    atomic_write_text(script, job_script(sec, run_dir.name, run_dir, resume))
    cmd = ["sbatch", "--parsable"]
    if after_jobs:
        # A dependency that fails makes Slurm cancel this job (reason DependencyNeverSatisfied).
        cmd += ["--dependency=afterok:" + ":".join(after_jobs), "--kill-on-invalid-dep=yes"]
    out = run_cli([*cmd, str(script)])
    job_id = out.strip().split(";")[0]
    if not job_id.isdigit():
        raise SlurmError(f"sbatch: unexpected answer {out.strip()!r} (expected a job id)")
    forget_cache()
    return job_id


# -- state -----------------------------------------------------------------------------------------
_lock = threading.Lock()
_squeue: tuple[float, dict[str, Job]] | None = None
_failed: tuple[float, SlurmError] | None = None
_sacct_final: dict[str, Job] = {}
_sacct_miss: dict[str, float] = {}  # job id → when sacct last could not tell


def _squeue_all(fresh: bool = False) -> dict[str, Job]:
    global _squeue, _failed
    with _lock:
        if not fresh and _squeue is not None and time.monotonic() - _squeue[0] < CACHE_SECONDS:
            return _squeue[1]
        # Slurm unreachable a moment ago: say so at once rather than make every reader wait on it again.
        if _failed is not None and time.monotonic() - _failed[0] < FAILURE_SECONDS:
            raise _failed[1]
    try:
        out = run_cli(["squeue", "--me", "--states=all", "--noheader", "--format=%i|%T|%r|%N"],
                      timeout=QUERY_TIMEOUT)
    except SlurmError as exc:
        with _lock:
            _failed = (time.monotonic(), exc)
        raise
    _failed = None
    jobs = {}
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            jid, state, reason, nodes = parts
            jobs[jid] = Job(jid, state, "" if reason in ("None", "(null)") else reason, nodes)
    with _lock:
        _squeue = (time.monotonic(), jobs)
    return jobs


def _sacct(job_id: str) -> Job | None:
    if job_id in _sacct_final:
        return _sacct_final[job_id]
    if time.monotonic() - _sacct_miss.get(job_id, -FAILURE_SECONDS) < FAILURE_SECONDS:
        return None
    _sacct_miss[job_id] = time.monotonic()  # cleared by an answer below
    try:
        out = run_cli(["sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job_id,
                       "--format=JobID,State,Reason,NodeList,ExitCode"], timeout=QUERY_TIMEOUT)
    except SlurmError:
        return None  # accounting off (no slurmdbd), or not reachable: nothing more to learn
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 5 and parts[0] == job_id:
            # "CANCELLED by 1000" → CANCELLED
            job = Job(job_id, parts[1].split()[0], "" if parts[2] == "None" else parts[2], parts[3], parts[4])
            if not job.active:
                _sacct_final[job_id] = job
            _sacct_miss.pop(job_id, None)
            return job
    return None


def lookup(job_id: str) -> Job | None:
    """What Slurm knows of a job now; None when neither squeue nor sacct knows it."""
    job = _squeue_all().get(job_id)
    if job is None and job_id not in _sacct_final:
        job = _squeue_all(fresh=True).get(job_id)  # a job submitted since the cached answer
    return job if job is not None else _sacct(job_id)


def forget_cache() -> None:
    """After we changed a job (submit, cancel): the next lookup asks Slurm again."""
    global _squeue, _failed
    with _lock:
        _squeue = _failed = None
        _sacct_miss.clear()


# -- control ---------------------------------------------------------------------------------------
def signal_batch(job_id: str, sig: str = "TERM") -> None:
    """Signal the batch step: the supervisor, which forwards the stop to its worker."""
    run_cli(["scancel", f"--signal={sig}", "--batch", job_id])
    forget_cache()


def cancel(job_id: str) -> None:
    run_cli(["scancel", job_id])
    forget_cache()


def cancel_later(job_id: str, seconds: float) -> None:
    """Cancel the job if it still runs ``seconds`` from now (a supervisor stuck past its grace period).

    A detached shell, so nothing in the CLI or the UI waits for it; it leaves as soon as Slurm no longer
    lists the job (or cannot be asked)."""
    script = (f"end=$((SECONDS + {max(0, int(seconds))})); "
              f"while [ $SECONDS -lt $end ]; do "
              f"timeout 10 squeue --noheader --jobs={job_id} --format=%T 2>/dev/null | grep -q . || exit 0; "
              f"sleep 2; done; scancel {job_id}")
    subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def requeue(job_id: str) -> None:
    run_cli(["scontrol", "requeue", job_id])


def expand_nodes(nodelist: str) -> list[str]:
    """``node[01-03]`` → the host names (scontrol does the expansion)."""
    return run_cli(["scontrol", "show", "hostnames", nodelist]).split()
