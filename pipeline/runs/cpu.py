"""How many CPU threads a worker uses: every core it is allowed, unless the operator says otherwise.

By default a run takes all the cores this process may run on: its affinity mask (``taskset``, Slurm's
``--cpus-per-task``, a container's cpuset), capped by the cgroup's CPU quota (cgroup v2 ``cpu.max``,
v1 ``cpu.cfs_quota_us``; rounded up, as the JVM and .NET do). torch's own default ignores the quota.
Lowering it is the operator's choice: ``supervisor.threads = N``, or ``supervisor.threads_policy =
"adaptive"``, which re-decides every few seconds from the CPU time other processes actually used
(``AdaptiveThreads``). A one-off guess from the 1-minute load average at start is never made: right
after another job the average still says "busy" and the run kept half the cores for hours.

Set in the environment before torch is imported, so OpenMP and the BLAS read it too.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")
POLICIES = ("all", "adaptive")
PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity_cores() -> int:
    """CPUs in this process's affinity mask (all online CPUs where the OS has no masks)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cgroup_dirs(proc_cgroup: str, mountinfo: str, root: Path) -> list[tuple[str, Path]]:
    """(version, folder) of this process's CPU cgroup and its ancestors, innermost first."""
    out: list[tuple[str, Path]] = []
    v1_mount: tuple[str, Path] | None = None  # (root inside the hierarchy, mount point)
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) >= 5 and len(extra) >= 3 and extra[0] == "cgroup" and "cpu" in extra[2].split(","):
            v1_mount = (fields[3], Path(fields[4]))
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            version, base, rel = "v2", root, path
            if not (root / "cgroup.controllers").exists() and (root / "unified").is_dir():
                base = root / "unified"  # hybrid layout: v2 beside v1
        elif "cpu" in controllers.split(","):
            version, base, rel = "v1", (v1_mount[1] if v1_mount else root / "cpu"), path
            if v1_mount and v1_mount[0] != "/" and rel.startswith(v1_mount[0]):
                rel = rel[len(v1_mount[0]):]  # a container sees its own cgroup as the mount's root
        else:
            continue
        d = base / rel.lstrip("/")
        while True:
            out.append((version, d))
            if d == base:
                break
            d = d.parent
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def cgroup_quota(root: Path = CGROUP_ROOT, proc: Path = PROC) -> float | None:
    """Cores' worth of CPU time the cgroup allows (the tightest along its path), None when unlimited."""
    best: float | None = None
    for version, d in _cgroup_dirs(_read(proc / "self" / "cgroup") or "", _read(proc / "self" / "mountinfo") or "",
                                   root):
        quota: float | None = None
        if version == "v2":
            parts = (_read(d / "cpu.max") or "").split()  # "max 100000" or "150000 100000"
            if parts and parts[0] != "max":
                quota = float(parts[0]) / float(parts[1] if len(parts) > 1 else 100000)
        else:
            q_text, p_text = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            if q_text and p_text and int(q_text) > 0 and int(p_text) > 0:
                quota = int(q_text) / int(p_text)
        if quota is not None and quota > 0 and (best is None or quota < best):
            best = quota
    return best


@dataclass(frozen=True)
class Allowed:
    """The cores a process may use, and why: the affinity mask capped by the cgroup quota (rounded up)."""

    affinity: int
    quota: float | None = None

    @property
    def cores(self) -> int:
        if self.quota is None:
            return self.affinity
        return max(1, min(self.affinity, math.ceil(self.quota - 1e-9)))

    @property
    def why(self) -> str:
        if self.quota is not None and self.cores < self.affinity:
            return f"cgroup quota {self.quota:g} CPUs of {self.affinity} in the affinity mask"
        return f"{self.affinity} in the affinity mask" + (
            f", cgroup quota {self.quota:g}" if self.quota is not None else ", no cgroup quota")


def allowed() -> Allowed:
    """The cores this process may use now."""
    return Allowed(affinity_cores(), cgroup_quota())


def usable_cores() -> int:
    """How many threads a CPU-bound job of ours should run by default (llama.cpp, torch, BLAS)."""
    return allowed().cores


def local_ranks() -> int:
    """Processes of this run on this machine (accelerate/torchrun set LOCAL_WORLD_SIZE); they share the cores."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def pick_threads(requested: int, policy: str = "all", cores: Allowed | None = None,
                 ranks: int = 1) -> tuple[int, str]:
    """(threads, why) a worker starts with: ``requested`` when > 0, else every allowed core (its share of
    them when ``ranks`` processes of the run share this machine)."""
    cores = cores or allowed()
    if requested > 0:
        return requested, f"supervisor.threads = {requested}; {cores.cores} cores allowed"
    n = max(1, cores.cores // ranks)
    what = (f"all {n} allowed cores" if ranks == 1 else
            f"{n} of the {cores.cores} allowed cores, one {ranks}th each for {ranks} ranks on this machine")
    if policy == "adaptive":
        return n, (f"{what} to start ({cores.why}); supervisor.threads_policy = adaptive lowers it while other "
                   "processes use the cores")
    return n, f"{what}: {cores.why}; supervisor.threads or supervisor.threads_policy = adaptive lowers it"


def apply_threads(n: int) -> None:
    """Tell OpenMP/BLAS (and torch, if already imported, for the calling thread) to use ``n`` threads."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


