"""Which run folders may start a worker: a run folder is input, and its run.toml names commands
(`supervisor.notify_command`) and importable code (`abliterate.detector = "module:function"`).

The rule: only a folder you own, that no one else can write (not group/other-writable), whose run.toml is
yours and a regular file too, and that holds no symbolic link at its top, is run (`aba resume`, the
supervisor). Readers (`aba ps`,
`aba status PATH`, the UI) only read a folder: they never run or import anything named in it.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from pipeline.errors import AbaError
from pipeline.runs.layout import RUN_TOML


class UntrustedRun(AbaError):
    """A run folder aba will read but not run."""


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def untrusted(run_dir: Path) -> str | None:
    """Why ``run_dir`` must not be run, or None when it may."""
    run_dir = Path(run_dir)
    me = os.geteuid()
    for path in (run_dir, run_dir / RUN_TOML):
        try:
            st = os.lstat(path)
        except OSError as exc:
            return f"{path}: {exc.strerror}"
        if stat.S_ISLNK(st.st_mode):
            return f"{path} is a symbolic link"
        if st.st_uid != me:
            return f"{path} belongs to {_owner(st.st_uid)}, not to you ({_owner(me)})"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    # A link in the folder (checkpoints/, events.jsonl …) would make the run write or delete elsewhere.
    try:
        links = sorted(e.name for e in os.scandir(run_dir) if e.is_symlink())
    except OSError as exc:
        return f"{run_dir}: {exc.strerror}"
    if links:
        return f"{run_dir / links[0]} is a symbolic link (aba writes only inside the run folder)"
    return None


def check_runnable(run_dir: Path, run_id: str | None = None) -> None:
    """Refuse (UntrustedRun, one line) to start a worker on a folder :func:`untrusted` rejects."""
    why = untrusted(run_dir)
    if why:
        name = run_id or Path(run_dir).name
        raise UntrustedRun(f"run {name}: refusing to run it: {why} (its run.toml names commands and code to "
                           "run; take ownership and `chmod go-w` it once you have read it)")
