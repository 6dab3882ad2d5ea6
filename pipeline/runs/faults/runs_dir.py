"""The runs dir itself at fault: a status.json another user owns, a read-only, unwritable or full
filesystem. Readers (`aba ps`, the UI) turn each into a state or one line, never a traceback."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from pipeline.runs.faults.disk import FULL_FLOOR, mount_point, space


def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def read_error(path: Path, exc: BaseException) -> tuple[str, str]:
    """(state, reason) for a status.json that could not be read: ``unreadable`` when permissions
    stand in the way (it is another user's run), else ``corrupt``."""
    if isinstance(exc, PermissionError):
        try:
            st = os.stat(path)
            who = f"owned by {_owner(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):o}"
        except OSError:
            who = "its folder is not readable"
        return "unreadable", (f"{path}: permission denied ({who}); another user's run: read it as that user "
                              "or make it readable")
    return "corrupt", str(exc)


def readonly(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def runs_dir_warning(root: Path) -> str | None:
    """One line when the runs dir cannot take writes (live runs cannot record their state), else None."""
    root = Path(root)
    if not root.is_dir():
        return None
    if readonly(root):
        return (f"runs dir {root} is on a read-only filesystem ({mount_point(root)}): live runs cannot record "
                "their state or checkpoints until it is writable again; new runs cannot start")
    if not os.access(root, os.W_OK | os.X_OK):
        return f"runs dir {root} is not writable by this user: new runs cannot start here"
    s = space(root)
    if s is not None and s.free < FULL_FLOOR:
        return f"runs dir {root} is full ({s.describe()}): live runs fail at their next write"
    return None
