"""Process identity without psutil on the hot path: a pid plus its kernel start time.

A pid alone is not an identity (pids are reused); pid + start ticks from /proc/<pid>/stat is.
"""

from __future__ import annotations

import os


def start_ticks(pid: int) -> int | None:
    """Kernel start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(rest[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    rest = raw[raw.rfind(b")") + 2 :].split()
    return bool(rest) and rest[0] == b"Z"


def alive(pid: int | None, ticks: int | None = None) -> bool:
    """True when ``pid`` runs and, if ``ticks`` is given, is the same process that was recorded."""
    if not pid or pid <= 0:
        return False
    now = start_ticks(pid)
    if now is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return ticks is None
    if is_zombie(pid):
        return False
    return ticks is None or now == ticks
