"""The main screen: runs list, live charts, logs, telemetry and alerts. Digit keys toggle panes.

The app builds it with what it shows (the runs model, telemetry, settings, the themes' chart colours,
the clock) and calls ``model_changed`` / ``telemetry_sampled`` as its threads report. The screen hands
each pane its data, keeps the pinned runs and the run to select once listed, and tells the app which
run is highlighted with a ``RunSelected`` message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header

from aba_tui.errors import guarded
from aba_tui.panes.runs import RunsTable
from aba_tui.settings import PANES, Settings
from aba_tui.themes import FALLBACK_CHART
from pipeline.monitor.entries import Changes
from pipeline.monitor.runs_model import RunsModel
from pipeline.monitor.telemetry import Snapshot, Telemetry

if TYPE_CHECKING:  # built after the first frame (``build_panes``): imported then, not before it
    from aba_tui.panes.alerts import AlertsTable
    from aba_tui.panes.charts_pane import ChartsPane
    from aba_tui.panes.logs import LogView
    from aba_tui.panes.metric_chart import MetricChart
    from aba_tui.panes.telemetry import TelemetryPane
    from pipeline.monitor.alerts import Alert

PANE_IDS = {"runs": "#runs-pane", "charts": "#charts", "logs": "#logs", "telemetry": "#telemetry",
            "alerts": "#alerts"}
PANE_TITLES = {"runs": "Runs", "charts": "Charts", "logs": "Logs", "telemetry": "Telemetry", "alerts": "Alerts"}


class DashboardScreen(Screen[None]):
    # The layout: which pane goes where and how much room it takes; each pane's own look is beside it.
    DEFAULT_CSS = """
    #dash {
        height: 1fr;
    }
    #keys-slot {
        dock: bottom;
        height: 1;
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
    built = False  # the panes after the runs list are in (``build_panes``)

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
        self._early_alerts: list[Alert] = []  # raised before the alerts table was built

    def compose(self) -> ComposeResult:
        # The first frame draws the layout with the runs list in it; the other panes (and the key bar) are
        # built just after it (``build_panes``): they have nothing to show before the watcher's and the
        # sampler's first passes, which start after the first frame too. Their slots hold the layout.
        yield Header()
        with Vertical(id="dash"):
            with Horizontal(id="top-row"):
                with Vertical(id="runs-pane", classes="pane"):
                    yield RunsTable(id="runs")
                yield Widget(id="telemetry", classes="pane slot")
            yield Widget(id="charts", classes="pane slot")
            with Horizontal(id="bottom-row"):
                yield Widget(id="logs", classes="pane slot")
                yield Widget(id="alerts", classes="pane slot")
        yield Widget(id="keys-slot")  # the key bar's row

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
        if getattr(self.app, "first_frame_shown", True):  # else the app calls build_panes after its first frame
            self.call_after_refresh(self.build_panes)

    async def build_panes(self) -> None:
        """Put the real panes in their slots (each keeps its slot's title and display) and add the key bar."""
        if self.built:
            return
        from aba_tui.panes.alerts import AlertsTable
        from aba_tui.panes.charts_pane import ChartsPane
        from aba_tui.panes.footer import KeyFooter
        from aba_tui.panes.logs import LogView
        from aba_tui.panes.telemetry import TelemetryPane

        s = self.settings
        panes: dict[str, Widget] = {
            "telemetry": TelemetryPane(self.telemetry, s.telemetry.history_minutes * 60,
                                       disk_low_bytes=s.alerts.disk_low_mb * 2**20, id="telemetry", classes="pane"),
            "charts": ChartsPane(self.model, self.chart_colors(), list(s.charts.metrics), s.charts.smoothing,
                                 s.charts.eval_points, s.charts.max_overlay, on_drawn=self._charts_drawn,
                                 id="charts", classes="pane"),
            "logs": LogView(poll_s=max(0.1, s.runs.poll_s), id="logs", classes="pane"),
            "alerts": AlertsTable(id="alerts", classes="pane"),
        }
        with self.app.batch_update():  # one frame shows them all, never a slot missing
            for name, pane in panes.items():
                slot = self.pane(name)
                pane.border_title, pane.display = slot.border_title, slot.display
                parent = slot.parent
                assert isinstance(parent, Widget)
                index = parent.children.index(slot)
                await slot.remove()
                await parent.mount(pane, before=index) if index < len(parent.children) else parent.mount(pane)
            await self.query_one("#keys-slot").remove()
            await self.mount(KeyFooter())
        cast("LogView", panes["logs"]).batched = True  # flushed by the tick
        self.built = True
        self._fit_telemetry(self.size.width)  # a resize while the panes went in applied to a slot
        if self._early_alerts:
            cast("AlertsTable", panes["alerts"]).add_alerts(self._early_alerts, self.clock())
            self._early_alerts = []
        self._sync_rows()
        self._tick_telemetry()
        self.set_interval(self.TICK_S, self._on_tick_timer)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Any) -> None:
        self._charts().run_colors = tuple(self.chart_colors())

    def _charts(self) -> ChartsPane:
        return cast("ChartsPane", self.query_one("#charts"))

    def _logs(self) -> LogView:
        return cast("LogView", self.query_one("#logs"))

    # -- panes -------------------------------------------------------------------------------------
    def pane(self, name: str) -> Widget:
        return self.query_one(PANE_IDS[name])

    # Below this many columns the telemetry pane gives way, so the runs list keeps step, state, loss and
    # ETA and the charts keep their room; `4` brings it back (the operator's choice then stands).
    NARROW = 120

    def on_resize(self, event: events.Resize) -> None:
        self._fit_telemetry(event.size.width)

    def _fit_telemetry(self, width: int) -> None:
        if "telemetry" in self._toggled:
            return
        want = width >= self.NARROW and "telemetry" not in self.settings.panes.hidden
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
        self._logs().flush()

    def model_changed(self, changes: Changes) -> None:
        if changes.urgent:
            self._sync_rows()
        elif changes.rows:
            self._rows_pending = True
        if not self.built:  # the charts draw everything once built; alerts wait for their table
            self._early_alerts.extend(changes.alerts)
            return
        if changes.dirty:
            self._charts().redraw(changes.dirty)
        if changes.alerts:
            cast("AlertsTable", self.query_one("#alerts")).add_alerts(changes.alerts, self.clock())

    def telemetry_sampled(self, snap: Snapshot) -> None:
        self._snapshot = snap
        if not self._snapshot_shown:  # the first sample shows at once
            self._snapshot_shown = True
            self._tick_telemetry()

    def _tick_telemetry(self) -> None:
        if not self.built:
            return  # shown once built
        pane = cast("TelemetryPane", self.query_one("#telemetry"))
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
        if not self.built:
            return  # the build ends with _sync_rows, which comes back here
        charts = self._charts()
        if entry is not None:  # the charts follow the highlighted run's stage (none listed: they stay)
            charts.follow(entry.status.stage if entry.status else None)
        charts.set_runs(runs)
        logs = self._logs()
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
        names = self._charts().metric_names()
        if not names:
            self.notify("no metrics logged yet", severity="warning")
            return

        def chosen(name: str | None) -> None:
            if name:
                self._charts().pick(chart, name)

        from aba_tui.screens.pick import PickScreen

        self.app.push_screen(PickScreen(f"Metric for this chart (now {chart.metric})", names, chart.metric), chosen)
