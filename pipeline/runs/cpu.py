"""How many CPU threads a worker uses: the cores free when it starts, unless ``supervisor.threads`` says.

torch (and OpenMP/BLAS under it) starts one thread per core. On a shared 2-core box whose cores are
already busy, those threads fight the other jobs and each other, and a step takes several times longer
than with one thread (benchmarks/bench_worker_threads.py). The load average says how many cores are
taken; the rest are ours. Set in the environment before torch is imported, so OpenMP reads it too.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """Cores not taken by other work (1-minute load average), at least one."""
    cores = cores or usable_cores()
    load = os.getloadavg()[0] if load is None else load
    return max(1, min(cores, int(cores - load + 0.5)))


def pick_threads(requested: int, cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(threads, why) for a worker: ``requested`` when > 0, else the free cores."""
    if requested > 0:
        return requested, "supervisor.threads"
    cores = cores or usable_cores()
    load = os.getloadavg()[0] if load is None else load
    n = free_cores(cores, load)
    return n, f"{n} of {cores} cores free (load average {load:.1f}); supervisor.threads overrides"


def apply_threads(n: int) -> None:
    """Tell OpenMP/BLAS (and torch, if already imported) to use ``n`` threads."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
