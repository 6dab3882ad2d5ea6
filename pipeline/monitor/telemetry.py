"""GPU/VRAM and process telemetry, separate from any screen (nvitop's habit).

- A *provider* reads GPUs: :class:`NvmlProvider` talks to NVML through nvidia-ml-py (``pynvml``);
  tests hand it a fake ``pynvml``-shaped module, which is the only fake (the edge: no GPU here).
  Every field is read on its own: an NVML error on one shows ``None`` ("n/a"), never an exception.
- :class:`Telemetry` takes snapshots (cached for a TTL so several readers share one NVML pass),
  keeps history deques for sparklines (≥ 30 min at 1 Hz), maps GPU processes to runs through the
  pids in status.json (worker, its process group, its parents), and measures CPU and RSS of each
  run's processes with psutil (the whole view when there is no NVIDIA driver).
The UI calls :meth:`Telemetry.sample` from a worker thread, never from its event loop.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.lazy import lazy_module
from pipeline.monitor.series import as_number
from pipeline.runs.nvml import GpuProcess, GpuProvider, GpuSample, NvmlProvider
from pipeline.runs.procinfo import all_stats

if TYPE_CHECKING:
    import psutil
else:
    psutil = lazy_module("psutil")  # loaded by the first sample, after the TUI's first frame

__all__ = ["GpuProcess", "GpuProvider", "GpuSample", "NvmlProvider", "Snapshot", "Telemetry"]

MiB = 1 << 20
# (timestamp, primary %, secondary %) of one history sample: GPU util and VRAM, or CPU and RAM.
HistoryPoint = tuple[float, float | None, float | None]


@dataclass
class ProcSample:
    """CPU and memory of one run's processes (worker and its children, or the supervisor)."""

    run_id: str
    pid: int
    role: str  # worker | supervisor
    cpu_pct: float | None
    rss_bytes: int | None
    threads: int | None = None
    children: int = 0


@dataclass
class SystemSample:
    cpu_pct: float | None
    cpu_count: int
    ram_used: int | None
    ram_total: int | None


def _num(value: Any) -> float | None:
    return as_number(value, finite=True)


def read_system() -> SystemSample:
    """Whole-machine CPU and RAM through psutil (CPU % since the previous call)."""
    cpu = _safe(lambda: psutil.cpu_percent(None))
    vm = _safe(psutil.virtual_memory)
    return SystemSample(cpu, psutil.cpu_count() or 1, getattr(vm, "used", None), getattr(vm, "total", None))


@dataclass
class Snapshot:
    ts: float
    gpus: list[GpuSample]
    gpu_error: str | None  # why there is no GPU view (no driver, no device), else None
    driver: str | None
    cpu_pct: float | None
    cpu_count: int
    ram_used: int | None
    ram_total: int | None
    procs: list[ProcSample]
    # The runs dir's filesystem (None when not asked for or unreadable).
    disk_path: str | None = None
    disk_free: int | None = None
    disk_total: int | None = None
    disk_readonly: bool = False


CHILDREN_S = 5.0  # how often the run workers' descendants are looked up again (Telemetry._look_up_children)


@dataclass
class RunPids:
    """The processes one run owns, from its status.json."""

    run_id: str
    worker: int | None
    supervisor: int | None


class ProcessMap:
    """Maps pids to runs: the worker itself, anything in its process group (accelerate ranks,
    dataloader workers), or a descendant of the worker or supervisor."""

    def __init__(self, runs: Iterable[RunPids]) -> None:
        self.runs = list(runs)
        self._direct: dict[int, str] = {}
        self._groups: dict[int, str] = {}
        for r in self.runs:
            for pid in (r.worker, r.supervisor):
                if pid:
                    self._direct[pid] = r.run_id
            if r.worker:
                self._groups[r.worker] = r.run_id  # the supervisor starts the worker in its own session

    def run_of(self, pid: int) -> str | None:
        if pid in self._direct:
            return self._direct[pid]
        try:
            pgid = os.getpgid(pid)
        except (ProcessLookupError, PermissionError, OSError):
            pgid = None
        if pgid in self._groups:
            return self._groups[pgid]
        try:
            proc = psutil.Process(pid)
            for parent in proc.parents()[:8]:
                if parent.pid in self._direct:
                    return self._direct[parent.pid]
        except (psutil.Error, OSError):
            pass
        return None


