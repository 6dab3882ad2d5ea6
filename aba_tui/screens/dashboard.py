"""The main screen: runs list, live charts, logs, telemetry and alerts. Digit keys toggle panes.

The app builds it with what it shows (the runs model, telemetry, settings, the themes' chart colours,
the clock) and calls ``model_changed`` / ``telemetry_sampled`` as its threads report. The screen hands
each pane its data, keeps the pinned runs and the run to select once listed, and tells the app which
run is highlighted with a ``RunSelected`` message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header

from aba_tui.errors import guarded
from aba_tui.panes.alerts import AlertsTable
from aba_tui.panes.charts_pane import ChartsPane
from aba_tui.panes.footer import KeyFooter
from aba_tui.panes.logs import LogView
from aba_tui.panes.metric_chart import MetricChart
from aba_tui.panes.runs import RunsTable
from aba_tui.panes.telemetry import TelemetryPane
from aba_tui.settings import PANES, Settings
from aba_tui.themes import FALLBACK_CHART
from pipeline.monitor.entries import Changes
from pipeline.monitor.runs_model import RunsModel
from pipeline.monitor.telemetry import Snapshot, Telemetry

PANE_IDS = {"runs": "#runs-pane", "charts": "#charts", "logs": "#logs", "telemetry": "#telemetry",
            "alerts": "#alerts"}
PANE_TITLES = {"runs": "Runs", "charts": "Charts", "logs": "Logs", "telemetry": "Telemetry", "alerts": "Alerts"}


class DashboardScreen(Screen[None]):
    # The layout: which pane goes where and how much room it takes; each pane's own look is beside it.
    DEFAULT_CSS = """
    #dash {
        height: 1fr;
    }
    #top-row {
        height: 2fr;
        min-height: 7;
    }
    #runs-pane {
        width: 3fr;
    }
    #telemetry {
        width: 2fr;
    }
    #charts {
        height: 3fr;
        min-height: 10;
    }
    #bottom-row {
        height: 2fr;
        min-height: 6;
    }
    #logs {
        width: 3fr;
        overflow-x: auto;  /* Log's default "scroll" keeps a horizontal bar that repaints on every line */
    }
    #alerts {
        width: 2fr;
    }
    .pane {
        border: round $secondary 60%;
        border-title-color: $text-muted;
        border-title-style: bold;
        background: $surface;
    }
    .pane:focus-within {
        border: round $primary;
        border-title-color: $primary;
    }
    """

    _rows_pending = False
    _last_tick = 0.0
    _snapshot: Snapshot | None = None
    _snapshot_shown = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(i + 1), f"toggle_pane('{name}')", PANE_TITLES[name], id=f"dashboard.pane-{name}",
                show=False, tooltip=f"show or hide the {name} pane")
        for i, name in enumerate(PANES)
    ]

    class RunSelected(Message):
        """The highlighted run changed (None: no run listed)."""

        def __init__(self, run_id: str | None) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, model: RunsModel, telemetry: Telemetry, settings: Settings,
                 chart_palettes: Mapping[str, Sequence[str]], clock: Callable[[], float] = time.time,
                 select: str | None = None) -> None:
        super().__init__()
        self.model = model
        self.telemetry = telemetry
        self.settings = settings
        self.chart_palettes = chart_palettes  # theme name → colours of the overlaid runs
        self.clock = clock
        self.pinned: list[str] = []  # overlaid on the charts, in pinning order
        self.pending_select = select  # highlighted as soon as the runs list shows it
        self.selected_run: str | None = None
        self._toggled: set[str] = set()  # panes the operator showed or hid: no longer fitted to the size

    def compose(self) -> ComposeResult:
        s = self.settings
        yield Header()
        with Vertical(id="dash"):
            with Horizontal(id="top-row"):
                with Vertical(id="runs-pane", classes="pane"):
                    yield RunsTable(id="runs")
                yield TelemetryPane(self.telemetry, s.telemetry.history_minutes * 60,
                                    disk_low_bytes=s.alerts.disk_low_mb * 2**20, id="telemetry", classes="pane")
            yield ChartsPane(self.model, self.chart_colors(), list(s.charts.metrics), s.charts.smoothing,
                             s.charts.eval_points, s.charts.max_overlay, on_drawn=self._charts_drawn,
                             id="charts", classes="pane")
            with Horizontal(id="bottom-row"):
                yield LogView(poll_s=max(0.1, s.runs.poll_s), id="logs", classes="pane")
                yield AlertsTable(id="alerts", classes="pane")
        yield KeyFooter()

    def chart_colors(self) -> Sequence[str]:
        """The current theme's colours for overlaid runs."""
        return self.chart_palettes.get(self.app.theme, FALLBACK_CHART)

    def on_mount(self) -> None:
        for i, name in enumerate(PANES):
            self.pane(name).border_title = f"{i + 1} {PANE_TITLES[name]}"
        for name in self.settings.panes.hidden:
            self.pane(name).display = False
        self._sync_rows()
        self.query_one(RunsTable).focus()
        self.query_one(LogView).batched = True  # flushed by the tick
        self.set_interval(self.TICK_S, self._on_tick_timer)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Any) -> None:
        self.query_one(ChartsPane).run_colors = tuple(self.chart_colors())

    # -- panes -------------------------------------------------------------------------------------
    def pane(self, name: str) -> Widget:
        return self.query_one(PANE_IDS[name])

    # Below this many columns the telemetry pane gives way, so the runs list keeps step, state, loss and
    # ETA and the charts keep their room; `4` brings it back (the operator's choice then stands).
    NARROW = 120

    def on_resize(self, event: events.Resize) -> None:
        if "telemetry" in self._toggled:
            return
        want = event.size.width >= self.NARROW and "telemetry" not in self.settings.panes.hidden
        if self.pane("telemetry").display != want:
            self._show_pane("telemetry", want, focus=False)

    def action_toggle_pane(self, name: str) -> None:
        self._toggled.add(name)
        self._show_pane(name, not self.pane(name).display)

    def _show_pane(self, name: str, show: bool, focus: bool = True) -> None:
        pane = self.pane(name)
        pane.display = show
        # A row with every pane hidden collapses, so the other panes take the room.
        for row, members in (("#top-row", ("runs", "telemetry")), ("#bottom-row", ("logs", "alerts"))):
            self.query_one(row).display = any(self.pane(m).display for m in members)
        if not pane.display and self.focused is not None and (self.focused is pane or pane in self.focused.ancestors):
            self.focus_next()
        elif pane.display and focus:
            target = pane if pane.focusable else next((w for w in pane.query("*") if w.focusable), None)
            if target is not None:
                target.focus()

    # -- updates from the app ----------------------------------------------------------------------
    TICK_S = 1.0

    # Everything but the charts repaints on one 1 Hz tick: each repaint is a frame, and a frame with
    # dirty regions far apart re-renders most of the screen. The charts (append → drawn in < 250 ms),
    # runs that come, go or change state, and alerts show at once.
    def _on_tick_timer(self) -> None:
        if time.monotonic() - self._last_tick >= self.TICK_S / 2:  # else it rode along a chart frame
            self._tick()

    def _charts_drawn(self) -> None:
        """The charts are repainting: the tick's updates join that frame when due soon, so live logging
        costs one frame a second rather than a chart frame plus a tick frame."""
        if time.monotonic() - self._last_tick >= self.TICK_S / 2:
            self._tick()

    def _tick(self) -> None:
        self._last_tick = time.monotonic()
        if self._rows_pending:
            self._sync_rows()
        self._tick_telemetry()
        self.query_one(LogView).flush()

    def model_changed(self, changes: Changes) -> None:
        if changes.urgent:
            self._sync_rows()
        elif changes.rows:
            self._rows_pending = True
        if changes.dirty:
            self.query_one(ChartsPane).redraw(changes.dirty)
        if changes.alerts:
            self.query_one(AlertsTable).add_alerts(changes.alerts, self.clock())

    def telemetry_sampled(self, snap: Snapshot) -> None:
        self._snapshot = snap
        if not self._snapshot_shown:  # the first sample shows at once
            self._snapshot_shown = True
            self._tick_telemetry()

    def _tick_telemetry(self) -> None:
        pane = self.query_one(TelemetryPane)
        if self._snapshot is not None and pane.display:
            pane.show_snapshot(self._snapshot)
        self._snapshot = None

    def select_when_listed(self, run_id: str) -> None:
        """Highlight ``run_id`` once the runs list shows it (a run just launched or opened)."""
        self.pending_select = run_id

    def _sync_rows(self) -> None:
        self._rows_pending = False
        table = self.query_one(RunsTable)
        table.pinned = set(self.pinned)
        table.show_rows(self.model.rows(), self.clock())
        pending = self.pending_select
        if pending and table.select_run(pending):
            self.pending_select = None
        self._selection_changed()

    def _selection_changed(self) -> None:
        rid = self.query_one(RunsTable).current_run
        if rid != self.selected_run:
            self.selected_run = rid
            self.post_message(self.RunSelected(rid))
        self.show_run(rid)

    def show_run(self, rid: str | None) -> None:
        runs = [r for r in self.pinned if self.model.has_run(r)]
        if rid is not None and rid not in runs:
            runs.append(rid)  # pinned runs first: their colours stay put as the cursor moves
        self.model.want(set(runs))
        entry = self.model.entry(rid) if rid else None
        charts = self.query_one(ChartsPane)
        if entry is not None:  # the charts follow the highlighted run's stage (none listed: they stay)
            charts.follow(entry.status.stage if entry.status else None)
        charts.set_runs(runs)
        logs = self.query_one(LogView)
        if entry is None:
            logs.show(None)
        elif entry.kind == "foreign":
            path = entry.reader.path if entry.reader is not None else None
            logs.show(None, entry.label, path if path is not None and path.is_file() else entry.path / "none")
        else:
            logs.show(entry.path, entry.run_id)

    def on_line_table_highlighted(self, event: RunsTable.Highlighted) -> None:
        if isinstance(event.table, RunsTable):
            self._selection_changed()

    def on_runs_table_pinned(self, event: RunsTable.Pinned) -> None:
        if event.run_id in self.pinned:
            self.pinned.remove(event.run_id)
        else:
            self.pinned.append(event.run_id)
        self._sync_rows()
        self.show_run(self.query_one(RunsTable).current_run)

    def on_alerts_table_goto_run(self, event: AlertsTable.GotoRun) -> None:
        table = self.query_one(RunsTable)
        if table.select_run(event.run_id):
            table.focus()

    @guarded("metric picker")
    def on_metric_chart_pick_metric(self, event: MetricChart.PickMetric) -> None:
        event.stop()
        chart = event.chart
        names = self.query_one(ChartsPane).metric_names()
        if not names:
            self.notify("no metrics logged yet", severity="warning")
            return

        def chosen(name: str | None) -> None:
            if name:
                self.query_one(ChartsPane).pick(chart, name)

        from aba_tui.screens.pick import PickScreen

        self.app.push_screen(PickScreen(f"Metric for this chart (now {chart.metric})", names, chart.metric), chosen)