# -- the adaptive policy -------------------------------------------------------------------------------

def cpu_busy_seconds(cpus: set[int] | None = None, proc: Path = PROC) -> float:
    """Busy CPU-seconds since boot over ``cpus`` (all when None), from /proc/stat."""
    text = _read(proc / "stat") or ""
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *vals = line.split()
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        v = [int(x) for x in vals[:8]] + [0] * max(0, 8 - len(vals))
        busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal (not idle, iowait)
    return busy / hz


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def threads_for(others: float, cores: int) -> int:
    """Threads that fit beside ``others`` cores' worth of other work: the free cores, at least one."""
    return max(1, min(cores, int(cores - others + 0.5)))


class AdaptiveThreads:
    """Re-decides the worker's threads every ``interval`` s from what other processes used meanwhile.

    Other processes' use is the busy time of the allowed CPUs (/proc/stat) minus this process's own CPU
    time over the window: measured, not the lagging, self-inclusive load average. A new count must hold
    for ``settle`` windows in a row before it is taken (no flapping on one busy moment). The monitor thread
    only decides; :meth:`apply_pending` sets it on the thread that calls it (OpenMP keeps the count per
    thread, so the stage's own thread must make the call: the worker does at each event it writes).
    """

    def __init__(self, start: int, cores: int, interval: float = 10.0, settle: int = 2,
                 sample: Callable[[], tuple[float, float]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.current = start
        self.cores = cores
        self.interval = interval
        self.settle = settle
        cpus: set[int] | None
        try:
            cpus = set(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cpus = None
        self._sample = sample or (lambda: (cpu_busy_seconds(cpus), own_cpu_seconds()))
        self._clock = clock
        self._last = (clock(), *self._sample())
        self._candidate: int | None = None
        self._streak = 0
        self._pending: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(self) -> tuple[int, str] | None:
        """One window: returns (threads, why) when the decision changes (and keeps it pending)."""
        now, busy, own = self._clock(), *self._sample()
        t0, busy0, own0 = self._last
        self._last = (now, busy, own)
        wall = now - t0
        if wall <= 0:
            return None
        others = max(0.0, (busy - busy0) - (own - own0)) / wall
        want = threads_for(others, self.cores)
        if want == self.current:
            self._candidate, self._streak = None, 0
            return None
        self._streak = self._streak + 1 if want == self._candidate else 1
        self._candidate = want
        if self._streak < self.settle:
            return None
        self._candidate, self._streak = None, 0
        why = (f"other processes used {others:.1f} of {self.cores} allowed cores over the last "
               f"{wall * self.settle:.0f} s (supervisor.threads_policy = adaptive)")
        with self._lock:
            self._pending = (want, why)
        self.current = want
        return want, why

    def apply_pending(self, log: Callable[[str], None] | None = None) -> int | None:
        """Set a decided count on the calling thread; returns it (None: nothing new)."""
        if self._pending is None:
            return None
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return None
        n, why = pending
        apply_threads(n)
        (log or _print)(f"worker: now {n} CPU thread{'s' if n > 1 else ''} ({why})")
        return n

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aba-adaptive-threads", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.observe()
            except (OSError, ValueError):
                pass  # /proc unreadable: keep the current count

    def stop(self) -> None:
        self._stop.set()


def _print(message: str) -> None:
    print(message, flush=True)


class ThreadPlan:
    """The worker's CPU threads: chosen once at start, re-decided under the adaptive policy."""

    def __init__(self, requested: int = 0, policy: str = "all", cores: Allowed | None = None) -> None:
        cores = cores or allowed()
        self.threads, self.why = pick_threads(requested, policy, cores, local_ranks())
        self.adaptive = (AdaptiveThreads(self.threads, self.threads)
                         if policy == "adaptive" and requested <= 0 and self.threads > 1 else None)

    def start(self, log: Callable[[str], None] = _print) -> None:
        """Apply the starting count (before torch is imported), say what and why, start the monitor."""
        apply_threads(self.threads)
        log(f"worker: {self.threads} CPU thread{'s' if self.threads > 1 else ''} ({self.why})")
        if self.adaptive is not None:
            self.adaptive.start()

    def apply_pending(self) -> None:
        if self.adaptive is not None and threading.current_thread() is threading.main_thread():
            self.adaptive.apply_pending()


def plan_threads(section: object) -> ThreadPlan:
    """The plan the config's ``[supervisor]`` section asks for (``threads``, ``threads_policy``)."""
    return ThreadPlan(int(getattr(section, "threads", 0) or 0), str(getattr(section, "threads_policy", "all")))