class Telemetry:
    """Samples GPUs and run processes; keeps history; caches the last snapshot for ``ttl`` seconds."""

    def __init__(self, provider: GpuProvider | None = None, history_s: float = 1800.0,
                 interval_s: float = 1.0, ttl: float = 0.5, clock: Callable[[], float] = time.time,
                 system: Callable[[], SystemSample] = read_system, disk_path: Path | None = None,
                 children_s: float = CHILDREN_S) -> None:
        self.disk_path = disk_path  # the runs dir: its free space is sampled too
        self.provider: GpuProvider = provider if provider is not None else NvmlProvider()
        self.system = system
        self.interval_s = interval_s
        self.ttl = ttl
        self.clock = clock
        self.history_len = max(2, math.ceil(history_s / max(interval_s, 0.25)) + 1)
        # The sampler thread appends while the UI draws: both only under _lock, and readers get tuples.
        self._gpu_history: dict[int, deque[HistoryPoint]] = {}
        self._cpu_history: deque[HistoryPoint] = deque(maxlen=self.history_len)
        self.gpu_error: str | None = None
        self.driver: str | None = None
        self._started = False
        self._latest: Snapshot | None = None
        self._lock = threading.Lock()
        # One sample at a time (the sampler thread and a TTL-expired snapshot() may race): psutil's
        # per-process CPU counters and _procs are the sampler's own state.
        self._sample_lock = threading.Lock()
        self._procs: dict[int, psutil.Process] = {}
        self.children_s = children_s
        self._children: dict[int, tuple[float, list[int]]] = {}  # worker pid → (looked up at, descendants)

    def gpu_history(self, index: int) -> tuple[HistoryPoint, ...]:
        """(ts, util %, VRAM %) of one GPU, oldest first: a copy, safe to iterate while sampling goes on."""
        with self._lock:
            hist = self._gpu_history.get(index)
            return tuple(hist) if hist is not None else ()

    def cpu_history(self) -> tuple[HistoryPoint, ...]:
        """(ts, CPU %, RAM %), oldest first: a copy."""
        with self._lock:
            return tuple(self._cpu_history)

    def start(self) -> None:
        if not self._started:
            self.gpu_error = self.provider.start()
            self.driver = None if self.gpu_error else self.provider.driver()
            self._started = True
            self.system()  # prime the CPU counters (psutil measures since the previous call)

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    def snapshot(self, runs: Iterable[RunPids] = ()) -> Snapshot:
        """The latest snapshot if younger than ``ttl``, else a fresh sample."""
        with self._lock:
            snap = self._latest
            if snap is not None and self.clock() - snap.ts < self.ttl:
                return snap
        return self.sample(runs)

    def sample(self, runs: Iterable[RunPids] = ()) -> Snapshot:
        with self._sample_lock:
            return self._sample(runs)

    def _sample(self, runs: Iterable[RunPids]) -> Snapshot:
        self.start()
        runs = list(runs)
        now = self.clock()
        pmap = ProcessMap(runs)
        gpus = self.provider.sample() if self.gpu_error is None else []
        for g in gpus:
            for p in g.processes:
                p.run_id = pmap.run_of(p.pid)
        sysm = self.system()
        cpu = sysm.cpu_pct
        snap = Snapshot(
            ts=now, gpus=gpus, gpu_error=self.gpu_error, driver=self.driver,
            cpu_pct=cpu, cpu_count=sysm.cpu_count, ram_used=sysm.ram_used, ram_total=sysm.ram_total,
            procs=self._proc_samples(runs),
        )
        if self.disk_path is not None:
            disk = read_disk(self.disk_path)
            if disk is not None:
                snap.disk_path, snap.disk_free, snap.disk_total, snap.disk_readonly = disk
        ram_pct = 100.0 * snap.ram_used / snap.ram_total if snap.ram_used and snap.ram_total else None
        with self._lock:
            for g in gpus:
                hist = self._gpu_history.setdefault(g.index, deque(maxlen=self.history_len))
                hist.append((now, g.util_pct, g.mem_pct))
            self._cpu_history.append((now, cpu, ram_pct))
            self._latest = snap
        return snap

    def _process(self, pid: int) -> psutil.Process | None:
        # Keep Process objects between samples: cpu_percent() measures since the previous call.
        proc = self._procs.get(pid)
        try:
            if proc is None or not proc.is_running():
                proc = psutil.Process(pid)
                proc.cpu_percent(None)
                self._procs[pid] = proc
            return proc
        except (psutil.Error, OSError):
            self._procs.pop(pid, None)
            return None

    def _proc_samples(self, runs: list[RunPids]) -> list[ProcSample]:
        out: list[ProcSample] = []
        seen: set[int] = set()
        self._look_up_children({r.worker for r in runs if r.worker})
        for r in runs:
            for role, pid in (("worker", r.worker), ("supervisor", r.supervisor)):
                if not pid:
                    continue
                proc = self._process(pid)
                if proc is None:
                    continue
                cpu, rss, threads, kids = 0.0, 0, 0, 0
                members = [pid]
                if role == "worker":
                    members += self._children.get(pid, (0.0, []))[1]
                for m in members:
                    mp = self._process(m)
                    if mp is None:
                        continue
                    seen.add(m)
                    try:
                        with mp.oneshot():
                            cpu += mp.cpu_percent(None)
                            rss += mp.memory_info().rss
                            threads += mp.num_threads()
                    except (psutil.Error, OSError):
                        continue
                    kids += mp is not proc
                out.append(ProcSample(r.run_id, pid, role, cpu, rss, threads, kids))
        for pid in list(self._procs):
            if pid not in seen:
                del self._procs[pid]
        workers = {r.worker for r in runs}
        for pid in [p for p in self._children if p not in workers]:
            del self._children[pid]
        return out

    def _look_up_children(self, workers: set[int]) -> None:
        """Each worker's descendants, looked up every ``children_s`` seconds (a dataloader worker or rank
        shows up within it) and for every worker at once: a lookup reads the parent of every process on
        the machine (/proc/*/stat), and one per worker, with ten local runs, cost more than the rest of
        the sample."""
        now = time.monotonic()
        if all(w in self._children and now - self._children[w][0] < self.children_s for w in workers):
            return
        kids: dict[int, list[int]] = {}
        for pid, ppid in parents():
            kids.setdefault(ppid, []).append(pid)
        for w in workers:
            found, todo = [], list(kids.get(w, ()))
            while todo:
                pid = todo.pop()
                if pid not in found and pid != w:
                    found.append(pid)
                    todo += kids.get(pid, ())
            self._children[w] = (now, found)

    def close(self) -> None:
        self.provider.close()


