"""Metric series for charts: compact storage, EMA smoothing, min/max downsampling, tail windows.

No Textual and no numpy: values live in ``array`` buffers (8 bytes a step, 4 a value) and the hot
loops (min/max per bucket) run in C through slicing, so a million points downsample in ~50 ms.
The UI's watcher thread feeds events in with :class:`RunSeries`; charts ask for ``plot_points``.
"""

from __future__ import annotations

import math
import os
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from pipeline.monitor.parse import parse_events
from pipeline.runs.events import MAX_LINE_BYTES, Tail, read_back
from pipeline.runs.vocabulary import EventType
from pipeline.safeio import open_regular

# Event keys that are bookkeeping, not metrics a user would chart.
NOT_METRICS = frozenset({"ts", "type", "step", "pid", "attempt", "exit_code", "signal", "total_steps",
                         "batch_size", "written_at"})


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_number(value: Any, finite: bool = False) -> float | None:
    """``value`` as a float when it is a real number (bools are not), else None; NaN/inf → None if ``finite``."""
    if not is_number(value) or (finite and not math.isfinite(value)):
        return None
    return float(value)


class Series:
    """One metric of one run: x (step) and y arrays, append-only.

    With ``monotonic`` (the default), a step lower than the last one means the run resumed from an
    earlier checkpoint: the points past it are purged, as TensorBoard does, so lines never fold back.
    """

    __slots__ = ("_ema", "_ema_weight", "monotonic", "xs", "ys")

    def __init__(self, monotonic: bool = True) -> None:
        self.xs = array("d")
        self.ys = array("f")
        self.monotonic = monotonic
        self._ema: array | None = None
        self._ema_weight = -1.0

    def __len__(self) -> int:
        return len(self.xs)

    def append(self, x: float, y: float) -> None:
        xs = self.xs
        if self.monotonic and xs and x < xs[-1]:
            cut = bisect_left(xs, x)
            del xs[cut:]
            del self.ys[cut:]
            if self._ema is not None:
                del self._ema[cut:]
        xs.append(x)
        self.ys.append(y)

    def last(self) -> tuple[float, float] | None:
        return (self.xs[-1], self.ys[-1]) if self.xs else None

    def extend(self, xs: array, ys: array) -> None:
        """Append points whose x never decreases (within ``xs``); the first may still go back (a resume)."""
        if not xs:
            return
        if self.monotonic and self.xs and xs[0] < self.xs[-1]:
            self.append(xs[0], ys[0])
            xs, ys = xs[1:], ys[1:]
        self.xs.extend(xs)
        self.ys.extend(ys)

    def ema(self, weight: float) -> array:
        """EMA of ys (``weight`` = share of the past, 0 = raw), extended incrementally and cached."""
        if self._ema is None or weight != self._ema_weight:
            self._ema, self._ema_weight = array("f"), weight
        out, ys = self._ema, self.ys
        if len(out) < len(ys):
            last = out[-1] if out else ys[len(out)]
            keep = 1.0 - weight
            for v in ys[len(out):]:
                last = last * weight + keep * v
                out.append(last)
        return out

    def memory_bytes(self) -> int:
        extra = self._ema.buffer_info()[1] * 4 if self._ema is not None else 0
        return self.xs.buffer_info()[1] * 8 + self.ys.buffer_info()[1] * 4 + extra


def window(xs: array, lo: float | None = None, hi: float | None = None) -> tuple[int, int]:
    """Index range of sorted ``xs`` within [lo, hi] (binary search: O(log n))."""
    i = 0 if lo is None else bisect_left(xs, lo)
    j = len(xs) if hi is None else bisect_right(xs, hi)
    return i, j


def downsample_minmax(xs: Any, ys: Any, buckets: int, start: int = 0,
                      end: int | None = None) -> tuple[list[float], list[float]]:
    """At most ``2 * buckets`` points of ys[start:end] keeping each bucket's min and max, in order.

    Spikes survive (a NaN-free loss spike in one step of a million still shows), and drawing cost no
    longer depends on the series length.
    """
    end = len(ys) if end is None else end
    n = end - start
    if n <= 0:
        return [], []
    if n <= 2 * buckets:
        return list(xs[start:end]), list(ys[start:end])
    ox: list[float] = []
    oy: list[float] = []
    for b in range(buckets):
        lo = start + b * n // buckets
        hi = start + (b + 1) * n // buckets
        seg = ys[lo:hi]
        mn, mx = min(seg), max(seg)
        i_mn, i_mx = lo + seg.index(mn), lo + seg.index(mx)
        first, second = (i_mn, i_mx) if i_mn <= i_mx else (i_mx, i_mn)
        ox.append(xs[first])
        oy.append(ys[first])
        if second != first:
            ox.append(xs[second])
            oy.append(ys[second])
    return ox, oy


