"""One metric chart: several runs overlaid, EMA line over the raw min/max envelope, eval points, log y.

The points are prepared in the charts pane's worker thread (window, EMA, downsampling under the
model's lock); the event loop only lays the few hundred that remain into braille cells
(aba_tui.panes.braille, ~1-2 ms a chart) and hands Textual one Strip a row (the Line API), rebuilt
only when the data, size, theme or scale changed. The chart knows nothing of the pane around it: it
draws what it is handed (``show``) and asks with messages (``DataWanted``, ``PickMetric``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from aba_tui.panes.braille import AXIS, TITLE, Line, layout
from pipeline.monitor.chart_spec import expand
from pipeline.monitor.series import PlotData

if TYPE_CHECKING:
    from pipeline.monitor.views import RunsViews


@dataclass
class Trace:
    run_id: str
    color: str
    data: PlotData
    eval_x: list[float]
    eval_y: list[float]
    series: str = ""  # the metric drawn (a chart of several: "a+b", "family/*")


class MetricChart(Widget):
    """One metric (or several: ``a+b``, ``family/*``, aba pipeline.monitor.chart_spec) against step for the
    selected and pinned runs."""

    DEFAULT_CSS = """
    MetricChart {
        width: 1fr;
        height: 1fr;
        border: blank;
        border-title-align: center;
    }
    MetricChart:focus {
        border: round $accent;
    }
    """

    can_focus = True
    HELP = """\
## Chart
One metric against step for the highlighted run and every pinned run (space in the runs list pins).
The bright line is the EMA-smoothed value; the faint one the raw values (min/max per column, so spikes show).
Crosses are eval points (eval_<metric>). The charts follow the highlighted run's stage (a datagen run shows
its pace, error rates and judge scores; a study its refusals and KL with the running best); a chart of
several metrics names each in its colour in its title. `m` picks another, kept for that stage's runs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "pick_metric", "Metric", id="chart.metric", tooltip="pick this chart's metric"),
        Binding("L", "toggle_log", "Log y", id="chart.log", tooltip="log scale on or off"),
    ]

    class DataWanted(Message):
        """The chart's metric or width changed: its traces must be prepared again. Resizing posts one
        per chart per step, so they coalesce."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MetricChart.DataWanted)

    class PickMetric(Message):
        """The user asked to choose this chart's metric (the screen owns the picker)."""

        def __init__(self, chart: MetricChart) -> None:
            super().__init__()
            self.chart = chart

    metric: reactive[str] = reactive("loss")
    log_y: reactive[bool] = reactive(False)

    def __init__(self, metric: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.set_reactive(MetricChart.metric, metric)
        self._traces: list[Trace] = []
        self._smoothing = 0.0  # of the traces shown: the EMA line is drawn only when smoothing
        self._prepared = False
        self._sig: tuple = ()
        self._frame_key: tuple = ()
        self._strips: list[Strip] = []
        self.builds = 0  # frames laid out (tests and benchmarks read it)

    def watch_metric(self) -> None:
        self.update_data()

    def watch_log_y(self) -> None:
        self.refresh()

    def update_data(self) -> None:
        if self.is_mounted:
            self.post_message(self.DataWanted())

    def traces(self, model: RunsViews, runs: list[tuple[str, str]], smoothing: float, window: float | None,
               eval_points: bool, palette: Sequence[str] = ()) -> list[Trace]:
        """What this chart draws, from the model's copies (called from the charts pane's worker thread).
        Several metrics in one chart take turns in ``palette`` (run by run), one metric the run's colour."""
        # One bucket a column: its min and max are the column's two braille dots.
        buckets = max(16, self.size.width - 8)
        names = expand(self.metric, model.metric_names(rid for rid, _c in runs))
        colors = list(palette) or [c for _r, c in runs]
        out: list[Trace] = []
        for i, (run_id, color) in enumerate(runs):
            for j, name in enumerate(names):
                got = model.chart_data(run_id, name, buckets, smoothing, window, eval_points)
                if got is not None:
                    ink = color if len(names) == 1 or not colors else colors[(i * len(names) + j) % len(colors)]
                    out.append(Trace(run_id, ink, got.data, got.eval_x, got.eval_y, name))
        return out

    def show(self, traces: list[Trace], smoothing: float) -> None:
        """Draw ``traces`` (prepared by ``traces()`` with this ``smoothing``)."""
        # Skip the repaint when nothing this chart shows changed (an event with only other metrics,
        # a run without this metric). The point counts are in the signature: points bucketed for the
        # width before a resize must not pass for the same picture at the new width.
        sig = self._signature(traces, smoothing)
        if self._prepared and sig == self._sig:
            return
        self._traces, self._smoothing, self._sig, self._prepared = traces, smoothing, sig, True
        self.refresh()

    def _signature(self, traces: list[Trace], smoothing: float) -> tuple:
        return (smoothing, self.log_y, self.size, self.app.theme,
                tuple((t.run_id, t.series, t.color, t.data.total_points, t.data.raw_x[-1:], t.data.raw_y[-1:],
                       len(t.eval_x), t.data.raw_x[:1], len(t.data.raw_x), len(t.data.smooth_x)) for t in traces))

    def render_line(self, y: int) -> Strip:
        # The compositor asks for rows whenever a neighbour's repaint crosses this region: keep the
        # last frame while nothing it shows has changed.
        key = (self._sig, self.size, self.app.theme, self.log_y, self._prepared, self.metric)
        if key != self._frame_key or not self._strips:
            self._frame_key, self._strips = key, self._build()
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.size.width, self.rich_style)

    def _log_ok(self) -> bool:
        return self.log_y and bool(self._traces) and all(min(t.data.raw_y or [1]) > 0 for t in self._traces)

    def _title(self) -> str:
        if not self._traces:
            return f"{self.metric}: no data" if self._prepared else self.metric
        total = sum(t.data.total_points for t in self._traces)
        return f"{self.metric}  ({total:,} pts)" + ("  · log y" if self._log_ok() else "")

    def _key(self, width: int) -> list[tuple[str, str | None]] | None:
        """The title of a chart of several metrics: each name in its line's colour (None: one metric)."""
        inks: dict[str, str] = {}
        for t in self._traces:
            inks.setdefault(t.series, t.color)
        if len(inks) < 2:
            return None
        parts: list[tuple[str, str | None]] = []
        for i, (name, ink) in enumerate(inks.items()):
            parts += [(" · ", TITLE)] if i else []
            parts.append((name, ink))
        used = sum(len(text) for text, _ink in parts)
        if used > width:
            return None  # too narrow for the key: the plain title
        pad = width - used
        return [(" " * (pad // 2), None), *parts, (" " * (pad - pad // 2), None)]

    def _build(self) -> list[Strip]:
        self.builds += 1
        width, height = self.size
        base = self.rich_style
        bg = self.app.current_theme.background or "#000000"
        smoothing = self._smoothing
        lines: list[Line] = []
        for t in self._traces:
            d = t.data
            if smoothing > 0 and d.smooth_x:
                faint = Color.parse(t.color).blend(Color.parse(bg), 0.6).hex
                lines.append(Line(d.raw_x, d.raw_y, faint))
                lines.append(Line(d.smooth_x, d.smooth_y, t.color))
            elif d.raw_x:
                lines.append(Line(d.raw_x, d.raw_y, t.color))
            if t.eval_x:
                lines.append(Line(t.eval_x, t.eval_y, t.color, marker="×"))
        rows = layout(width, height, self._title(), lines, self._log_ok())
        key = self._key(width)
        if key is not None:
            rows[0] = key
        styles: dict[str | None, Style] = {None: base, AXIS: base + Style(dim=True), TITLE: base + Style(bold=True)}
        strips = []
        for row in rows:
            segs = []
            for text, ink in row:
                style = styles.get(ink)
                if style is None:
                    style = styles[ink] = base + Style(color=ink)
                segs.append(Segment(text, style))
            strips.append(Strip(segs).adjust_cell_length(width, base))
        return strips

    def on_resize(self) -> None:
        self.update_data()

    def action_pick_metric(self) -> None:
        self.post_message(self.PickMetric(self))

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
