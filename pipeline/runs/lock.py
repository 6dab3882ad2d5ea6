"""One worker per run folder: an exclusive flock on ``<run>/.lock``.

`aba run` and `aba resume` take it before they change anything and hand the locked descriptor to the
supervisor they start (inherited across its double fork); the supervisor hands it on to its worker. A
flock belongs to the open file description, so the lock stays held while any of them lives and the kernel
drops it when the last one dies, kill -9 included. A second `aba resume`, a second supervisor, anything
that would start a worker on the folder finds it taken and refuses.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from pipeline.errors import AbaError, RunDirError
from pipeline.runs.layout import LOCK_FILE

# A reader's probe (is_held) holds the lock for microseconds: a taker retries this long before it
# concludes that a supervisor or worker holds it.
PROBE_GRACE_S = 0.5


class RunBusy(AbaError):
    """The run folder's lock is held: its supervisor or worker is alive, or another resume is starting it."""


def _open(run_dir: Path, create: bool) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | (os.O_CREAT if create else 0)
    fd = os.open(Path(run_dir) / LOCK_FILE, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(Path(run_dir) / LOCK_FILE))
    return fd


def acquire(run_dir: Path, run_id: str | None = None) -> int:
    """The locked descriptor (close it, or hand it to the supervisor); RunBusy when it is held, RunDirError
    when the folder cannot take a lock file (read-only, another user's)."""
    name = run_id or Path(run_dir).name
    try:
        fd = _open(run_dir, create=True)
    except OSError as exc:
        why = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
        raise RunDirError(f"run {name}: cannot lock {Path(run_dir) / LOCK_FILE} ({why}); the run folder must "
                          "be writable by you (a read-only runs dir cannot start or resume runs)") from None
    deadline = time.monotonic() + PROBE_GRACE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise RunBusy(f"run {name} is busy: its supervisor or worker is alive, or another `aba resume` is "
                              f"starting it (see `aba status {name}`; `aba stop {name}` ends it)") from None
            time.sleep(0.02)
        except OSError as exc:  # ENOLCK on a filesystem without locks: say so rather than run unguarded
            os.close(fd)
            raise RunDirError(f"run {name}: cannot lock {Path(run_dir) / LOCK_FILE} ({exc.strerror})") from None


def is_held(run_dir: Path) -> bool | None:
    """True while a supervisor or worker (or a starting resume) holds the lock, False when free, None when
    the folder has no lock file or it cannot be opened (an older run, another user's folder)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # closing drops our shared probe at once