def ema_list(values: list[float], weight: float) -> list[float]:
    """EMA of a plain list (used on small foreign series and in tests)."""
    out: list[float] = []
    last = None
    for v in values:
        last = v if last is None else last * weight + (1.0 - weight) * v
        out.append(last)
    return out


@dataclass
class PlotData:
    """What a chart draws for one run and metric."""

    raw_x: list[float]
    raw_y: list[float]
    smooth_x: list[float]
    smooth_y: list[float]
    total_points: int


def plot_points(series: Series, buckets: int, smoothing: float = 0.0, last_steps: float | None = None,
                x_lo: float | None = None, x_hi: float | None = None) -> PlotData:
    """Downsampled raw and smoothed points of ``series`` for a chart ``buckets`` columns wide.

    ``last_steps`` keeps only the final stretch of x (for the monotonic series of a run); the EMA is
    computed over the whole series so the smoothed line does not restart at the window's edge.
    """
    xs, ys = series.xs, series.ys
    if series.monotonic and xs:
        if last_steps is not None:
            x_lo = xs[-1] - last_steps
        i, j = window(xs, x_lo, x_hi)
    else:
        i, j = 0, len(xs)
    rx, ry = downsample_minmax(xs, ys, buckets, i, j)
    sx: list[float] = []
    sy: list[float] = []
    if smoothing > 0 and j > i:
        sm = series.ema(smoothing)
        # Smoothed lines need no min/max envelope: one point a bucket (its last) is enough.
        n = j - i
        step = max(1, n // (2 * buckets))
        idx = list(range(i, j, step))
        if idx[-1] != j - 1:
            idx.append(j - 1)
        sx = [xs[k] for k in idx]
        sy = [sm[k] for k in idx]
    return PlotData(rx, ry, sx, sy, j - i)


@dataclass
class NonFinite:
    metric: str
    step: int | None
    value: float


def _same_shape_run(events: list[dict[str, Any]], i: int) -> int:
    """End of the run of metrics events from ``i`` with as many keys as ``events[i]`` and int steps that
    never go back; ``i`` when ``events[i]`` cannot start one."""
    first = events[i]
    step = first.get("step")
    metrics = EventType.METRICS
    if first.get("type", metrics) != metrics or type(step) is not int:
        return i
    size, n, j = len(first), len(events), i + 1
    while j < n:
        ev = events[j]
        nxt = ev.get("step")
        if type(nxt) is not int or nxt < step or len(ev) != size or ev.get("type", metrics) != metrics:
            break
        step, j = nxt, j + 1
    return j


@dataclass
class RunSeries:
    """Everything the UI knows about one run's events, fed incrementally by the watcher thread.

    Progress is counted per phase: ``done`` of ``total_steps`` in ``phase`` (a `progress` event naming
    another phase starts a new count), from the step of `progress` events and, for a stage ``counted_by``
    metrics (the registry says), of `metrics` events too. The ETA is the current phase's."""

    series: dict[str, Series] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)  # last value of every metric, NaN included
    step: int | None = None  # the step of the last metrics event (the charts' x)
    total_steps: int | None = None
    eta_s: float | None = None  # the stage's own estimate for this phase (a metrics eta_s)
    first_ts: float | None = None  # time of the first metrics event
    first_step: int | None = None
    last_ts: float | None = None
    counted_by: str = "metrics"
    phase: str | None = None
    phases: list[str] = field(default_factory=list)  # every phase the run announced, in order
    done: int | None = None
    count_start: tuple[float, int] | None = None  # (ts, done) of the phase's first count
    count_origin: tuple[float, int] | None = None  # (ts, done) of its first advance: the rate is taken from here
    count_ts: float | None = None  # ts of the latest count
    events: int = 0
    nonfinite: list[NonFinite] = field(default_factory=list)  # new since the last take_nonfinite()
    alerts: list[dict[str, Any]] = field(default_factory=list)  # alert events the worker wrote
    checkpoints: list[str] = field(default_factory=list)
    monotonic: bool = True
    tail_only: bool = False  # True when only the end of a big file was read

    def reset(self) -> None:
        # Every field back to its default (a fresh instance's), keeping the x-axis mode and how it counts.
        vars(self).update(vars(RunSeries(monotonic=self.monotonic, counted_by=self.counted_by)))

    def metric_names(self) -> list[str]:
        return sorted(self.series)

    def _series(self, name: str) -> Series:
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = Series(self.monotonic)
        return s

    def ingest(self, events: list[dict[str, Any]]) -> set[str]:
        """Add events; return the names of the metrics that got new points.

        Opening a big run ingests tens of thousands of events before its first frame, nearly all of them
        metrics lines of one shape: a run of those (same keys in the same order, int steps that never go
        back) is added a column at a time (one ``array.extend`` a metric); anything else, or a run holding
        a NaN or a value of another type, goes event by event. The result is the same either way."""
        changed: set[str] = set()
        i, n = 0, len(events)
        while i < n:
            j = _same_shape_run(events, i)
            if j - i < 2 or not self._ingest_run(events[i:j], changed):
                j = max(j, i + 1)
                for ev in events[i:j]:
                    self._ingest_event(ev, changed)
            i = j
        return changed

    def _ingest_run(self, run: list[dict[str, Any]], changed: set[str]) -> bool:
        """Add metrics events of one shape column by column; False (nothing changed) when they do not all
        have the same keys, or a value is not a plain finite number in a column of numbers."""
        columns: list[tuple[str, list[Any]]] = []
        try:
            for key in run[0]:
                if key in NOT_METRICS:
                    continue
                ys = [ev[key] for ev in run]
                if not set(map(type, ys)) <= {int, float}:
                    if any(map(is_number, ys)):
                        return False  # numbers mixed with other things
                    continue  # never a number (a string field): not a metric, as event by event
                if not all(map(math.isfinite, ys)):
                    return False  # NaN/inf are noted, not drawn
                columns.append((key, ys))
        except (KeyError, OverflowError):  # keys differ (the run checks their count only); an int past a float
            return False
        steps: list[int] = [ev["step"] for ev in run]
        stamps: list[Any] = [ev.get("ts") for ev in run]
        self.events += len(run)
        if self.first_step is None:
            self.first_step, self.first_ts = steps[0], stamps[0] if is_number(stamps[0]) else None
        if set(map(type, stamps)) <= {int, float}:
            self.last_ts = stamps[-1]
            if self.counted_by == "metrics":  # _count on each, in closed form: the steps never go back
                self._count(steps[0], stamps[0])
                if self.count_origin is None and self.count_start is not None:
                    k = bisect_right(steps, self.count_start[1])  # the first advance
                    if k < len(steps):
                        self.count_origin = (stamps[k], steps[k])
                self.done, self.count_ts = steps[-1], stamps[-1]
        else:
            for step, ts in zip(steps, stamps, strict=True):
                if is_number(ts):
                    self.last_ts = ts
                if self.counted_by == "metrics":
                    self._count(step, ts)
        self.step = steps[-1]
        xs = array("d", steps)
        for key, ys in columns:
            self.last[key] = ys[-1]
            if key == "eta_s":
                self.eta_s = float(ys[-1])
            self._series(key).extend(xs, array("f", ys))
            changed.add(key)
        return True

    def _ingest_event(self, ev: dict[str, Any], changed: set[str]) -> None:
        self.events += 1
        kind = ev.get("type", EventType.METRICS)
        ts = ev.get("ts")
        if is_number(ts):
            self.last_ts = ts
        if kind == EventType.PROGRESS:
            self._progress(ev, ts)
            return
        if kind == EventType.ALERT:
            self.alerts.append(ev)
            return
        if kind == EventType.CHECKPOINT:
            self.checkpoints.append(str(ev.get("name", "?")))
            return
        if kind != EventType.METRICS:
            return
        raw_step = ev.get("step")
        step = int(raw_step) if is_number(raw_step) else (self.step or 0) + 1
        if self.first_step is None:
            self.first_step = step
            self.first_ts = ts if is_number(ts) else None
        self.step = step
        if self.counted_by == "metrics":
            self._count(step, ts)
        for key, value in ev.items():
            if key in NOT_METRICS or not is_number(value):
                continue
            self.last[key] = value
            if key == "eta_s":
                self.eta_s = float(value)
            if isinstance(value, float) and not math.isfinite(value):
                self.nonfinite.append(NonFinite(key, step, value))
                continue
            self._series(key).append(step, value)
            changed.add(key)

    def _progress(self, ev: dict[str, Any], ts: Any) -> None:
        phases = ev.get("phases")
        if isinstance(phases, list) and all(isinstance(p, str) for p in phases):
            self.phases = list(phases)
        phase = ev.get("phase") if isinstance(ev.get("phase"), str) else None
        if phase != self.phase and (phase is not None or self.phase is not None):
            # A new phase counts from its own start: its rate, total and the stage's estimate are its own.
            self.phase, self.count_start, self.count_origin, self.eta_s = phase, None, None, None
        if is_number(ev.get("total_steps")):
            self.total_steps = int(ev["total_steps"])
        if is_number(ev.get("step")):
            self._count(int(ev["step"]), ts)

    def _count(self, done: int, ts: Any) -> None:
        if not is_number(ts):
            self.done = done
            return
        if self.count_start is None or done < self.count_start[1]:  # a resume from an earlier point restarts it
            self.count_start, self.count_origin = (ts, done), None
        elif self.count_origin is None and done > self.count_start[1]:
            self.count_origin = (ts, done)
        self.done, self.count_ts = done, ts

    @property
    def more_phases(self) -> bool:
        """Phases the run announced that come after the current one (its ETA does not cover them)."""
        return self.phase in self.phases and self.phases.index(self.phase) < len(self.phases) - 1

    def take_nonfinite(self) -> list[NonFinite]:
        out, self.nonfinite = self.nonfinite, []
        return out

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left in the current phase: the stage's own eta_s when logged, else from the rate since the
        phase's first advance (its first unit often carries the loading: it is left out once a second one
        came), else since the phase began."""
        if self.eta_s is not None:
            return self.eta_s
        total, done, last = self.total_steps, self.done, self.count_ts
        if total is None or done is None or last is None or self.count_start is None:
            return None
        left = total - done
        if left < 0:
            return None
        for origin in (self.count_origin, self.count_start):
            if origin is not None and done > origin[1] and last > origin[0]:
                return left * (last - origin[0]) / (done - origin[1])
        return None

    def memory_bytes(self) -> int:
        return sum(s.memory_bytes() for s in self.series.values())


def tail_window(path: Path, max_lines: int, block: int = 1 << 20) -> tuple[list[bytes], int, int]:
    """The last ``max_lines`` complete lines of ``path``, the offset just past the last of them,
    and the file's inode: start a :class:`Tail` there to follow it (a partial last line is left
    for the tail to read once its newline arrives)."""
    with open_regular(path) as fh:  # a FIFO in its place raises at once, never blocks
        st = os.fstat(fh.fileno())
        buf, pos = read_back(fh, st.st_size, max_lines, block)
    cut = buf.rfind(b"\n")
    if cut < 0:
        return [], pos, st.st_ino
    complete_end = pos + cut + 1
    lines = buf[: cut].split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first piece may start mid-line
    return lines[-max_lines:] if max_lines else [], complete_end, st.st_ino


def open_events(path: Path, tail_lines: int,
                full_limit_bytes: int) -> tuple[Tail, list[dict[str, Any]], bool, int]:
    """Start following an events file: small files from the top (the caller polls the tail in
    chunks), big ones from their last ``tail_lines`` lines. Returns the tail, the events already
    read, whether only the end was read, and where those lines begin (0 for a file read from the top):
    the history behind them is ``[0, head)``."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return Tail(Path(path)), [], False, 0
    if size <= full_limit_bytes:
        return Tail(Path(path)), [], False, 0
    lines, offset, inode = tail_window(Path(path), tail_lines)
    head = offset - sum(map(len, lines)) - len(lines)
    lines = [line for line in lines if len(line) <= MAX_LINE_BYTES]
    tail = Tail(Path(path), offset=offset, inode=inode)
    events, tail.malformed = parse_events(lines)
    return tail, events, True, head
