"""A worker dies with its supervisor: never two workers on one run folder, never a worker nobody watches.

The worker asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG) and checks the supervisor's
pid + start ticks (``$ABA_SUPERVISOR``, set by the supervisor) every half second, which also covers a
worker started through `accelerate launch`. Either way it stops as on `aba stop` (a checkpoint, then
exit) within the run's grace period, and records the end the dead supervisor no longer can. Until it
exits it still holds the run's lock (inherited from the supervisor), so no `aba resume` can start a
second worker meanwhile.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.runs.procinfo import alive, start_ticks
from pipeline.runs.status import EndState, read_status_raw, write_status

SUPERVISOR_ENV = "ABA_SUPERVISOR"  # "<host> <pid> <start ticks>" of the supervisor that started this worker
PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def supervisor_identity() -> str:
    """What the supervisor puts in its worker's environment."""
    pid = os.getpid()
    return f"{socket.gethostname()} {pid} {start_ticks(pid) or 0}"


def parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` when this process's parent exits (Linux); False where it cannot."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class SupervisorWatch:
    """Watches the supervisor from inside the worker; calls ``on_gone`` once when it is gone."""

    def __init__(self, on_gone: Callable[[], None], value: str | None = None) -> None:
        self.on_gone = on_gone
        self.pid: int | None = None
        self.ticks: int | None = None
        self.gone_at: float | None = None
        parts = (value if value is not None else os.environ.get(SUPERVISOR_ENV, "")).split()
        # Another node's supervisor (a multi-node Slurm job) cannot be seen from here: Slurm ends its ranks.
        if len(parts) == 3 and parts[0] == socket.gethostname() and parts[1].isdigit() and parts[2].isdigit():
            self.pid, self.ticks = int(parts[1]), int(parts[2]) or None
        self._thread: threading.Thread | None = None

    @property
    def orphaned(self) -> bool:
        return self.gone_at is not None

    def check(self) -> bool:
        """True (and ``on_gone`` called, once) when the supervisor is gone."""
        if self.pid is None or self.gone_at is not None:
            return self.gone_at is not None
        if alive(self.pid, self.ticks):
            return False
        self.gone_at = time.time()
        self.on_gone()
        return True

    def start(self) -> None:
        if self.pid is None:
            return
        self._thread = threading.Thread(target=self._loop, name="aba-supervisor-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self.check():
            time.sleep(POLL_S)


def record_end(run_dir: Path, state: EndState, reason: str, exit_code: int | None) -> None:
    """Write the end into status.json in the dead supervisor's place (best effort: a reader then shows
    ``lost``, which is still true)."""
    try:
        st = read_status_raw(run_dir)
        st.state, st.reason, st.exit_code, st.signal = state, reason, exit_code, None
        st.ended_at, st.pid, st.pid_start = time.time(), None, None
        write_status(run_dir, st)
    except (OSError, ValueError):
        pass
