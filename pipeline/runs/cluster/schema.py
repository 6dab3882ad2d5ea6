"""The ``[slurm]`` config section: what `aba run` asks Slurm for when ``supervisor.launcher = "slurm"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config.fields import opt


@dataclass
class SlurmSection:
    partition: str = opt("", "partition (-p); empty: the cluster's default")
    nodes: int = opt(1, "nodes; >1 starts the worker with srun + accelerate on every node", min=1, max=1024)
    gpus_per_node: int = opt(0, "GPUs a node (--gpus-per-node); the worker gets one process a GPU", min=0, max=64)
    cpus_per_task: int = opt(1, "CPUs for the job's task on each node (--cpus-per-task)", min=1, max=1024)
    mem: str = opt("", "memory a node (--mem), e.g. 64G; empty: the cluster's default")
    time: str = opt("", "time limit (--time), e.g. 12:00:00; empty: the partition's default")
    account: str = opt("", "account (-A)")
    qos: str = opt("", "quality of service (--qos)")
    signal_before: int = opt(120, "seconds before the time limit that Slurm sends SIGTERM (sbatch --signal), "
                             "so the stage checkpoints; 0: off", min=0, max=65535)
    requeue: bool = opt(False, "after that checkpoint, requeue the job (it resumes from the checkpoint)")
    extra: list[str] = opt([], "more sbatch options, one string each, e.g. --constraint=a100 and --exclusive")


def slurm_section(cfg: Any) -> SlurmSection:
    """The run's [slurm] section; Slurm's defaults for a stage (a plugin's) that declares none."""
    sec = cfg.sections.get("slurm")
    return sec if isinstance(sec, SlurmSection) else SlurmSection()
