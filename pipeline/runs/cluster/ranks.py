"""One stop decision for every rank of a distributed (DDP) worker.

A stop request (SIGTERM) or a NaN guard's verdict can reach the ranks at different moments; a rank
that leaves the loop alone leaves the others blocked in the next collective. So at each optimizer step
every rank offers its flag and all take the same answer (an all-reduce of the flags over the process
group): rank 0's request decides for all, and so does any other rank's, at the same step.
torch is imported only when a process group exists, so this module stays light.
"""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def distributed() -> bool:
    """A process group is up (created by accelerate/Trainer) with more than one rank."""
    if world_size() <= 1:
        return False
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over every rank, the same tuple on all of them (one collective for all flags)."""
    if not distributed():
        return flags
    import torch
    import torch.distributed as dist

    device = torch.device("cpu")
    if dist.get_backend() == "nccl":  # NCCL reduces only tensors on the GPU
        device = torch.device("cuda", torch.cuda.current_device())
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def may_stop_early(stop_requested: bool) -> bool:
    """Before the process group exists, only a single process may return early: a rank that leaves
    then would leave the others waiting for it in the group's rendezvous."""
    return stop_requested and world_size() <= 1


# torch's elastic agent (under `accelerate launch`) forwards a SIGTERM to the ranks and SIGKILLs them 30 s
# later: too soon for a large checkpoint. The supervisor's grace period (at most an hour) governs instead.
LAUNCHER_ENV = {"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "3700"}
PR_SET_PDEATHSIG = 1


def die_with_launcher() -> None:
    """A rank runs in a session of its own (the elastic agent starts it so): ask the kernel to SIGKILL it
    when the agent dies, so a supervisor that kills the agent after the grace period leaves no rank behind."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to ask
        pass
