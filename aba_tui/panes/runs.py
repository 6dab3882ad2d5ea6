"""The runs list: every run of the runs dir (and opened logs) with its true state."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.message import Message

from aba_tui.panes.columns import fit_columns
from aba_tui.panes.line_table import Column, LineTable, Row
from pipeline.monitor import fmt
from pipeline.monitor.entries import RunRow

COLUMNS = (Column("mark", ""), Column("run", "RUN"), Column("stage", "STAGE"), Column("state", "STATE"),
           Column("phase", "PHASE"), Column("step", "STEP", right=True), Column("eta", "ETA", right=True),
           Column("loss", "LOSS", right=True), Column("age", "AGE", right=True))
# When the pane is narrow these columns go first, in this order, then the run's name is cut (down to
# RUN_MIN, with an ellipsis): step, state, loss and ETA stay (what a glance at a run is for).
DROP_ORDER = ("age", "stage", "phase")
RUN_MIN = 14
STATE_STYLE = {  # theme colour names (resolved against the current theme when drawn)
    "running": "primary", "queued": "secondary", "succeeded": "success", "failed": "error", "oom": "error",
    "lost": "error", "stopped": "warning", "corrupt": "error", "unreadable": "error",
    "file": "accent",
}


class RunsTable(LineTable):
    """Runs, newest first. The cursor row is the run the other panes show. Drawn with the Line API
    (line_table): each second nearly every row's step, ETA and age move, and only those rows are rebuilt."""

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
        super().__init__(COLUMNS, **kwargs)
        self.pinned: set[str] = set()
        self._run_width: int | None = None  # None: as wide as the longest name
        self._latest: tuple[list[str], dict[str, Row]] = ([], {})  # every column's cells, for a re-layout

    def fit(self, width: int, cells: dict[str, Row]) -> tuple[tuple[str, ...], int | None]:
        """The columns that fit ``width`` cells and the run column's width (None: its natural one)."""
        natural = {c.key: max([len(c.label), *(cell_len(row[i][0]) for row in cells.values())])
                   for i, c in enumerate(COLUMNS)}
        shown, run_width = fit_columns(width, natural, DROP_ORDER, "run", RUN_MIN)
        return tuple(shown), run_width

    def on_resize(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        """Choose the columns for the current width (the table re-measures when they changed)."""
        width = self.size.width - 1  # the vertical scrollbar
        if width <= 0:
            return
        shown, run_width = self.fit(width, self._latest[1])
        if (shown, run_width) != (self.shown, self._run_width):
            self._run_width = run_width
            self.set_columns(shown, {} if run_width is None else {"run": run_width})

    @property
    def current_run(self) -> str | None:
        return self.current_key

    def resolve_style(self, name: str) -> Style:
        """``state:<state>`` (bold, the state's theme colour) or ``alert:<level>`` (the level's colour)."""
        kind, _, value = name.partition(":")
        theme = self.app.current_theme
        if kind == "state":
            color = getattr(theme, STATE_STYLE.get(value, "foreground"), None) or "white"
            return Style.parse(f"bold {color}")
        if kind == "alert":
            color = getattr(theme, value, None)
            return Style.parse(color) if color else Style.null()
        return Style.null()

    def _cells(self, r: RunRow, now: float) -> Row:
        mark = ("●" if r.run_id in self.pinned else " ") + {"error": "✗", "warning": "⚠"}.get(r.alert_level or "", " ")
        step = "-"
        if r.step is not None:
            step = f"{r.step}/{r.total}" if r.total else str(r.step)
        state = r.state + (f" #{r.attempt}" if r.attempt > 1 else "")
        if r.waiting:
            state += f" ({r.waiting[:24]})"
        label = r.label if r.where == "local" else f"{r.label} · {r.where}"
        return (
            (mark, f"alert:{r.alert_level}" if r.alert_level else ""),
            (label, ""),
            (r.stage, ""),
            (state, f"state:{r.state}"),
            (r.phase or "", ""),
            (step, ""),
            (fmt.eta(r.eta_s) + ("+" if r.eta_more and r.eta_s is not None else ""), ""),
            (fmt.number(r.loss), ""),
            (fmt.age(r.started_at, now), ""),
        )

    def show_rows(self, rows: list[RunRow], now: float) -> None:
        """Update in place: only rows whose cells changed are drawn again; runs that came or went keep
        the cursor on its run."""
        self._latest = ([r.run_id for r in rows], {r.run_id: self._cells(r, now) for r in rows})
        self._relayout()
        self.set_rows(*self._latest)

    def select_run(self, run_id: str) -> bool:
        if run_id in self.order:
            self.move_cursor(self.order.index(run_id))
            return True
        return False

    def action_toggle_pin(self) -> None:
        rid = self.current_run
        if rid is None:
            return
        self.pinned.symmetric_difference_update({rid})
        self.post_message(self.Pinned(rid))
