"""Log tails: a run's stdout.log, stderr.log, events.jsonl or supervisor.log, followed live.

Reading happens in a worker thread that keeps a byte offset (only new bytes are read; truncation
or replacement restarts from the top), so a 1 GB log costs the UI nothing.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Log
from textual.worker import Worker, get_current_worker

from pipeline.monitor.series import tail_window
from pipeline.runs.events import Follower
from pipeline.runs.layout import LOG_FILES

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
        Binding("f", "cycle_file", "File", id="logs.file", tooltip="next file: stdout, stderr, events, supervisor"),
        Binding("end", "follow_end", "Follow", id="logs.follow", show=False,
                tooltip="jump to the newest line and keep following"),
    ]

    # Widget.virtual_size re-lays out the whole screen on every change, i.e. on every line written.
    # A log's size never moves its neighbours: update its own scroll region and scrollbar instead
    # (a scrollbar appearing still re-lays out, through show_vertical_scrollbar).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted:
            self._scroll_update(size)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._sync_bar()

    def on_resize(self) -> None:
        self._sync_bar()

    def _sync_bar(self) -> None:
        # Following the newest line, the scrollbar repaints on every line written (a tenth of the
        # dashboard's idle CPU) and says nothing new: hidden then, back as soon as one scrolls up. Checked
        # again on a new size (lines written while the pane was smaller may fit it now).
        following = self.auto_scroll and self.is_vertical_scroll_end
        if following and self.styles.scrollbar_size_vertical:
            self._bar_size = self.styles.scrollbar_size_vertical
            self.styles.scrollbar_size_vertical = 0
            self.border_subtitle = ""
        elif not following and not self.styles.scrollbar_size_vertical:
            self.styles.scrollbar_size_vertical = self._bar_size
            self.border_subtitle = "scrolled up · end follows"  # new lines no longer scroll into view

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        # A line wider than the pane brings the horizontal bar, which takes the bottom row after the
        # write scrolled to the end: the newest line (a failed run's error) would sit under it, and
        # the view would no longer count as following. Scroll to the end again once laid out.
        if shown and self.auto_scroll and self.scroll_y >= self.max_scroll_y - self.scrollbar_size_horizontal - 1:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)

    def __init__(self, poll_s: float = 0.25, **kwargs: Any) -> None:
        super().__init__(max_lines=5000, highlight=False, auto_scroll=True, **kwargs)
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
        self._bar_size = 1
        self._wake = threading.Event()  # set to end the current follower's wait at once

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
        self._wake.set()
        self._wake = threading.Event()
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
        follower: Follower | None = None
        waiting_shown = placeholder = False
        while not worker.is_cancelled:
            if not path.exists():
                if not waiting_shown:
                    self.app.call_from_thread(self._write, [f"(waiting for {path.name})"], True, True)
                    waiting_shown = placeholder = True
                self._sleep(worker)
                continue
            if follower is None:
                lines, offset, inode = tail_window(path, FIRST_LINES)
                follower = Follower(path, offset=offset, inode=inode)
                placeholder = not lines
                shown = [clean_line(r) for r in lines] or [f"({path.name} is empty so far)"]
                self.app.call_from_thread(self._write, shown, True, True)
                continue
            raws, reset = follower.read_lines(READ_LIMIT)
            if raws and not worker.is_cancelled:
                self.app.call_from_thread(self._write, [clean_line(r) for r in raws], reset or placeholder)
                placeholder = False
            elif reset:
                self.app.call_from_thread(self._write, [], True)
            if follower.pending():
                continue  # more backlog: read on without sleeping
            self._sleep(worker)

    def _sleep(self, worker: Worker[Any]) -> None:
        # Cut short when the view follows something else; ≤ 0.5 s a wait so a cancelled worker (the app
        # exiting) is seen soon even with a long poll (not 20 wake-ups a second as before).
        wake, end = self._wake, time.monotonic() + self.poll_s
        while not worker.is_cancelled and not wake.is_set() and (left := end - time.monotonic()) > 0:
            wake.wait(min(0.5, left))
