"""Live metric charts: one chart per metric (aba_tui.panes.metric_chart), several runs overlaid, EMA
smoothing, a step window, eval points, and a legend naming each overlaid run in its colour.

The screen that composes the pane hands it the runs model it reads and the theme's chart colours,
and tells it which runs to draw (``set_runs``) and which have new points (``redraw``); ``on_drawn``, when
given, is called inside each repaint of the charts. The charts are mounted just after the first frame,
so the pane shows a placeholder for a moment at start and the first frame comes sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import get_current_worker

from aba_tui.panes.metric_chart import MetricChart, Trace
from aba_tui.themes import FALLBACK_CHART
from pipeline.monitor.chart_spec import stage_charts
from pipeline.monitor.views import RunsViews

SMOOTHING_LEVELS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
WINDOWS: tuple[float | None, ...] = (None, 10000, 1000, 100)  # last N steps; None: all


class ChartsPane(Vertical):
    """The charts side by side, and a legend naming each overlaid run in its colour."""

    DEFAULT_CSS = """
    ChartsPane #chart-row {
        height: 1fr;
    }
    ChartsPane #legend {
        height: 1;
        padding: 0 1;
        color: $text;
    }
    """

    HELP = """\
## Charts
`[` / `]` smoothing down/up (EMA weight of the past), `w` the step window (all, last 10k/1k/100),
`e` eval points on/off. On a focused chart: `m` picks its metric (any metric the runs logged), `L` log scale.
Pin runs with space in the runs list to overlay them. The charts follow the highlighted run's stage (the
stage registry names each stage's charts; training stages show `charts.metrics`); a metric you pick is
kept for that stage's runs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "smooth(-1)", "Less smooth", id="charts.smooth-less", key_display="[",
                tooltip="less EMA smoothing"),
        Binding("right_square_bracket", "smooth(1)", "More smooth", id="charts.smooth-more", key_display="]",
                tooltip="more EMA smoothing"),
        Binding("w", "cycle_window", "Window", id="charts.window", tooltip="steps shown: all, last 10k, 1k, 100"),
        Binding("e", "toggle_eval", "Eval pts", id="charts.eval", tooltip="eval points on or off"),
    ]

    smoothing: reactive[float] = reactive(0.6, init=False)
    window: reactive[float | None] = reactive(None, init=False)
    eval_points: reactive[bool] = reactive(True, init=False)
    run_colors: reactive[tuple[str, ...]] = reactive(tuple(FALLBACK_CHART), init=False)  # of the overlaid runs, in turn

    def __init__(self, model: RunsViews, run_colors: Sequence[str], metrics: list[str], smoothing: float,
                 eval_points: bool, max_overlay: int, on_drawn: Callable[[], None] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.on_drawn = on_drawn
        self.default_metrics = list(metrics)  # the user's charts.metrics (stages with no charts of their own)
        self.metrics = list(metrics)  # the charts shown now, left to right
        self.layout_key = ""  # whose charts they are: a stage's name, "" for the defaults
        self.picked: dict[tuple[str, int], str] = {}  # (layout, chart) → the operator's pick
        self._mounting = asyncio.Lock()
        self.set_reactive(ChartsPane.run_colors, tuple(run_colors))
        self.set_reactive(ChartsPane.smoothing, smoothing)
        self.set_reactive(ChartsPane.eval_points, eval_points)
        self.max_overlay = max_overlay
        self._runs: list[str] = []
        self._legend_text = ""
        self._last_live_draw = 0.0
        self._live_pending = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="chart-row"):
            yield Static("loading charts…", id="charts-placeholder")
        yield Static(id="legend")

    def on_mount(self) -> None:
        self.call_after_refresh(self._mount_charts)

    async def _mount_charts(self) -> None:
        async with self._mounting:  # a stage change while mounting: the second pass mounts the latest list
            row = self.query_one("#chart-row", Horizontal)
            if [c.metric for c in self.charts()] == self.metrics and self.charts():
                return
            await row.remove_children()
            await row.mount_all(MetricChart(m, id=f"chart-{i}", classes="chart") for i, m in enumerate(self.metrics))
        self.redraw()

    def follow(self, stage: str | None) -> None:
        """Show the charts of ``stage`` (the highlighted run's), with the operator's picks for it."""
        key, specs = stage_charts(stage, self.default_metrics)
        wanted = [self.picked.get((key, i), m) for i, m in enumerate(specs)]
        self.layout_key = key
        if wanted == self.metrics:
            return
        self.metrics = wanted
        charts = self.charts()
        if len(charts) == len(wanted):
            for chart, metric in zip(charts, wanted, strict=True):
                chart.metric = metric  # each asks for its data again (DataWanted, coalesced)
        elif self.is_mounted and not self.query("#charts-placeholder"):
            self.call_later(self._mount_charts)

    def pick(self, chart: MetricChart, metric: str) -> None:
        """The operator chose ``metric`` for ``chart``: kept for this layout's runs."""
        charts = self.charts()
        if chart in charts:
            i = charts.index(chart)
            self.picked[(self.layout_key, i)] = metric
            self.metrics[i] = metric
        chart.metric = metric

    def charts(self) -> list[MetricChart]:
        return list(self.query(MetricChart))

    def displayed(self) -> list[tuple[str, str]]:
        """(run id, colour) of the runs drawn, at most ``max_overlay``."""
        colors = self.run_colors or FALLBACK_CHART
        return [(rid, colors[i % len(colors)]) for i, rid in enumerate(self._runs[: self.max_overlay])]

    def set_runs(self, run_ids: list[str]) -> None:
        if run_ids != self._runs:
            self._runs = list(run_ids)
            self.redraw()

    def metric_names(self) -> list[str]:
        """Every metric the drawn runs logged (what a chart may show)."""
        return self.model.metric_names(rid for rid, _c in self.displayed())

    # Live appends redraw at once when the charts have been quiet (append → drawn stays fast), and a
    # burst of appends (several drawn runs logging, a backlog read in slices) coalesces into one
    # redraw per interval. A braille redraw costs ~1-2 ms a chart, so the interval can be short.
    LIVE_MIN_INTERVAL_S = 0.2

    def redraw(self, dirty: set[str] | None = None) -> None:
        """Re-prepare the charts (when ``dirty`` is given: only if one of those runs is drawn)."""
        if dirty is not None:
            if not dirty.intersection(self._runs[: self.max_overlay]):
                return
            wait = self._last_live_draw + self.LIVE_MIN_INTERVAL_S - time.monotonic()
            if wait > 0:
                if not self._live_pending:
                    self._live_pending = True
                    self.set_timer(wait, self._live_flush)
                return
            self._last_live_draw = time.monotonic()
        self._draw()

    def _live_flush(self) -> None:
        self._live_pending = False
        self._last_live_draw = time.monotonic()
        self._draw()

    def _draw(self) -> None:
        charts = self.charts()
        if charts:
            self._prepare(charts, self.displayed(), self.smoothing, self.window, self.eval_points)
        self._legend()

    @work(thread=True, exclusive=True, exit_on_error=False, group="charts")
    def _prepare(self, charts: list[MetricChart], runs: list[tuple[str, str]], smoothing: float,
                 window: float | None, eval_points: bool) -> None:
        # Every chart in one pass and one hand-over, so one repaint shows them all.
        palette = list(self.run_colors or FALLBACK_CHART)
        done = [(c, c.traces(self.model, runs, smoothing, window, eval_points, palette)) for c in charts]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply, done, smoothing)

    def _apply(self, done: list[tuple[MetricChart, list[Trace]]], smoothing: float) -> None:
        with self.app.batch_update():
            for chart, traces in done:
                chart.show(traces, smoothing)
            # Called, not posted: the screen's own updates (the dashboard's 1 Hz tick) share this frame
            # only inside the batch. A message came after the frame was painted (15 of 17 repaints
            # with 4 runs logging each second, headless), costing a second frame.
            if self.on_drawn is not None:
                self.on_drawn()

    def _legend(self) -> None:
        parts = []
        for rid, color in self.displayed():
            note = ""
            legend = self.model.legend(rid)
            if legend is not None:
                bad = legend.malformed
                if bad:
                    note += f" [dim]({bad} malformed line{'s' if bad > 1 else ''} skipped)[/]"
                if legend.tail_only:
                    more = "" if legend.history is None else f", history {legend.history:.0%} read"
                    note += f" [dim](end of a big file{more})[/]"
            parts.append(f"[{color}]━━[/] {escape(legend.label if legend else rid)}{note}")
        win = "all steps" if self.window is None else f"last {int(self.window):,} steps"
        extra = f"  [dim]EMA {self.smoothing:g} · {win} · eval {'on' if self.eval_points else 'off'}[/]"
        text = ("   ".join(parts) or "no run selected") + extra
        if text != self._legend_text:  # Static.update re-lays out the screen: only on change
            self._legend_text = text
            self.query_one("#legend", Static).update(text)

    def on_metric_chart_data_wanted(self, event: MetricChart.DataWanted) -> None:
        event.stop()
        self.redraw()

    def watch_run_colors(self) -> None:
        self.redraw()

    def watch_smoothing(self) -> None:
        self.redraw()

    def watch_window(self) -> None:
        self.redraw()

    def watch_eval_points(self) -> None:
        self.redraw()

    def action_smooth(self, direction: int) -> None:
        levels = SMOOTHING_LEVELS
        idx = min(range(len(levels)), key=lambda i: abs(levels[i] - self.smoothing))
        self.smoothing = levels[max(0, min(len(levels) - 1, idx + direction))]

    def action_cycle_window(self) -> None:
        i = WINDOWS.index(self.window) if self.window in WINDOWS else 0
        self.window = WINDOWS[(i + 1) % len(WINDOWS)]

    def action_toggle_eval(self) -> None:
        self.eval_points = not self.eval_points

