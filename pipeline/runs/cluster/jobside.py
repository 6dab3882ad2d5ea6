"""What the supervisor does differently inside a Slurm job: record the job, launch across the nodes, and
answer Slurm's own SIGTERM (before the time limit, or a preemption) with a checkpoint and a requeue."""

from __future__ import annotations

import os
import shlex
import socket
import sys
from typing import Any

from pipeline.runs.cluster import slurm
from pipeline.runs.cluster.schema import slurm_section
from pipeline.runs.status import Status

PORT_BASE = 29500


def is_slurm(cfg: Any) -> bool:
    return cfg.sections["supervisor"].launcher == "slurm"


def record_job(status: Status) -> None:
    """Job id and node list from the job's environment, into status.json (the UI shows where a run lives)."""
    status.launcher, status.host = "slurm", socket.gethostname()
    status.job_id = os.environ.get("SLURM_JOB_ID") or status.job_id
    status.nodes = os.environ.get("SLURM_JOB_NODELIST") or status.nodes


def multinode_command(cfg: Any, worker_args: list[str], env: dict[str, str] | None = None) -> list[str] | None:
    """``srun`` + ``accelerate launch`` on every node of the allocation, or None for one node.

    One srun task a node runs accelerate, which starts one process a GPU; machine rank, main process
    address and port come from the Slurm environment (the first node of the list is rank 0)."""
    sec, sup = slurm_section(cfg), cfg.sections["supervisor"]
    if sec.nodes <= 1:
        return None
    env = dict(os.environ if env is None else env)
    nodelist = env.get("SLURM_JOB_NODELIST", "")
    head = slurm.expand_nodes(nodelist)[0] if nodelist else "127.0.0.1"
    port = PORT_BASE + int(env.get("SLURM_JOB_ID", "0") or 0) % 1000  # two jobs on one head node differ
    per_node = max(1, sec.gpus_per_node)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", str(sec.nodes),
              "--num_processes", str(sec.nodes * per_node), "--main_process_ip", head,
              "--main_process_port", str(port)]
    launch += ["--config_file", sup.accelerate_config] if sup.accelerate_config else (
        ["--multi_gpu"] if sec.gpus_per_node else ["--cpu", "--multi_gpu"])
    inner = shlex.join(launch) + ' --machine_rank "$SLURM_NODEID" ' + shlex.join(
        ["-m", "pipeline.runs.worker", *worker_args])
    return ["srun", f"--nodes={sec.nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "bash", "-c", inner]


def after_slurm_signal(cfg: Any, status: Status) -> bool:
    """The worker stopped on a SIGTERM from Slurm, not `aba stop`: requeue (True) or end stopped (False).

    A job Slurm is ending (scancel, preemption) is already COMPLETING while its supervisor finishes; one
    still RUNNING got the ``--signal`` sent before the time limit."""
    job = None
    if status.job_id:
        slurm.forget_cache()
        try:
            job = slurm.lookup(status.job_id)
        except slurm.SlurmError:
            pass
    if job is not None and job.state != "RUNNING":
        status.reason = (f"Slurm job {status.job_id} cancelled (scancel or preemption); stopped with a "
                         "checkpoint; aba resume continues from it")
        return False
    if slurm_section(cfg).requeue and status.job_id:
        status.state, status.attempt = "queued", status.attempt + 1
        status.reason = "requeued after a checkpoint before the Slurm time limit; resumes from it"
        return True
    status.reason = ("stopped with a checkpoint on Slurm's signal before the time limit (or a preemption); "
                     "aba resume continues from it")
    return False


def requeue(status: Status) -> None:
    assert status.job_id is not None
    try:
        slurm.requeue(status.job_id)
    except slurm.SlurmError as exc:
        print(f"supervisor: requeue failed: {exc}", file=sys.stderr, flush=True)
