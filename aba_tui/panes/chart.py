"""One metric chart (textual-plotext): several runs overlaid, EMA line over the raw min/max envelope,
eval points. The points are prepared in the charts pane's worker thread (window, EMA, downsampling under
the model's lock); the event loop only hands the few dozen that remain to plotext.

Its own module because textual-plotext takes ~0.1 s to import: the charts pane imports it after the
first frame, so the control centre paints before plotext is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingType
from textual.color import Color
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from pipeline.monitor.series import PlotData, plot_points

if TYPE_CHECKING:
    from aba_tui.panes.charts import ChartsPane


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
        # plotext's "clear" theme leaves background and axes to the widget (the app theme's surface
        # and text): no colour code per cell, so the frame parses 3× faster than with a painted theme.
        self.set_reactive(PlotextPlot.theme, "clear")
        self._traces: list[Trace] = []
        self._prepared = False
        self._sig: tuple = ()
        self._frame_key: tuple = ()
        self._frame = None

    @property
    def pane(self) -> ChartsPane:
        # By CSS type name: charts.py imports this module, so importing it back would make a circle.
        return cast("ChartsPane", self.query_ancestor("ChartsPane"))

    def watch_metric(self) -> None:
        self.update_data()

    def watch_log_y(self) -> None:
        self.refresh()

    def update_data(self) -> None:
        if self.is_mounted:
            self.pane.redraw()

    def traces(self, model, runs: list[tuple[str, str]], smoothing: float, window: float | None,  # type: ignore[no-untyped-def]
               eval_points: bool) -> list[Trace]:
        """What this chart draws, from the model (called from the charts pane's worker thread)."""
        # plotext draws ~0.15 ms a point: a point or two a column (min/max, then EMA) is what shows anyway.
        buckets = max(16, (self.size.width - 12) // 2)
        out: list[Trace] = []
        for run_id, color in runs:
            with model.lock:
                entry = model.entries.get(run_id)
                if entry is None:
                    continue
                series = entry.series.series.get(self.metric)
                ev = entry.series.series.get(f"eval_{self.metric}") if eval_points else None
                if series is None and ev is None:
                    continue
                data = (plot_points(series, buckets, smoothing, window) if series is not None
                        else PlotData([], [], [], [], 0))
                ex, ey = ([], [])
                if ev is not None and len(ev):
                    epd = plot_points(ev, buckets, 0.0, window)
                    ex, ey = epd.raw_x, epd.raw_y
            out.append(Trace(run_id, color, data, ex, ey))
        return out

    def _show(self, traces: list[Trace]) -> None:
        # plotext draws on the event loop: skip the redraw when nothing this chart shows changed
        # (an event with only other metrics, a run without this metric).
        sig = self._signature(traces)
        if self._prepared and sig == self._sig:
            return
        self._traces, self._sig, self._prepared = traces, sig, True
        self.refresh()

    def _signature(self, traces: list[Trace]) -> tuple:
        return (self.pane.smoothing, self.log_y, self.size, self.app.theme,
                tuple((t.run_id, t.color, t.data.total_points, t.data.raw_x[-1:], t.data.raw_y[-1:],
                       len(t.eval_x), t.data.raw_x[:1]) for t in traces))

    def render(self):
        # plotext builds ~10 ms a chart: keep the last frame while nothing it shows has changed
        # (the compositor asks again whenever a neighbour's repaint crosses this region).
        key = (self._sig, self.size, self.app.theme, self.log_y, self._prepared, self.metric)
        if key == self._frame_key and self._frame is not None:
            return self._frame
        self._frame_key, self._frame = key, self._build()
        return self._frame

    def _build(self):
        plt = self.plt
        plt.clear_data()
        plt.yscale("linear")
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
