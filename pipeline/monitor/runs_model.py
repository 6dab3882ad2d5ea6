"""What the control centre knows about runs, kept up to date by one watcher thread.

No Textual here: :meth:`RunsModel.poll_once` is called from a worker thread of the app (never on
its event loop) and from tests. Each pass lists the runs dir now and then, re-reads status.json
when it changed (or while a run is active, to notice a dead supervisor), reads only the new bytes
of events.jsonl through a Tail, updates the metric series and evaluates the alert rules. The UI
then takes the accumulated changes in one go (:meth:`take_changes`), so a burst of events becomes
one repaint. Runs that ended before we looked are summarised from the end of their events file
and read whole only when the user selects or pins them. A big events file is drawn from its end first
and its history read in slices on later passes (pipeline/monitor/history.py).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import registry
from pipeline.monitor import alerts as rules
from pipeline.monitor.alerts import Alert, AlertBook, Thresholds
from pipeline.monitor.entries import Changes, RunEntry, RunRow, summarize_tail
from pipeline.monitor.entries import file_sig as _sig
from pipeline.monitor.entries import mtime as _mtime
from pipeline.monitor.history import HistoryFill
from pipeline.monitor.series import RunSeries, is_number, open_events
from pipeline.monitor.telemetry import RunPids, Snapshot, Telemetry
from pipeline.monitor.views import RunsViews
from pipeline.runs.cluster.state import waiting_for, where
from pipeline.runs.faults.runs_dir import read_error
from pipeline.runs.layout import EVENTS_FILE, STATUS_FILE, STDERR_LOG, STDOUT_LOG
from pipeline.runs.notify import announce_lost
from pipeline.runs.procinfo import alive
from pipeline.runs.status import ACTIVE, read_status
from pipeline.runs.store import RunStore

if TYPE_CHECKING:
    from pipeline.monitor.foreign import ForeignReader

HOST = socket.gethostname()
CHUNK_BYTES = 8 << 20  # read a backlog in slices so one pass never parses a whole GB
HISTORY_SLICE = 2 << 20  # a big file's history, a pass at a time: ~6k events, tens of ms of the watcher
ACTIVITY_S = 2.0  # how often a run without new events has its files' mtimes looked at
RECENT_END_S = 24 * 3600  # bad ends this recent are announced when the app opens
log = logging.getLogger(__name__)



def _stage(stage: str | None) -> registry.Stage | None:
    return registry.stages().get(stage or "")


def _collapse_alert(stage: str | None) -> bool:
    """Whether a collapsing loss is a fault for this stage (the registry says; GRPO's sits near 0 by design)."""
    st = _stage(stage)
    return bool(st and st.collapse_alert)


def _counted_by(e: RunEntry) -> str:
    st = _stage(e.status.stage if e.status else None)
    return st.counted_by if st else "metrics"


def _phase(e: RunEntry, phase: str | None) -> str | None:
    """The phase to show: the run's own, else the stage's only phase (a trainer's progress names none)."""
    if phase:
        return phase
    st = _stage(e.status.stage if e.status else None)
    return st.phases[0].name if st and len(st.phases) == 1 else None


class RunsModel(RunsViews):
    def __init__(self, store: RunStore, thresholds: Thresholds | None = None, tail_lines: int = 20000,
                 full_history_bytes: int = 16 << 20, history_bytes: int = 2 << 30, scan_s: float = 2.0,
                 clock: Callable[[], float] = time.time, announce_lost: bool = False) -> None:
        self.store = store
        # Only the UI announces a lost run, with the user's own notifier (never a folder's command);
        # `aba ps` and `aba status` only read.
        self.announce_lost = announce_lost
        self.thresholds = thresholds or Thresholds()
        self.tail_lines = tail_lines
        self.full_history_bytes = full_history_bytes  # files up to this size are read whole before the first frame
        self.history_bytes = history_bytes  # bigger ones up to this size have their history read after it
        self.scan_s = scan_s
        self.clock = clock
        self.lock = threading.RLock()
        self.entries: dict[str, RunEntry] = {}
        self.book = AlertBook()
        self.wake = threading.Event()
        self._wanted: set[str] = set()
        self._dirty: set[str] = set()
        self._rows_changed = False
        self._rows_urgent = False  # runs came or went, a state changed, an alert: show at once
        self._new_alerts: list[Alert] = []
        self._last_scan = 0.0
        self._passes = 0
        self._backlog = False
        self._read_events = False  # this pass opened a file or read new events

    # -- requests from the UI ------------------------------------------------------------------
    def want(self, run_ids: set[str]) -> None:
        """The runs whose whole series the UI draws (selected and pinned)."""
        with self.lock:
            if run_ids - self._wanted:
                self.wake.set()
            self._wanted = set(run_ids)

    def add_foreign(self, reader: ForeignReader) -> str:
        with self.lock:
            rid = self._unique(f"file:{reader.label}")
            entry = RunEntry(rid, reader.path, kind="foreign", label=reader.label, reader=reader, external=True,
                             series=RunSeries(monotonic=reader.monotonic))
            self.entries[rid] = entry
            self._rows_changed = True
            self._rows_urgent = True
        self.wake.set()
        return rid

    def add_run_folder(self, path: Path) -> str:
        """A run folder outside the runs dir (``aba open``)."""
        path = Path(path).resolve()
        with self.lock:
            for e in self.entries.values():
                if e.kind == "run" and e.path.resolve() == path:
                    return e.run_id
            rid = self._unique(path.name)
            self.entries[rid] = RunEntry(rid, path, label=path.name, external=True)
            self._rows_changed = True
            self._rows_urgent = True
        self.wake.set()
        return rid

    def remove(self, run_id: str) -> None:
        with self.lock:
            if self.entries.pop(run_id, None) is not None:
                self._rows_changed = True
                self._rows_urgent = True

    def _unique(self, rid: str) -> str:
        base, n = rid, 2
        while rid in self.entries:
            rid, n = f"{base}-{n}", n + 1
        return rid

    # -- the watcher pass ----------------------------------------------------------------------
    @property
    def passes(self) -> int:
        return self._passes

    @property
    def backlog(self) -> bool:
        """True when the last pass left unread bytes (the next pass should come at once)."""
        return self._backlog

    def poll_once(self) -> bool:
        """One pass over every run; True when something changed for the UI."""
        now = self.clock()
        self._backlog = False
        self._read_events = False
        if self._passes == 0 or time.monotonic() - self._last_scan >= self.scan_s:
            self._scan()
            self._last_scan = time.monotonic()
        with self.lock:
            entries = list(self.entries.values())
            wanted = set(self._wanted)
        for e in entries:
            try:
                if e.kind == "run":
                    self._poll_status(e)
                if e.kind == "foreign" or e.active or e.run_id in wanted:
                    self._poll_events(e)
                else:
                    if e.loaded:
                        self._unload(e)  # ended and no longer drawn: free its series
                    self._poll_summary(e)
            except OSError as exc:  # a folder deleted under us, a permission change: show, go on
                e.error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # any one bad run folder: mark it, log it, watch the others
                self._corrupt(e, exc)
        filling = next((e for e in entries if e.history is not None), None)
        if filling is not None:
            if self._read_events:  # idle work: the new events reach the UI first, the next pass fills
                self._backlog = True
            else:
                self._fill_history(filling)
        self._check_conditions(entries, now)
        if self._passes == 0:
            self._announce_recent_ends(entries, now)
        self._passes += 1
        with self.lock:
            return self._rows_changed or bool(self._dirty) or bool(self._new_alerts)

    def _scan(self) -> None:
        ids = set(self.store.run_ids())
        with self.lock:
            for rid in sorted(ids - self.entries.keys()):
                self.entries[rid] = RunEntry(rid, self.store.path(rid), label=rid)
                self._rows_changed = True
                self._rows_urgent = True
            for rid, e in list(self.entries.items()):
                if not e.external and rid not in ids:
                    del self.entries[rid]  # deleted from disk
                    if e.active:
                        self._latch(Alert("run_removed", "warning", f"{rid}: its run folder was deleted while "
                                          f"it was {e.state}; its supervisor stops the worker", rid))
                    self._rows_changed = True
                    self._rows_urgent = True

    def _corrupt(self, e: RunEntry, exc: Exception) -> None:
        why = f"cannot read this run: {type(exc).__name__}: {str(exc)[:200]}"
        log.warning("%s: %s", e.path, why, exc_info=exc)
        with self.lock:
            if e.error != why or e.status is not None:
                self._rows_changed = self._rows_urgent = True
            e.status, e.error, e.fault = None, why, "corrupt"

    def _poll_status(self, e: RunEntry) -> None:
        sig = _sig(e.path / STATUS_FILE)
        if sig == e.status_sig:
            # Unchanged file: an active run only needs its supervisor checked (a /proc read), and
            # is re-read when it is gone so that read_status reports it lost.
            st0 = e.status
            if st0 is None or st0.state not in ACTIVE or (st0.host != HOST and not st0.job_id):
                return
            # A Slurm run is re-read each pass: read_status asks squeue (one cached call for all runs).
            if not st0.job_id and st0.supervisor_pid is not None and alive(st0.supervisor_pid, st0.supervisor_start):
                return
        e.status_sig = sig
        try:
            st = read_status(e.path)
            err = None
        except (OSError, ValueError) as exc:
            st = None
            e.fault, err = read_error(e.path / STATUS_FILE, exc)
        old = e.state if (e.status or e.error) else None
        with self.lock:
            changed = st != e.status or err != e.error
            e.status, e.error = st, err
            if changed:
                self._rows_changed = True
                self._rows_urgent = True
            new = e.state
            if e.first_state is None:
                e.first_state = new
            elif old is not None and old != new:
                self._latch(rules.run_ended(e.run_id, new, st.reason if st else err))
        if self.announce_lost and st is not None and st.state == "lost" and time.time() - st.updated_at < RECENT_END_S:
            # Supervisor and worker died and cannot say so: the first UI to notice announces it (once), with
            # its user's notifier; nothing named in the run folder runs.
            announce_lost(e.path, st)

    def _unload(self, e: RunEntry) -> None:
        with self.lock:
            e.series = RunSeries(monotonic=e.series.monotonic, counted_by=e.series.counted_by)
            e.tail, e.loaded, e.summary_sig, e.alerts_seen, e.history = None, False, None, 0, None

    def _poll_summary(self, e: RunEntry) -> None:
        path = e.path / EVENTS_FILE
        sig = _sig(path)
        if sig == e.summary_sig:
            return
        e.summary_sig = sig
        summary = summarize_tail(path, counted_by=_counted_by(e)) if sig else {}
        with self.lock:
            if summary != e.summary:
                e.summary = summary
                self._rows_changed = True

    def _poll_events(self, e: RunEntry) -> None:
        if e.kind == "foreign":
            reader = e.reader
            if reader is None:  # add_foreign always sets it
                return
            events, reset = reader.poll()
            e.loaded = True
            self._ingest(e, events, reset)
            e.last_activity = _mtime(reader.path)
            return
        path = e.path / EVENTS_FILE
        first: list[dict[str, Any]] = []
        if e.tail is None:
            e.series.counted_by = _counted_by(e)
            e.tail, first, tail_only, head = open_events(path, self.tail_lines, self.full_history_bytes)
            e.series.tail_only = tail_only
            e.loaded = True
            if tail_only and head > 0 and e.tail.offset <= self.history_bytes:
                e.history = HistoryFill.behind(e.tail, head, e.series)
            if tail_only:  # the progress event with total_steps comes first: read it from the head
                summary = summarize_tail(path, counted_by=e.series.counted_by)
                with self.lock:
                    e.summary = summary
                    if e.series.total_steps is None and is_number(summary.get("total")):
                        e.series.total_steps = int(summary["total"])  # the ETA needs it too
                    if e.series.phase is None and isinstance(summary.get("phase"), str):
                        e.series.phase = summary["phase"]
        resets = e.tail.resets
        events = e.tail.poll(max_bytes=CHUNK_BYTES)
        if e.tail.size > e.tail.offset:
            self._backlog = True
        if e.tail.resets != resets:
            e.history = None  # replaced or truncated: the tail reads the new file from its top
        self._ingest(e, first + events, e.tail.resets != resets)
        # Activity feeds the stall alert (minutes): on new events, else every ACTIVITY_S, not 3 stats a poll.
        mono = time.monotonic()
        if events or first or mono - e.activity_checked >= ACTIVITY_S:
            e.activity_checked = mono
            act = [t for t in (_mtime(path), _mtime(e.path / STDOUT_LOG), _mtime(e.path / STDERR_LOG)) if t]
            if e.status and e.status.started_at:
                act.append(e.status.started_at)
            e.last_activity = max(act) if act else None

    def _ingest(self, e: RunEntry, events: list[dict[str, Any]], reset: bool) -> None:
        if not events and not reset:
            return
        self._read_events = True
        with self.lock:
            if reset:
                e.series.reset()
                e.alerts_seen = 0
            changed = e.series.ingest(events)
            self._rows_changed = True
            if reset:
                self._dirty.add(e.run_id)
            for bad in e.series.take_nonfinite():
                self._latch(rules.nonfinite(e.run_id, bad.metric, bad.step, bad.value))
            for ev in e.series.alerts[e.alerts_seen:]:
                self._latch(rules.worker_alert(e.run_id, ev))
            e.alerts_seen = len(e.series.alerts)
            if changed:
                self._dirty.add(e.run_id)

    def _fill_history(self, e: RunEntry) -> None:
        """One slice of a big file's history; swapped in for the drawn series once it caught up."""
        fill, tail = e.history, e.tail
        if fill is None or tail is None:
            return
        tenths = int(fill.fraction * 10)
        done = fill.step(tail, HISTORY_SLICE)
        if done is None:  # the file changed under us: the live tail handles it
            e.history = None
            return
        with self.lock:
            if int(fill.fraction * 10) != tenths:
                self._dirty.add(e.run_id)  # the legend shows how much is read, in steps of 10 %
            bad, raised = fill.series.take_nonfinite(), fill.series.alerts[fill.alerts_seen:]
            fill.alerts_seen = len(fill.series.alerts)
            if fill.fresh:  # events the drawn series never saw: their alerts, as a full read raises them
                for nf in bad:
                    self._latch(rules.nonfinite(e.run_id, nf.metric, nf.step, nf.value))
                for ev in raised:
                    self._latch(rules.worker_alert(e.run_id, ev))
            if done:
                e.series, e.history = fill.series, None
                tail.malformed = fill.bad_lines
                e.alerts_seen = fill.alerts_seen
                self._dirty.add(e.run_id)
                self._rows_changed = True
        if not done:
            self._backlog = True

    def _latch(self, alert: Alert | None) -> None:
        if alert is not None and self.book.latch(alert):
            self._new_alerts.append(alert)

    def _check_conditions(self, entries: list[RunEntry], now: float) -> None:
        th = self.thresholds
        current: list[Alert | None] = []
        for e in entries:
            if e.kind == "run" and e.state == "running":
                current.append(rules.stalled(e.run_id, e.state, e.last_activity, now, th.stall_minutes))
            loss = e.series.series.get("loss")
            stage = e.status.stage if e.status else None
            if loss is not None and (e.kind == "foreign" or (e.active and _collapse_alert(stage))):
                current.append(rules.loss_collapse(e.run_id, loss.ys, th.collapse_loss, th.collapse_ratio,
                                                   th.collapse_window))
            if e.active and e.loaded:
                current.extend(rules.stage_conditions(e.run_id, e.series.last, e.series.done, th))
        with self.lock:
            fresh = self.book.sync("runs", current)
            self._new_alerts.extend(fresh)
            if fresh:
                self._rows_changed = True
                self._rows_urgent = True

    def _announce_recent_ends(self, entries: list[RunEntry], now: float) -> None:
        # Runs that died while nobody watched: one alert each when recent, so the operator who
        # comes back in the morning sees them; older ones are only coloured in the list.
        for e in entries:
            st = e.status
            if st and st.state in rules.BAD_END_STATES:
                when = st.ended_at or st.updated_at
                if when and now - when <= RECENT_END_S:
                    with self.lock:
                        self._latch(rules.run_ended(e.run_id, st.state, st.reason))

    def check_gpu(self, snap: Snapshot, telemetry: Telemetry) -> None:
        """GPU rules on a telemetry snapshot (called from the telemetry thread)."""
        th = self.thresholds
        running = self.running_ids()
        current: list[Alert | None] = []
        for g in snap.gpus:
            current.append(rules.vram_high(g.index, g.mem_used, g.mem_total, th.vram_pct))
            users = sorted({p.run_id for p in g.processes if p.run_id})
            # Without per-process info (containers often hide it), any running run may use it.
            on_gpu = users if g.processes else running
            current.append(rules.gpu_starved(g.index, [(t, u) for t, u, _m in telemetry.gpu_history(g.index)],
                                             snap.ts, th.gpu_util_window_s, th.gpu_util_low_pct, on_gpu))
        current.append(rules.disk_low(snap.disk_path, snap.disk_free, snap.disk_total, th.disk_low_mb, running,
                                      snap.disk_readonly))
        with self.lock:
            fresh = self.book.sync("gpu", current)
            self._new_alerts.extend(fresh)
            if fresh:
                self._rows_changed = True
                self._rows_urgent = True

    # -- reads for the UI ----------------------------------------------------------------------
    def running_ids(self) -> list[str]:
        with self.lock:
            return [e.run_id for e in self.entries.values() if e.kind == "run" and e.state == "running"]

    def run_pids(self) -> list[RunPids]:
        with self.lock:
            return [RunPids(e.run_id, e.status.pid, e.status.supervisor_pid)
                    for e in self.entries.values() if e.active and e.status]

    def take_changes(self) -> Changes:
        with self.lock:
            out = Changes(self._dirty, self._new_alerts, self._rows_changed or self._rows_urgent, self._rows_urgent)
            self._dirty, self._new_alerts, self._rows_changed, self._rows_urgent = set(), [], False, False
        return out

    def entry(self, run_id: str) -> RunEntry | None:
        with self.lock:
            return self.entries.get(run_id)

    def rows(self) -> list[RunRow]:
        with self.lock:
            out = [self._row(e) for e in self.entries.values()]
        # Newest first: run ids start with their start time; foreign entries on top.
        out.sort(key=lambda r: (r.kind == "foreign", r.started_at or 0.0, r.run_id), reverse=True)
        return out

    def _row(self, e: RunEntry) -> RunRow:
        s, st = e.series, e.status
        more = False
        if e.loaded:
            step, total, phase = s.done if s.done is not None else s.step, s.total_steps, s.phase
            loss = s.last.get("loss")
            eta = s.eta(self.clock()) if e.active else None
            more = e.active and s.more_phases
        else:
            sm = e.summary
            step, total, loss, eta, phase = sm.get("done", sm.get("step")), sm.get("total"), sm.get("loss"), None, \
                sm.get("phase")
        started = st.started_at if st else (e.series.first_ts or _mtime(e.path))
        malformed = 0
        if e.tail is not None:
            malformed = e.tail.malformed
        elif e.reader is not None:
            malformed = e.reader.malformed
        return RunRow(
            run_id=e.run_id, kind=e.kind, label=e.label or e.run_id,
            stage=st.stage if st else ("log" if e.kind == "foreign" else "?"),
            state=e.state, step=int(step) if is_number(step) else None, total=total, eta_s=eta,
            loss=loss if is_number(loss) else None, started_at=started,
            ended_at=st.ended_at if st else None, reason=(st.reason or e.error if st else e.error),
            alert_level=self.book.worst_level(e.run_id), malformed=malformed,
            attempt=st.attempt if st else 1, parent=st.parent if st else None,
            where=where(st) if st else "local", waiting=waiting_for(st) if st else None,
            phase=_phase(e, phase), eta_more=more,
        )


def snapshot_rows(store: RunStore, folders: Iterable[Path] = ()) -> dict[Path, RunRow]:
    """One pass of the runs model over ``store`` (and run ``folders`` outside it): the rows ``aba ps`` and
    ``aba status`` print, computed by the same code as the control centre's runs pane; keyed by folder."""
    model = RunsModel(store)
    for folder in folders:
        model.add_run_folder(folder)
    model.poll_once()
    out: dict[Path, RunRow] = {}
    for row in model.rows():
        entry = model.entry(row.run_id)
        if entry is not None:
            out[entry.path.resolve()] = row
    return out
