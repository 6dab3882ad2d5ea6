"""Process identity without psutil on the hot path: a pid plus its kernel start time.

A pid alone is not an identity (pids are reused); pid + start ticks from /proc/<pid>/stat is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator


def stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (``[0]`` is the state, ``[1]`` the parent pid,
    ``[2]`` the process group, ``[11:15]`` the CPU ticks, ``[19]`` the start time), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(b")") + 2 :].split()


def all_stats() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, ``stat_fields``) of every process; nothing where there is no /proc. A process that ends
    meanwhile is left out."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit() and (fields := stat_fields(name)) is not None:
            yield int(name), fields


def start_ticks(pid: int) -> int | None:
    """Kernel start time of ``pid`` in clock ticks since boot, or None if it is gone."""
    rest = stat_fields(pid)
    try:
        return int(rest[19]) if rest is not None else None  # field 22 overall
    except (IndexError, ValueError):
        return None


def is_zombie(pid: int) -> bool:
    rest = stat_fields(pid)
    return rest is not None and rest[:1] == [b"Z"]


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
