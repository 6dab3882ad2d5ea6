"""The supervisor's writes when the disk is full, failing or read-only: the end is still recorded.

- A reserve file (``.reserve``, 1 MiB of real blocks) is held in the run folder while the run is live;
  when a status write fails with ENOSPC/EDQUOT it is released and the atomic write is tried again.
- Failing that, status.json is rewritten in place: its blocks are already ours, so a short record
  needs no new space (not atomic, so only as a last resort; JSON ignores the space padding).
- Failing that too (EROFS, EIO), the record is kept pending and retried on every tick and at the end,
  until space or the disk comes back.
Events and log lines the supervisor writes are best effort: losing one never kills the supervisor.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path

from pipeline.runs.faults.disk import WRITE_ERRNOS
from pipeline.runs.layout import RESERVE_FILE, STATUS_FILE
from pipeline.runs.status import Status, write_status

RESERVE_BYTES = 1 << 20
RETRY_S = 2.0


class RunFolderGone(Exception):
    """The run folder was deleted under a live supervisor."""


def note(message: str) -> None:
    """A line for supervisor.log (its stderr); silently lost when that disk is full."""
    try:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


class Reserve:
    def __init__(self, run_dir: Path, size: int = RESERVE_BYTES) -> None:
        self.path = Path(run_dir) / RESERVE_FILE
        self.size = size
        self.held = False

    def hold(self) -> bool:
        """Write the reserve (real blocks: a sparse file would free nothing). False when there is no room."""
        try:
            with open(self.path, "wb") as fh:
                chunk = b"\0" * (64 << 10)
                for _ in range(self.size // len(chunk)):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            self.held = True
        except OSError:
            self.release()
            return False
        return True

    def release(self) -> bool:
        """Delete the reserve; True when that freed something."""
        was = self.held
        self.held = False
        try:
            self.path.unlink()
        except OSError:
            return False
        return was


def write_in_place(path: Path, status: Status) -> bool:
    """Overwrite ``path`` without allocating: pad to its old length, one pwrite, fsync."""
    status.updated_at = time.time()
    data = (json.dumps(status.to_dict(), indent=2, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        old = os.fstat(fd).st_size
        if len(data) < old:
            data += b" " * (old - len(data))
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


class DurableStatus:
    """write_status that survives a full or failing disk (see the module docstring)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.reserve = Reserve(self.run_dir)
        self.pending: Status | None = None
        self.error: OSError | None = None
        self._next_retry = 0.0

    def moved(self, new: Path) -> None:
        """The run folder was renamed while live (the supervisor follows it)."""
        self.run_dir = Path(new)
        self.reserve.path = self.run_dir / RESERVE_FILE

    def write(self, status: Status) -> bool:
        """True when the record is on disk (atomically or in place); else it stays pending."""
        try:
            write_status(self.run_dir, status)
            self.pending = self.error = None
            return True
        except OSError as exc:
            if exc.errno == errno.ENOENT and not self.run_dir.exists():
                raise RunFolderGone(str(self.run_dir)) from exc
            if exc.errno not in WRITE_ERRNOS and exc.errno != errno.EACCES:
                raise
            if self.error is None or self.error.errno != exc.errno:
                note(f"cannot write {STATUS_FILE} ({exc.strerror}); keeping the record")
            self.error = exc
        if self.reserve.release():
            note(f"released {RESERVE_FILE} to record the state")
            return self.write(status)
        if write_in_place(self.run_dir / STATUS_FILE, status):
            self.pending = status  # on disk, but the atomic version is still owed
            return True
        self.pending = status
        return False

    def retry(self, every: float = RETRY_S) -> bool:
        """Try the pending record again (the disk may have room, or be writable, again), at most once
        every ``every`` seconds: the supervisor calls this on each tick of its wait loop."""
        if self.pending is None:
            return True
        now = time.monotonic()
        if now < self._next_retry:
            return False
        self._next_retry = now + every
        return self.write(self.pending)

    def flush(self, timeout: float, interval: float = 2.0) -> bool:
        """Retry until the record is written atomically or ``timeout`` seconds pass."""
        deadline = time.time() + timeout
        while True:
            if self.retry(every=0.0) and self.pending is None:
                return True
            if time.time() >= deadline or not self.run_dir.exists():
                return False
            time.sleep(interval)
