"""How a worker ended: succeeded, oom, failed or stopped, with a one-line reason (disk full included)."""

from __future__ import annotations

import re
import signal as _signal
from dataclasses import dataclass
from pathlib import Path

from pipeline.runs.status import RunState

OOM_PATTERNS = (
    re.compile(r"torch\.(cuda\.)?OutOfMemoryError"),
    re.compile(r"CUDA out of memory", re.I),
    re.compile(r"(^|\W)MemoryError\b"),
    re.compile(r"out of memory", re.I),
)
# A full disk (or quota) as Python, torch's zip writer, safetensors and a short write report it.
DISK_FULL_PATTERNS = (
    re.compile(r"No space left on device|\bENOSPC\b|\[Errno 28\]|StorageFull", re.I),
    re.compile(r"Disk quota exceeded|\bEDQUOT\b|\[Errno 122\]", re.I),
    re.compile(r"unexpected pos \d+"),  # torch.save's PytorchStreamWriter when a write came up short
    re.compile(r"PytorchStreamWriter failed writing|file write failed", re.I),
    re.compile(r"\bshort write\b", re.I),
)
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt)|RuntimeError|AssertionError)\b.*")


@dataclass
class Outcome:
    state: RunState
    exit_code: int | None
    signal: int | None
    reason: str | None


def signal_name(num: int) -> str:
    try:
        return _signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def last_error(stderr_tail: str) -> str | None:
    lines = [ln.rstrip() for ln in stderr_tail.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if _ERROR_LINE.match(ln):
            return ln.strip()[:500]
    return lines[-1].strip()[:500] if lines else None


def disk_full_line(text: str) -> str | None:
    """The last line of ``text`` that reports a full disk, or None."""
    for ln in reversed(text.splitlines()):
        if any(p.search(ln) for p in DISK_FULL_PATTERNS):
            return ln.strip()[:300]
    return None


def classify(returncode: int, stderr_tail: str, stop_requested: bool,
             worker_result: dict | None = None, oom_killed: bool = False) -> Outcome:
    sig = -returncode if returncode < 0 else None
    code = returncode if returncode >= 0 else None
    if stop_requested:
        return Outcome("stopped", code, sig, "stopped on request"
                       + (f" (killed with {signal_name(sig)} after the grace period)" if sig == 9 else ""))
    if worker_result and worker_result.get("state") in ("failed", "oom", "stopped"):
        return Outcome(worker_result["state"], code, sig, worker_result.get("reason"))
    if returncode == 0:
        return Outcome("succeeded", 0, None, None)
    full = disk_full_line(stderr_tail)
    if full:  # before OOM: "unexpected pos" and ENOSPC are not memory, whatever else the tail says
        return Outcome("failed", code, sig, f"disk full: {full}")
    if any(p.search(stderr_tail) for p in OOM_PATTERNS):
        return Outcome("oom", code, sig, last_error(stderr_tail) or "out of memory")
    if sig == _signal.SIGKILL and oom_killed:
        return Outcome("oom", code, sig, "killed by the kernel OOM killer (SIGKILL)")
    if sig is not None:
        detail = last_error(stderr_tail)
        why = f"killed by {signal_name(sig)} (signal {sig})"
        return Outcome("failed", code, sig, why + (f"; last error: {detail}" if detail and sig != 9 else ""))
    return Outcome("failed", code, sig, last_error(stderr_tail) or f"exited with code {returncode}")


def oom_kill_count() -> int | None:
    """The cgroup's oom_kill counter (cgroup v2), or None where it cannot be read."""
    try:
        rel = Path("/proc/self/cgroup").read_text().strip().splitlines()[-1].split(":", 2)[2]
    except (OSError, IndexError):
        return None
    for base in (Path("/sys/fs/cgroup") / rel.lstrip("/"), Path("/sys/fs/cgroup")):
        try:
            for line in (base / "memory.events").read_text().splitlines():
                key, _, val = line.partition(" ")
                if key == "oom_kill":
                    return int(val)
        except (OSError, ValueError):
            continue
    return None


def read_tail(path: Path, start: int = 0, limit: int = 64 * 1024) -> str:
    """Text of ``path`` from ``start`` (the attempt's first byte), at most the last ``limit`` bytes."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            end = fh.tell()
            fh.seek(max(start, end - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
