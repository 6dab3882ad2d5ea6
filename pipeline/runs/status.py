"""status.json: the one-record truth about a run, rewritten atomically by the supervisor."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from pipeline.atomic import atomic_write_json
from pipeline.redact import redact
from pipeline.registry import resolve
from pipeline.runs.layout import STATUS_FILE
from pipeline.runs.lock import is_held
from pipeline.runs.procinfo import alive
from pipeline.safeio import read_bounded

STATUS_MAX_BYTES = 1 << 20  # a status.json is a few hundred bytes; anything past this is not one

# The states a run's status.json can hold (the supervisor writes them; docs/run-folder.md).
RunState = Literal["queued", "running", "succeeded", "failed", "oom", "stopped", "lost"]
# How a worker may end (result.json, StageFailed): a subset the supervisor can also classify itself.
EndState = Literal["succeeded", "failed", "oom", "stopped"]
STATES: tuple[RunState, ...] = get_args(RunState)
TERMINAL: frozenset[RunState] = frozenset(get_args(EndState))
ACTIVE: frozenset[RunState] = frozenset({"queued", "running"})


# launcher → "module:function" reconciling an active run's status with what its scheduler says
RECONCILERS = {"slurm": "pipeline.runs.cluster.state:reconcile"}

@dataclass
class Status:
    run_id: str
    stage: str
    state: RunState = "queued"
    pid: int | None = None
    pid_start: int | None = None  # the worker's kernel start ticks
    supervisor_pid: int | None = None
    supervisor_start: int | None = None  # kernel start ticks: tells a reused pid from ours
    host: str = field(default_factory=socket.gethostname)
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    attempt: int = 1
    parent: str | None = None
    stop_requested: bool = False
    launcher: str = "local"  # local | slurm
    job_id: str | None = None  # the Slurm job id of a cluster run
    nodes: str | None = None  # the Slurm node list the job runs on
    updated_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Status:
        """The status in ``data``; ValueError naming the field when one has the wrong type (a status.json is
        input: a string where a pid goes must not reach os.kill)."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        for key, value in kept.items():
            want = _FIELD_TYPES.get(key)
            if want is not None and not ((isinstance(value, want) and not isinstance(value, bool)) or
                                         (value is None and key not in _REQUIRED) or
                                         (want is bool and isinstance(value, bool))):
                raise ValueError(f"field {key}={str(value)[:40]!r}: expected {_EXPECTED[want]}")
        if kept.get("state", "queued") not in STATES:
            raise ValueError(f"field state={str(kept['state'])[:40]!r}: expected one of {', '.join(STATES)}")
        return cls(**kept)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


_INT, _NUM, _STR = int, (int, float), str
_FIELD_TYPES: dict[str, Any] = {
    "run_id": _STR, "stage": _STR, "state": _STR, "pid": _INT, "pid_start": _INT, "supervisor_pid": _INT,
    "supervisor_start": _INT, "host": _STR, "started_at": _NUM, "ended_at": _NUM, "exit_code": _INT,
    "signal": _INT, "reason": _STR, "attempt": _INT, "parent": _STR, "stop_requested": bool, "launcher": _STR,
    "job_id": _STR, "nodes": _STR, "updated_at": _NUM}
_REQUIRED = {"run_id", "stage", "state", "host", "attempt", "launcher", "updated_at", "stop_requested"}
_EXPECTED: dict[Any, str] = {_INT: "an integer", _NUM: "a number", _STR: "a string", bool: "true or false"}


def write_status(run_dir: Path, status: Status) -> None:
    status.updated_at = time.time()
    if status.reason:
        status.reason = redact(status.reason)
    atomic_write_json(Path(run_dir) / STATUS_FILE, status.to_dict())


def read_status_raw(run_dir: Path) -> Status:
    """The status as written, with no liveness check. Raises ValueError on a corrupt file (and OSError on
    one that is not a regular file: a FIFO, a device, a link to one)."""
    path = Path(run_dir) / STATUS_FILE
    try:
        data = json.loads(read_bounded(path, STATUS_MAX_BYTES).decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except RecursionError:
        raise ValueError(f"{path}: nested too deeply to be a status") from None
    if not isinstance(data, dict) or "run_id" not in data or "stage" not in data:
        raise ValueError(f"{path}: expected an object with run_id and stage")
    try:
        return Status.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def read_status(run_dir: Path, probe_lock: bool = True) -> Status:
    """The status a reader should show: ``lost`` when it says active but neither its supervisor nor its
    worker lives (or, for a Slurm run, what Slurm says of its job). ``probe_lock=False`` for a caller that
    holds the run's lock itself (`aba resume`)."""
    status = read_status_raw(run_dir)
    if status.job_id and status.state in ACTIVE and status.launcher in RECONCILERS:
        # The launcher's own truth (Slurm, cached): queued/pending reason, ended, lost. Named, not imported,
        # so this module stays below the launchers in the package table.
        reconciled: Status = resolve(RECONCILERS[status.launcher])(status, Path(run_dir))
        return reconciled
    local = status.state in ACTIVE and status.host == socket.gethostname()
    # A queued run whose supervisor has not written its pid yet gets a moment before it counts as lost.
    started = status.supervisor_pid is not None or time.time() - status.updated_at > 30
    if local and started and not alive(status.supervisor_pid, status.supervisor_start):
        if worker_alive(status):
            status.reason = (f"its supervisor (pid {status.supervisor_pid}) is gone; the worker (pid {status.pid}) "
                             "is stopping after a checkpoint and records the end")
        elif probe_lock and is_held(Path(run_dir)):
            status.reason = "its supervisor is gone; a process of the run still holds its lock"
        else:
            status.state = "lost"
            status.reason = status.reason or "supervisor process is gone (machine reboot or kill -9?)"
    return status


def worker_alive(status: Status) -> bool:
    """The recorded worker still runs (pid + start ticks; a pid alone may have been reused)."""
    return status.pid is not None and status.pid_start is not None and alive(status.pid, status.pid_start)