def parents() -> Iterable[tuple[int, int]]:
    """(pid, parent pid) of every process: /proc/*/stat read straight where there is a /proc (a fourth
    of what psutil.process_iter costs for it), else through psutil."""
    if not os.path.isdir("/proc"):
        return [(p.pid, p.info["ppid"]) for p in psutil.process_iter(["ppid"]) if p.info.get("ppid")]
    out = []
    for pid, rest in all_stats():
        try:
            out.append((pid, int(rest[1])))
        except (IndexError, ValueError):
            continue
    return out


def read_disk(path: Path) -> tuple[str, int, int, bool] | None:
    """(mount point, free, total, read-only) of the filesystem holding ``path``."""
    from pipeline.runs.faults.disk import mount_point, space

    s = space(path)
    if s is None:
        return None
    try:
        ro = bool(os.statvfs(s.path).f_flag & os.ST_RDONLY) or not os.access(s.path, os.W_OK)
    except OSError:
        ro = False
    return str(mount_point(s.path)), s.free, s.total, ro


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except (psutil.Error, OSError):
        return None


def spark_values(history: Iterable[HistoryPoint], which: int, width: int,
                 now: float, span_s: float) -> list[float]:
    """At most ``width`` values of one history column over the last ``span_s`` seconds, each the
    maximum of its time bucket (peaks matter on a utilisation sparkline); gaps read as 0."""
    if width <= 0 or span_s <= 0:
        return []
    buckets: list[float | None] = [None] * width
    start = now - span_s
    for rec in history:
        t, v = rec[0], rec[which]
        if v is None or t < start:
            continue
        b = min(width - 1, int((t - start) / span_s * width))
        cur = buckets[b]
        buckets[b] = v if cur is None else max(cur, v)
    # Drop the empty stretch before the first sample, so a young history is not a flat line of 0.
    first = next((i for i, v in enumerate(buckets) if v is not None), None)
    if first is None:
        return []
    return [v if v is not None else 0.0 for v in buckets[first:]]
