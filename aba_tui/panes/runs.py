"""The runs list: every run of the runs dir (and opened logs) with its true state."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets._data_table import ColumnKey

from aba_tui.panes.measured_table import MeasuredTable, cell_len, fit_columns
from pipeline.monitor import fmt
from pipeline.monitor.entries import RunRow

COLUMNS = (("mark", ""), ("run", "RUN"), ("stage", "STAGE"), ("state", "STATE"), ("phase", "PHASE"),
           ("step", "STEP"), ("eta", "ETA"), ("loss", "LOSS"), ("age", "AGE"))
# When the pane is narrow these columns go first, in this order, then the run's name is cut (down to
# RUN_MIN, with an ellipsis): step, state, loss and ETA stay (what a glance at a run is for).
DROP_ORDER = ("age", "stage", "phase")
RUN_MIN = 14
STATE_STYLE = {  # theme colour names (resolved against the current theme when drawn)
    "running": "primary", "queued": "secondary", "succeeded": "success", "failed": "error", "oom": "error",
    "lost": "error", "stopped": "warning", "corrupt": "error", "unreadable": "error",
    "file": "accent",
}


class RunsTable(MeasuredTable):
    """Runs, newest first. The cursor row is the run the other panes show."""

    DEFAULT_CSS = """
    RunsTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    """

    HELP = """\
## Runs
Every run in the runs dir, with the state its supervisor recorded (`lost` when the supervisor is gone),
the stage, the phase its step/total and ETA count (an abliteration's `prepare`, `trials`, `save`, `gguf`; an
eval's `answer`, `judge`, `tournament`; the stage registry names each stage's), the ETA of that phase (`+`:
later phases follow), last loss and age. Runs started from the CLI or before the UI opened are here too.

