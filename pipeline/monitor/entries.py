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
    from pipeline.monitor.history import HistoryFill


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
    history: HistoryFill | None = None  # a big file's history, being read behind its drawn tail
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
    phase: str | None = None  # the part of its run that step/total and the ETA count (the stage's phases)
    eta_more: bool = False  # later phases follow: the ETA covers this one only (shown as "ETA+")


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


def summarize_tail(path: Path, lines: int = 200, head_bytes: int = 64 << 10,
                   counted_by: str = "metrics") -> dict[str, Any]:
    """Where a run stands, from the first and last blocks of its events file only (the first progress event
    comes first; the latest metrics and progress come last): ``step`` (its last metrics step), ``done`` (its
    count in ``phase``: the step of the latest progress event, or of a later metrics event when the stage is
    ``counted_by`` metrics), ``total`` (that phase's), ``phase``, and the last ``loss`` and ``reward``."""
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
            if isinstance(ev.get("phase"), str):
                out["phase"] = ev["phase"]
            break
    seen_progress = False
    for raw in reversed(raws):
        ev = parse_line(raw)
        if not ev:
            continue
        kind = ev.get("type")
        if kind == EventType.PROGRESS and is_number(ev.get("total_steps")) and not seen_progress:
            seen_progress = True  # the latest: a resume may announce a new total, a new phase its own
            out["total"] = int(ev["total_steps"])
            out.pop("phase", None)
            if isinstance(ev.get("phase"), str):
                out["phase"] = ev["phase"]
            if "done" not in out and is_number(ev.get("step")):
                out["done"] = int(ev["step"])
        if kind != EventType.METRICS:
            continue
        if is_number(ev.get("step")):
            out.setdefault("step", ev["step"])
            if counted_by == "metrics":
                out.setdefault("done", int(ev["step"]))
        for key in ("loss", "reward"):
            if key not in out and is_number(ev.get(key)):
                out[key] = ev[key]
        if seen_progress and all(k in out for k in ("step", "loss", "reward")):
            break
    return out
