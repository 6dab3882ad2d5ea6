"""The history of a big events file, read in the background behind the tail the charts opened it at.

A run whose events file is over ``runs.full_history_mb`` is drawn first from its last ``tail_lines``
lines (``series.open_events``: read backwards from the end, no scan of the file). Its history is then
read from the top in slices, one a watcher pass, into a series of its own; once that has caught up with
the live tail (same offset, same file), the runs model swaps it in, in one step under its lock. It has
then read exactly the bytes a full read would have, through the same ``RunSeries.ingest``: the charts
get the same series as a full read, and never a half-filled one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.monitor.parse import parse_events
from pipeline.monitor.series import RunSeries
from pipeline.runs.events import Follower, Tail


@dataclass
class HistoryFill:
    """Reads ``[0, live.offset)`` of the file a live Tail follows into ``series``. Below ``head`` (where
    the tail window began) are the events the drawn series never saw: their alerts are new."""

    reader: Follower
    head: int
    series: RunSeries
    malformed: int = 0
    alerts_seen: int = 0  # the series' alert events already handed out
    end: int = 0  # the live tail's offset at the last slice (for the progress shown)
    _fresh: bool = field(default=True, repr=False)

    @classmethod
    def behind(cls, tail: Tail, head: int, drawn: RunSeries) -> HistoryFill:
        # The inode is pinned: a file replaced under us is a reset, and the fill is dropped.
        reader = Follower(tail.path, inode=tail.inode, max_line=tail.max_line)
        series = RunSeries(monotonic=drawn.monotonic, counted_by=drawn.counted_by)
        return cls(reader, head, series, end=tail.offset)

    @property
    def fresh(self) -> bool:
        """Whether the last slice lay below ``head`` (events the drawn series never saw)."""
        return self._fresh

    @property
    def fraction(self) -> float:
        return min(1.0, self.reader.offset / self.end) if self.end else 1.0

    @property
    def bad_lines(self) -> int:
        return self.malformed + self.reader.long_lines

    def step(self, live: Tail, max_bytes: int) -> bool | None:
        """Read and ingest one slice of at most ``max_bytes`` (never across ``head``, never past the live
        tail); True once caught up with ``live``, None when the file was replaced or truncated (drop the
        fill: the live tail restarts from the top by itself)."""
        if live.inode != self.reader.inode or live.resets:
            return None
        self.end = live.offset
        start = self.reader.offset
        self._fresh = start < self.head
        want = (self.head if self._fresh else live.offset) - start
        if want > 0:
            lines, reset = self.reader.read_lines(min(want, max_bytes))
            if reset or self.reader.offset == start:
                return None  # truncated under us (a read can only stop short at the file's end)
            events, bad = parse_events(lines)
            self.malformed += bad
            self.series.ingest(events)
        return self.reader.offset >= live.offset
