"""The records the runs model keeps and hands out: one RunEntry per run or opened log, RunRow for
the runs list, Changes for the UI; plus reading a run's step and loss from the ends of its events file.
No Textual here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.monitor.alerts import Alert
from pipeline.monitor.series import RunSeries, is_number
from pipeline.runs.events import Tail, parse_line, read_last_lines
from pipeline.runs.status import ACTIVE, Status
from pipeline.runs.vocabulary import AlertLevel, EventType
from pipeline.safeio import open_regular

if TYPE_CHECKING:
    from pipeline.monitor.foreign import ForeignReader


EntryKind = Literal["run", "foreign"]  # a run folder, or a log opened with `aba open`


@dataclass
class RunEntry:
    run_id: str
    path: Path
    kind: EntryKind = "run"
    label: str = ""
    status: Status | None = None
    error: str | None = None
    fault: str = "corrupt"  # the state shown while status.json cannot be read (or "unreadable")
    series: RunSeries = field(default_factory=RunSeries)
    tail: Tail | None = None
    reader: ForeignReader | None = None
    loaded: bool = False
    external: bool = False  # opened from outside the runs dir
    status_sig: tuple[int, int] | None = None
    summary_sig: tuple[int, int] | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    last_activity: float | None = None
    activity_checked: float = float("-inf")  # time.monotonic() of the last look at the files' mtimes
    alerts_seen: int = 0
    first_state: str | None = None

    @property
    def state(self) -> str:
        if self.kind == "foreign":
            return "file"
        return self.status.state if self.status else self.fault

    @property
    def active(self) -> bool:
        return self.kind == "run" and self.state in ACTIVE


@dataclass(frozen=True)
class RunRow:
    """One line of the runs list: plain values, safe to hand to the UI thread."""

    run_id: str
    kind: EntryKind
    label: str
    stage: str
    state: str
    step: int | None
    total: int | None
    eta_s: float | None
    loss: float | None
    started_at: float | None
    ended_at: float | None
    reason: str | None
    alert_level: AlertLevel | None
    malformed: int
    attempt: int
    parent: str | None
    where: str = "local"  # or slurm:<job>@<nodes> (pipeline.runs.cluster.state.where)
    waiting: str | None = None  # why a queued run waits (Slurm's pending reason, or `after RUN`)


@dataclass
class Changes:
    """What changed since the UI last asked: runs whose series grew, new alerts, and whether the runs
    list needs a repaint (``urgent``: runs came or went, a state changed, an alert; else only steps,
    losses and ETAs moved, which the UI may batch)."""

    dirty: set[str]
    alerts: list[Alert]
    rows: bool
    urgent: bool


def file_sig(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def summarize_tail(path: Path, lines: int = 200, head_bytes: int = 64 << 10) -> dict[str, Any]:
    """Step, total and last loss of an events file, from its first and last blocks only (the
    progress event with total_steps comes first; the latest metrics come last)."""
    out: dict[str, Any] = {}
    try:
        raws = read_last_lines(path, lines)
        with open_regular(path) as fh:
            head = fh.read(head_bytes).split(b"\n")[:-1]
    except OSError:
        return out
    for raw in head:
        ev = parse_line(raw)
        if ev and ev.get("type") == EventType.PROGRESS and is_number(ev.get("total_steps")):
            out["total"] = int(ev["total_steps"])
    for raw in reversed(raws):
        ev = parse_line(raw)
        if not ev:
            continue
        if ev.get("type") == EventType.PROGRESS and is_number(ev.get("total_steps")) and "total_tail" not in out:
            out["total_tail"] = out["total"] = int(ev["total_steps"])  # a resume may announce a new total
        if ev.get("type") != EventType.METRICS:
            continue
        if "step" not in out and is_number(ev.get("step")):
            out["step"] = ev["step"]
        if "loss" not in out and is_number(ev.get("loss")):
            out["loss"] = ev["loss"]
        if "step" in out and "loss" in out:
            break
    out.pop("total_tail", None)
    return out