A **●** marks a run pinned for the charts' overlay; **⚠** / **✗** mark runs with warnings / errors.
Actions apply to the highlighted run and ask before anything destructive. `i` shows its config, peaks
and notes; `C` compares the pinned runs (and this one) side by side; `N` starts a new run from its config."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pin", "Pin", id="runs.pin", tooltip="overlay this run on the charts"),
        Binding("n", "app.launch", "New run", id="runs.launch", tooltip="a stage or preset from a form"),
        Binding("s", "app.stop_run", "Stop", id="runs.stop", tooltip="save a checkpoint and stop (asks first)"),
        Binding("K", "app.kill_run", "Stop now", id="runs.kill", show=False,
                tooltip="no grace period, no checkpoint (asks first)"),
        Binding("r", "app.resume_run", "Resume", id="runs.resume", tooltip="from the last complete checkpoint"),
        Binding("R", "app.relaunch_run", "Relaunch", id="runs.relaunch", show=False,
                tooltip="a new run from the same run.toml"),
        Binding("enter", "app.open_logs", "Logs", id="runs.logs", tooltip="the run's logs full screen"),
        Binding("i", "app.run_details", "Details", id="runs.details",
                tooltip="config, peak RAM/CPU/VRAM, best metrics, your note and tags"),
        Binding("C", "app.compare_runs", "Compare", id="runs.compare",
                tooltip="pinned runs and this one side by side (this stage's runs when none is pinned)"),
        Binding("N", "app.launch_like", "New like this", id="runs.like", show=False,
                tooltip="the launch form, prefilled with this run's config"),
    ]

    class Pinned(Message):
        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.pinned: set[str] = set()
        self._rows: dict[str, tuple] = {}
        self._order: list[str] = []
        self.shown: tuple[str, ...] = tuple(k for k, _ in COLUMNS)  # the columns that fit
        self._run_width: int | None = None  # None: as wide as the longest name
        self._latest: tuple[list[str], dict[str, tuple]] = ([], {})  # every column's cells, for a re-layout

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label in COLUMNS:
            if key in self.shown:
                self.add_column(label, key=key, width=self._run_width if key == "run" else None)

    def fit(self, width: int, cells: dict[str, tuple]) -> tuple[tuple[str, ...], int | None]:
        """The columns that fit ``width`` cells and the run column's width (None: its natural one)."""
        natural = {k: max([len(label), *(cell_len(c[i]) for c in cells.values())])
                   for i, (k, label) in enumerate(COLUMNS)}
        shown, run_width = fit_columns(width, natural, DROP_ORDER, "run", RUN_MIN)
        return tuple(shown), run_width

    def on_resize(self) -> None:
        if self._relayout():
            self._apply(*self._latest)

    def _relayout(self) -> bool:
        """Choose the columns for the current width; True when they changed (the rows are cleared)."""
        width = self.size.width - 1  # the vertical scrollbar
        if width <= 0:
            return False
        shown, run_width = self.fit(width, self._latest[1])
        if (shown, run_width) == (self.shown, self._run_width):
            return False
        self.shown, self._run_width = shown, run_width
        self.clear(columns=True)
        self._add_columns()
        self._order, self._rows = [], {}
        return True

    @property
    def current_run(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def _cells(self, r: RunRow, now: float) -> tuple:
        theme = self.app.current_theme
        color = getattr(theme, STATE_STYLE.get(r.state, "foreground"), None) or "white"
        mark = ("●" if r.run_id in self.pinned else " ") + {"error": "✗", "warning": "⚠"}.get(r.alert_level or "", " ")
        mark_style = getattr(theme, r.alert_level, None) if r.alert_level else None
        step = "-"
        if r.step is not None:
            step = f"{r.step}/{r.total}" if r.total else str(r.step)
        state = r.state + (f" #{r.attempt}" if r.attempt > 1 else "")
        if r.waiting:
            state += f" ({r.waiting[:24]})"
        label = r.label if r.where == "local" else f"{r.label} · {r.where}"
        return (
            Text(mark, style=mark_style or ""),
            Text(label, overflow="ellipsis", no_wrap=True),
            r.stage,
            Text(state, style=f"bold {color}"),
            r.phase or "",
            Text(step, justify="right"),
            Text(fmt.eta(r.eta_s) + ("+" if r.eta_more and r.eta_s is not None else ""), justify="right"),
            Text(fmt.number(r.loss), justify="right"),
            Text(fmt.age(r.started_at, now), justify="right"),
        )

    def show_rows(self, rows: list[RunRow], now: float) -> None:
        """Update in place; rebuild only when runs came or went or the columns that fit changed (keeps
        the cursor on its run)."""
        self._latest = ([r.run_id for r in rows], {r.run_id: self._cells(r, now) for r in rows})
        self._relayout()
        self._apply(*self._latest)

    def _apply(self, order: list[str], full: dict[str, tuple]) -> None:
        keep = [i for i, (k, _) in enumerate(COLUMNS) if k in self.shown]
        cells = {rid: tuple(c[i] for i in keep) for rid, c in full.items()}
        columns = [COLUMNS[i] for i in keep]
        if order != self._order:
            current = self.current_run
            self.clear()
            for rid in order:
                self.add_row(*cells[rid], key=rid)
            self._order = order
            if current in order:
                self.move_cursor(row=order.index(current), animate=False)
        else:
            fits: list[tuple[str, str, Any]] = []
            for rid in order:
                old = self._rows.get(rid)
                new = cells[rid]
                if old == new:
                    continue
                for (key, _label), value, before in zip(columns, new, old or (None,) * len(new), strict=True):
                    if value != before:
                        # "-" → "15/50" must widen the column; a value that fits needs no re-measure of
                        # every row on the next idle (the 1 Hz tick would otherwise pay it each second).
                        col = self.columns[ColumnKey(key)]
                        width = cell_len(value)
                        if width <= (col.content_width if col.auto_width else col.width):
                            fits.append((rid, key, value))
                        else:
                            self.update_cell(rid, key, value, update_width=True)
            self.set_cells(fits)  # one pass over the render caches for the whole tick
        self._rows = cells

    def select_run(self, run_id: str) -> bool:
        if run_id in self._order:
            self.move_cursor(row=self._order.index(run_id), animate=False)
            return True
        return False

    def action_toggle_pin(self) -> None:
        rid = self.current_run
        if rid is None:
            return
        self.pinned.symmetric_difference_update({rid})
        self.post_message(self.Pinned(rid))
