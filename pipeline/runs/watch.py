"""What the supervisor watches while a worker runs, besides its exit: a hung worker, a filling disk,
a deleted or moved run folder; and how a disk-full end is told and cleaned up.

The supervisor calls :meth:`AttemptWatch.tick` from its wait loop and :meth:`AttemptWatch.refine` on
the classified end; everything here is best effort and never raises into the supervisor.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.runs.classify import Outcome
from pipeline.runs.emitter import Emitter
from pipeline.runs.faults.disk import cleanup_partial, disk_full_reason, fmt_bytes, looks_full, space
from pipeline.runs.faults.stall import StallWatch, fmt_minutes
from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.vocabulary import EventType

DISK_POLL_S = 5.0


class FolderWatch:
    """Where the run folder is now: the supervisor holds it open, so a rename is seen (and followed) and a
    deletion is told from a move."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        st = os.fstat(self.fd)
        self.ident = (st.st_dev, st.st_ino)

    def check(self) -> Path | None:
        """None while the folder is where it was; its new path after a rename; raises FileNotFoundError
        once it is deleted."""
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self.ident:
                return None
        except FileNotFoundError:
            pass
        if os.fstat(self.fd).st_nlink == 0:
            raise FileNotFoundError(str(self.path))
        new = os.readlink(f"/proc/self/fd/{self.fd}")
        if new.endswith(" (deleted)") or not os.path.isdir(new):
            raise FileNotFoundError(str(self.path))
        return Path(new)

    def moved(self, new: Path) -> None:
        self.path = Path(new)


class AttemptWatch:
    def __init__(self, run_dir: Path, sup: Any, events: Emitter, signal_worker: Callable[[int], None],
                 on_moved: Callable[[Path], None] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.folder = FolderWatch(self.run_dir)
        self.on_moved = on_moved
        self.sup = sup  # the [supervisor] section
        self.events = events
        self.signal_worker = signal_worker
        self.stall = StallWatch(float(getattr(sup, "stall_timeout", 0.0)), self.run_dir / EVENTS_FILE)
        self.low_mb = float(getattr(sup, "disk_low_mb", 0.0))
        self.stalled_for: float | None = None
        self.kill_at: float | None = None
        self.gone = False
        self._disk_next = 0.0
        self._disk_low = False

    def begin(self) -> None:
        """A new attempt: forget the last one's stall."""
        self.stall = StallWatch(self.stall.timeout, self.stall.events_path)
        self.stalled_for = self.kill_at = None

    def moved(self, new: Path) -> None:
        """Follow the run folder to ``new`` (the supervisor calls this from ``on_moved``)."""
        self.run_dir = Path(new)
        self.folder.moved(new)
        self.stall.events_path = self.run_dir / EVENTS_FILE

    def tick(self, pgid: int, now: float | None = None) -> None:
        now = time.time() if now is None else now
        try:
            new = None if self.gone else self.folder.check()
        except FileNotFoundError:
            # Deleted under us: nothing can be recorded; free the GPU at least. SIGKILL, not SIGTERM: a
            # stopped stage saves a checkpoint, and saving would create the deleted folder again (a run
            # the operator removed would come back as "stopped").
            self.gone = True
            self.signal_worker(signal.SIGKILL)
            self.kill_at = None
            new = None
        if new is not None and self.on_moved is not None:
            self.on_moved(new)
        if self.kill_at is not None and now >= self.kill_at:
            self.signal_worker(signal.SIGKILL)
            self.kill_at = None
        self._check_stall(pgid, now)
        if now >= self._disk_next:
            self._disk_next = now + DISK_POLL_S
            self._check_disk()

    def _check_stall(self, pgid: int, now: float) -> None:
        if self.stalled_for is not None:
            return
        what = self.stall.poll(pgid, now)
        if what == "warn":
            self.events.emit(EventType.ALERT, code="stall_timeout", level="warning",
                             message=self.stall.warning(self.sup.grace_seconds, now))
            self.stall.own_write()
        elif what == "stall":
            self.stalled_for = self.stall.idle(now)
            self.events.emit(EventType.ALERT, code="stalled", level="error",
                             message=f"stalled for {fmt_minutes(self.stalled_for)} (no event, no CPU): sending "
                             f"SIGTERM, SIGKILL in {self.sup.grace_seconds:g} s")
            self.signal_worker(signal.SIGTERM)
            self.signal_worker(signal.SIGCONT)  # a stopped worker cannot take SIGTERM until it runs
            self.kill_at = now + self.sup.grace_seconds

    def _check_disk(self) -> None:
        if self.low_mb <= 0:
            return
        s = space(self.run_dir)
        if s is None:
            return
        low = s.free < self.low_mb * (1 << 20)
        if low and not self._disk_low:
            self.events.emit(EventType.ALERT, code="disk_low", level="warning",
                             message=f"runs dir low on space: {s.describe()} (below supervisor.disk_low_mb = "
                             f"{self.low_mb:g} MiB); a checkpoint that does not fit fails the run")
            self.stall.own_write()
        # Re-arm only once clearly above the line, so a disk hovering at it does not flood events.
        if low or s.free > self.low_mb * (1 << 20) * 1.1:
            self._disk_low = low

    def refine(self, out: Outcome, err_tail: str) -> Outcome:
        """The end as the operator should read it: stalled, or disk full (after removing the half-written
        checkpoint, so the space comes back for `aba resume`)."""
        if self.stalled_for is not None:
            how = "SIGKILL after the grace" if out.signal == signal.SIGKILL else "SIGTERM"
            return Outcome("failed", out.exit_code, out.signal,
                           f"stalled for {fmt_minutes(self.stalled_for)}: no new event and no CPU use; "
                           f"ended with {how}")
        if out.state in ("succeeded", "stopped", "oom"):
            return out
        reason = out.reason or ""
        if not (reason.startswith("disk full") or looks_full(self.run_dir)):
            return out
        if not reason.startswith("disk full while"):  # the worker could not say where: say it here
            detail = reason.removeprefix("disk full: ") if reason.startswith("disk full") else (
                f"the worker died ({reason})" if reason else None)
            reason = disk_full_reason(self.run_dir, detail)
        removed = cleanup_partial(self.run_dir)
        if removed:
            after = space(self.run_dir)
            reason += f"; removed half-written {', '.join(removed)}" + (
                f" ({fmt_bytes(after.free)} free now)" if after else "")
        return Outcome("failed", out.exit_code, out.signal, reason[:800])
