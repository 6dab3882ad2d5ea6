"""Live metric charts (textual-plotext): one chart per metric, several runs overlaid, EMA smoothing,
eval points, min/max downsampling so a million points draw like a thousand.

The points are prepared in a worker thread (window, EMA, downsampling under the model's lock);
the event loop only hands the few hundred that remain to plotext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from pipeline.series import PlotData, plot_points

SMOOTHING_LEVELS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
WINDOWS: tuple[float | None, ...] = (None, 10000, 1000, 100)  # last N steps; None: all


@dataclass
class Trace:
    run_id: str
    color: str
    data: PlotData
    eval_x: list[float]
    eval_y: list[float]


def _rgb(color: str) -> tuple[int, int, int]:
    return Color.parse(color).rgb


class MetricChart(PlotextPlot):
    """One metric against step for the selected and pinned runs."""

    can_focus = True
    HELP = """\
## Chart
One metric against step for the highlighted run and every pinned run (space in the runs list pins).
The bright line is the EMA-smoothed value; the faint one the raw values (min/max per column, so spikes show).
Crosses are eval points (eval_<metric>)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "pick_metric", "Metric", id="chart.metric"),
        Binding("L", "toggle_log", "Log y", id="chart.log"),
    ]

    metric: reactive[str] = reactive("loss")
    log_y: reactive[bool] = reactive(False)

    def __init__(self, metric: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(MetricChart.metric, metric)
        self._traces: list[Trace] = []
        self._prepared = False

    @property
    def pane(self) -> ChartsPane:
        return self.query_ancestor(ChartsPane)

    def watch_metric(self) -> None:
        self.update_data()

    def watch_log_y(self) -> None:
        self.refresh()

    def update_data(self) -> None:
        if self.is_mounted:
            self._prepare(self.size.width)

    @work(thread=True, exclusive=True, exit_on_error=False, group="charts")
    def _prepare(self, width: int) -> None:
        pane = self.pane
        model = self.app.model  # type: ignore[attr-defined]
        buckets = max(20, width - 10)
        traces: list[Trace] = []
        for run_id, color in pane.displayed():
            with model.lock:
                entry = model.entries.get(run_id)
                if entry is None:
                    continue
                series = entry.series.series.get(self.metric)
                ev = entry.series.series.get(f"eval_{self.metric}") if pane.eval_points else None
                if series is None and ev is None:
                    continue
                data = (plot_points(series, buckets, pane.smoothing, pane.window) if series is not None
                        else PlotData([], [], [], [], 0))
                ex, ey = ([], [])
                if ev is not None and len(ev):
                    epd = plot_points(ev, buckets, 0.0, pane.window)
                    ex, ey = epd.raw_x, epd.raw_y
            traces.append(Trace(run_id, color, data, ex, ey))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, traces)

    def _show(self, traces: list[Trace]) -> None:
        self._traces = traces
        self._prepared = True
        self.refresh()

    def render(self):  # type: ignore[override]
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not self._traces:
            plt.title(f"{self.metric}: no data" if self._prepared else self.metric)
            return super().render()
        bg = self.app.current_theme.background or "#000000"
        pane = self.pane
        smoothing = pane.smoothing
        total = 0
        for t in self._traces:
            d = t.data
            total += d.total_points
            if smoothing > 0 and d.smooth_x:
                faint = Color.parse(t.color).blend(Color.parse(bg), 0.6).rgb
                plt.plot(d.raw_x, d.raw_y, marker="braille", color=faint)
                plt.plot(d.smooth_x, d.smooth_y, marker="braille", color=_rgb(t.color))
            elif d.raw_x:
                plt.plot(d.raw_x, d.raw_y, marker="braille", color=_rgb(t.color))
            if t.eval_x:
                plt.scatter(t.eval_x, t.eval_y, marker="x", color=_rgb(t.color))
        if self.log_y and all(min(t.data.raw_y or [1]) > 0 for t in self._traces):
            plt.yscale("log")
        plt.title(f"{self.metric}  ({total:,} pts)")
        return super().render()

    def on_resize(self) -> None:
        self.update_data()

    def action_pick_metric(self) -> None:
        names = self.pane.metric_names()
        if not names:
            self.notify("no metrics logged yet", severity="warning")
            return

        def chosen(name: str | None) -> None:
            if name:
                self.metric = name

        from aba_tui.screens.pick import PickScreen

        self.app.push_screen(PickScreen(f"Metric for this chart (now {self.metric})", names, self.metric), chosen)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y


class ChartsPane(Vertical):
    """The charts side by side, and a legend naming each overlaid run in its colour."""

    HELP = """\
## Charts
`[` / `]` smoothing down/up (EMA weight of the past), `w` the step window (all, last 10k/1k/100),
`e` eval points on/off. On a focused chart: `m` picks its metric (any metric the runs logged), `L` log scale.
Pin runs with space in the runs list to overlay them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "smooth(-1)", "Less smooth", id="charts.smooth-less", key_display="["),
        Binding("right_square_bracket", "smooth(1)", "More smooth", id="charts.smooth-more", key_display="]"),
        Binding("w", "cycle_window", "Window", id="charts.window"),
        Binding("e", "toggle_eval", "Eval pts", id="charts.eval"),
    ]

    smoothing: reactive[float] = reactive(0.6, init=False)
    window: reactive[float | None] = reactive(None, init=False)
    eval_points: reactive[bool] = reactive(True, init=False)

    def __init__(self, metrics: list[str], smoothing: float, eval_points: bool, max_overlay: int,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.metrics = metrics
        self.set_reactive(ChartsPane.smoothing, smoothing)
        self.set_reactive(ChartsPane.eval_points, eval_points)
        self.max_overlay = max_overlay
        self._runs: list[str] = []

    def compose(self):
        with Horizontal(id="chart-row"):
            for i, m in enumerate(self.metrics):
                yield MetricChart(m, id=f"chart-{i}", classes="chart")
        yield Static(id="legend")

    def charts(self) -> list[MetricChart]:
        return list(self.query(MetricChart))

    def displayed(self) -> list[tuple[str, str]]:
        """(run id, colour) of the runs drawn, at most ``max_overlay``."""
        colors = self.app.chart_colors()  # type: ignore[attr-defined]
        return [(rid, colors[i % len(colors)]) for i, rid in enumerate(self._runs[: self.max_overlay])]

    def set_runs(self, run_ids: list[str]) -> None:
        if run_ids != self._runs:
            self._runs = list(run_ids)
            self.redraw()

    def metric_names(self) -> list[str]:
        model = self.app.model  # type: ignore[attr-defined]
        names: set[str] = set()
        with model.lock:
            for rid, _c in self.displayed():
                e = model.entries.get(rid)
                if e is not None:
                    names.update(e.series.series)
        return sorted(names)

    def redraw(self, dirty: set[str] | None = None) -> None:
        """Re-prepare the charts (all, or only when one of ``dirty`` runs is drawn)."""
        if dirty is not None and not dirty.intersection(self._runs[: self.max_overlay]):
            return
        for c in self.charts():
            c.update_data()
        self._legend()

    def _legend(self) -> None:
        parts = []
        for rid, color in self.displayed():
            parts.append(f"[{color}]━━[/] {rid}")
        win = "all steps" if self.window is None else f"last {int(self.window):,} steps"
        extra = f"  [dim]EMA {self.smoothing:g} · {win} · eval {'on' if self.eval_points else 'off'}[/]"
        self.query_one("#legend", Static).update(("   ".join(parts) or "no run selected") + extra)

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

