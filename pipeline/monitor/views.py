"""What panes read from the runs model: copies made under its lock, never its entries themselves.

The watcher thread mutates ``RunsModel.entries`` (series grow, tails advance); a pane (or a pane's
worker thread) asks for plain values through these methods instead of taking the lock and walking
the internals.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.monitor.entries import RunEntry
from pipeline.monitor.series import PlotData, plot_points


@dataclass(frozen=True)
class ChartData:
    """One run's points of one metric, ready to draw."""

    run_id: str
    data: PlotData
    eval_x: list[float]
    eval_y: list[float]


@dataclass(frozen=True)
class Legend:
    run_id: str
    label: str
    malformed: int  # lines of its log that could not be parsed
    tail_only: bool  # only the end of a big file was read
    history: float | None = None  # the share of its history read so far, while that goes on


class RunsViews:
    """Mixed into RunsModel: the read side the UI uses."""

    lock: threading.RLock
    entries: dict[str, RunEntry]

    def has_run(self, run_id: str) -> bool:
        with self.lock:
            return run_id in self.entries

    def metric_names(self, run_ids: Iterable[str]) -> list[str]:
        """Every metric any of these runs logged, sorted."""
        names: set[str] = set()
        with self.lock:
            for rid in run_ids:
                e = self.entries.get(rid)
                if e is not None:
                    names.update(e.series.series)
        return sorted(names)

    def chart_data(self, run_id: str, metric: str, buckets: int, smoothing: float, window: float | None,
                   eval_points: bool) -> ChartData | None:
        """Downsampled points of ``metric`` (and its ``eval_`` twin); None when the run has neither."""
        with self.lock:
            entry = self.entries.get(run_id)
            if entry is None:
                return None
            series = entry.series.series.get(metric)
            ev = entry.series.series.get(f"eval_{metric}") if eval_points else None
            if series is None and ev is None:
                return None
            data = (plot_points(series, buckets, smoothing, window) if series is not None
                    else PlotData([], [], [], [], 0))
            ex: list[float] = []
            ey: list[float] = []
            if ev is not None and len(ev):
                epd = plot_points(ev, buckets, 0.0, window)
                ex, ey = epd.raw_x, epd.raw_y
        return ChartData(run_id, data, ex, ey)

    def legend(self, run_id: str) -> Legend | None:
        with self.lock:
            e = self.entries.get(run_id)
            if e is None:
                return None
            bad = e.tail.malformed if e.tail else (e.reader.malformed if e.reader else 0)
            return Legend(run_id, e.label or run_id, bad, e.series.tail_only,
                          e.history.fraction if e.history is not None else None)
