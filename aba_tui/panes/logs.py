"""Log tails: a run's stdout.log, stderr.log, events.jsonl or supervisor.log, followed live.

Reading happens in a worker thread that keeps a byte offset (only new bytes are read; truncation
or replacement restarts from the top), so a 1 GB log costs the UI nothing.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Log
from textual.worker import get_current_worker

from pipeline.monitor.series import tail_window

LOG_FILES = ("stdout.log", "stderr.log", "events.jsonl", "supervisor.log")
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
FIRST_LINES = 500
READ_LIMIT = 1 << 20


def clean_line(raw: bytes) -> str:
    """One displayable line: colour codes dropped, a progress bar's carriage returns collapsed to
    its latest state."""
    raw = ANSI.sub(b"", raw)
    if b"\r" in raw:
        parts = [p for p in raw.split(b"\r") if p.strip()]
        raw = parts[-1] if parts else b""
    return raw.decode("utf-8", "replace").rstrip()


class LogView(Log):
    """Follows one file of one run."""

    can_focus = True
    HELP = """\
## Logs
The highlighted run's output, followed live: `f` switches between stdout.log, stderr.log, events.jsonl and
supervisor.log; `end` jumps to the newest line (and keeps following)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_file", "File", id="logs.file"),
        Binding("end", "follow_end", "Follow", id="logs.follow", show=False),
    ]

    # Widget.virtual_size re-lays out the whole screen on every change, i.e. on every line written.
    # A log's size never moves its neighbours: update its own scroll region and scrollbar instead
    # (a scrollbar appearing still re-lays out, through show_vertical_scrollbar).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted:
            self._scroll_update(size)

    def __init__(self, poll_s: float = 0.25, **kwargs: object) -> None:
        super().__init__(max_lines=5000, highlight=False, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self.poll_s = poll_s
        self.run_dir: Path | None = None
        self.file_path: Path | None = None
        self.file_name = LOG_FILES[0]
        self.label = ""
        # Batched: lines from the follower wait for flush() (the dashboard's 1 Hz tick), since each
        # write re-lays out the screen. Unbatched (the full-screen log view): written at once.
        self.batched = False
        self._pending: list[str] = []
        self._pending_reset = False

    def show(self, run_dir: Path | None, label: str = "", file_path: Path | None = None) -> None:
        """Follow ``run_dir``/<current file>, or a single file (a foreign log)."""
        if run_dir == self.run_dir and file_path == self.file_path:
            return
        self.run_dir, self.file_path, self.label = run_dir, file_path, label
        self._restart()

    def _target(self) -> Path | None:
        if self.file_path is not None:
            return self.file_path if self.file_path.is_file() else None
        return self.run_dir / self.file_name if self.run_dir is not None else None

    def _restart(self) -> None:
        path = self._target()
        name = path.name if path else "-"
        self.border_title = f"{self.label} · {name}" if self.label else name
        self._pending, self._pending_reset = [], False
        self.clear()
        if path is None:
            self.write_line("(no run selected)" if self.run_dir is None and self.file_path is None else "(no log file)")
            self.workers.cancel_group(self, "logs")
            return
        self._follow(path)

    def action_cycle_file(self) -> None:
        if self.file_path is not None:
            return
        i = LOG_FILES.index(self.file_name) if self.file_name in LOG_FILES else 0
        self.file_name = LOG_FILES[(i + 1) % len(LOG_FILES)]
        self._restart()

    def action_follow_end(self) -> None:
        self.auto_scroll = True
        self.scroll_end(animate=False)

    def _write(self, lines: list[str], reset: bool = False, now: bool = False) -> None:
        if reset:
            self._pending, self._pending_reset = [], True
        self._pending.extend(lines)
        if now or not self.batched:
            self.flush()

    def flush(self) -> None:
        if self._pending_reset:
            self.clear()
            self._pending_reset = False
        if self._pending:
            lines, self._pending = self._pending, []
            self.write_lines(lines[-self.max_lines:] if self.max_lines else lines)

    @work(thread=True, exclusive=True, exit_on_error=False, group="logs")
    def _follow(self, path: Path) -> None:
        worker = get_current_worker()
        offset, inode, partial = 0, None, b""
        waiting_shown = placeholder = False
        while not worker.is_cancelled:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if not waiting_shown:
                    self.app.call_from_thread(self._write, [f"(waiting for {path.name})"], True, True)
                    waiting_shown = placeholder = True
                self._sleep(worker)
                continue
            reset = False
            if inode is None:
                lines, offset, inode = tail_window(path, FIRST_LINES)
                placeholder = not lines
                shown = [clean_line(r) for r in lines] or [f"({path.name} is empty so far)"]
                self.app.call_from_thread(self._write, shown, True, True)
                continue
            if st.st_ino != inode or st.st_size < offset:
                offset, inode, partial, reset = 0, st.st_ino, b"", True
            if st.st_size > offset:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read(min(READ_LIMIT, st.st_size - offset))
                offset += len(chunk)
                data = partial + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    partial = data
                else:
                    partial = data[cut + 1:]
                    cleaned = [clean_line(r) for r in data[:cut].split(b"\n")]
                    if not worker.is_cancelled:
                        self.app.call_from_thread(self._write, cleaned, reset or placeholder)
                        placeholder = False
                if st.st_size > offset:
                    continue  # more backlog: read on without sleeping
            elif reset:
                self.app.call_from_thread(self._write, [], True)
            self._sleep(worker)

    def _sleep(self, worker) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + self.poll_s
        while not worker.is_cancelled and time.monotonic() < end:
            time.sleep(min(0.05, self.poll_s))
