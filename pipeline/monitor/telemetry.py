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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil

from pipeline.monitor.series import as_number

MiB = 1 << 20
# (timestamp, primary %, secondary %) of one history sample: GPU util and VRAM, or CPU and RAM.
HistoryPoint = tuple[float, float | None, float | None]


@dataclass
class GpuProcess:
    pid: int
    used_bytes: int | None
    run_id: str | None = None


@dataclass
class GpuSample:
    index: int
    name: str | None = None
    uuid: str | None = None
    util_pct: float | None = None
    mem_util_pct: float | None = None
    mem_used: int | None = None
    mem_total: int | None = None
    temp_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    fan_pct: float | None = None
    processes: list[GpuProcess] = field(default_factory=list)

    @property
    def mem_pct(self) -> float | None:
        if self.mem_used is None or not self.mem_total:
            return None
        return 100.0 * self.mem_used / self.mem_total


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


class GpuProvider(Protocol):
    def start(self) -> str | None:
        """Initialise; return None when ready, else a one-line reason there are no GPUs."""

    def driver(self) -> str | None: ...

    def sample(self) -> list[GpuSample]: ...

    def close(self) -> None: ...


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlProvider:
    """GPUs through NVML. ``nvml`` is the pynvml module, or a stand-in with the same names."""

    def __init__(self, nvml: Any = None) -> None:
        self._nvml = nvml
        self._handles: list[Any] = []
        self._ready = False
        self._static: dict[int, tuple[str | None, str | None]] = {}

    def start(self) -> str | None:
        try:
            if self._nvml is None:
                import pynvml

                self._nvml = pynvml
            nv = self._nvml
            nv.nvmlInit()
            count = nv.nvmlDeviceGetCount()
            self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as exc:
            return f"no NVIDIA driver or GPU (NVML: {_text(exc) or type(exc).__name__})"
        if not self._handles:
            return "NVML found no NVIDIA GPU"
        self._ready = True
        return None

    def driver(self) -> str | None:
        return self._field(lambda nv: _text(nv.nvmlSystemGetDriverVersion()))

    def _field(self, read: Callable[[Any], Any]) -> Any:
        # One field, one try: NVML_ERROR_NOT_SUPPORTED on a fan must not blank the whole GPU.
        try:
            return read(self._nvml)
        except Exception:
            return None

    def sample(self) -> list[GpuSample]:
        if not self._ready:
            return []
        out = []
        for i, h in enumerate(self._handles):
            out.append(self._sample_one(i, h))
        return out

    def _sample_one(self, i: int, h: Any) -> GpuSample:
        f = self._field
        if i not in self._static:
            self._static[i] = (f(lambda nv: _text(nv.nvmlDeviceGetName(h))),
                               f(lambda nv: _text(nv.nvmlDeviceGetUUID(h))))
        name, uuid = self._static[i]
        util = f(lambda nv: nv.nvmlDeviceGetUtilizationRates(h))
        mem = f(lambda nv: nv.nvmlDeviceGetMemoryInfo(h))
        power = f(lambda nv: nv.nvmlDeviceGetPowerUsage(h))
        limit = f(lambda nv: nv.nvmlDeviceGetEnforcedPowerLimit(h))
        power_w, limit_w = _num(power), _num(limit)
        s = GpuSample(
            index=i, name=name, uuid=uuid,
            util_pct=_num(getattr(util, "gpu", None)),
            mem_util_pct=_num(getattr(util, "memory", None)),
            mem_used=_int(getattr(mem, "used", None)),
            mem_total=_int(getattr(mem, "total", None)),
            temp_c=_num(f(lambda nv: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))),
            power_w=power_w / 1000.0 if power_w is not None else None,
            power_limit_w=limit_w / 1000.0 if limit_w is not None else None,
            sm_clock_mhz=_num(f(lambda nv: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))),
            mem_clock_mhz=_num(f(lambda nv: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM))),
            fan_pct=_num(f(lambda nv: nv.nvmlDeviceGetFanSpeed(h))),
        )
        procs = f(lambda nv: nv.nvmlDeviceGetComputeRunningProcesses(h)) or []
        for p in procs:
            pid = _int(getattr(p, "pid", None))
            if pid is not None:
                s.processes.append(GpuProcess(pid, _int(getattr(p, "usedGpuMemory", None))))
        return s

    def close(self) -> None:
        if self._ready:
            self._field(lambda nv: nv.nvmlShutdown())
            self._ready = False


def _num(value: Any) -> float | None:
    return as_number(value, finite=True)


def _int(value: Any) -> int | None:
    # NVML reports "not available" process memory as a huge sentinel (NVML_VALUE_NOT_AVAILABLE).
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= (1 << 63):
        return None
    return value


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
                 system: Callable[[], SystemSample] = read_system, disk_path: Path | None = None) -> None:
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
        for r in runs:
            for role, pid in (("worker", r.worker), ("supervisor", r.supervisor)):
                if not pid:
                    continue
                proc = self._process(pid)
                if proc is None:
                    continue
                cpu, rss, threads, kids = 0.0, 0, 0, 0
                members = [proc]
                if role == "worker":
                    try:
                        members += proc.children(recursive=True)
                    except (psutil.Error, OSError):
                        pass
                for m in members:
                    mp = self._process(m.pid)
                    if mp is None:
                        continue
                    seen.add(m.pid)
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
        return out

    def close(self) -> None:
        self.provider.close()


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
