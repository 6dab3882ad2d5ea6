"""A run's peak use of the machine, for sizing the next one (what W&B's system metrics are read for):
the supervisor samples the worker's process tree every few seconds — RSS and CPU summed over its
processes (psutil), VRAM those processes hold on NVIDIA GPUs (NVML) — and records the peaks as a
``resources`` event when they grow (at most once a minute) and at the end of each attempt.

Best effort: a process that vanishes mid-sample, or no NVML, costs a field, never the supervisor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psutil

from pipeline.runs.cpu import usable_cores
from pipeline.runs.vocabulary import ResourcesFields

POLL_S = 5.0
WRITE_EVERY_S = 60.0


class PeakWatch:
    def __init__(self, write: Callable[[ResourcesFields], None], poll_s: float = POLL_S,
                 write_every_s: float = WRITE_EVERY_S, gpus: Any = None, clock: Callable[[], float] = time.monotonic,
                 ) -> None:
        self.write = write
        self.poll_s, self.write_every_s = poll_s, write_every_s
        self.clock = clock
        self._gpus = gpus  # a GpuProvider (pipeline.runs.nvml), or None: NVML on first use
        self._gpu_state: str | None = None  # None: not tried yet; "off": no NVML; "on"
        self._root: psutil.Process | None = None
        self._procs: dict[int, psutil.Process] = {}  # kept between samples: cpu_percent needs the last reading
        self.attempt = 1
        self.rss = 0
        self.cpu_pct = 0.0
        self.vram: int | None = None
        self.vram_total: int | None = None
        self.gpus_used = 0
        self._next_sample = 0.0
        self._next_write = 0.0
        self._unwritten = False

    def begin(self, pid: int, attempt: int = 1) -> None:
        """A new attempt: its own peaks (an OOM retry runs at a smaller batch)."""
        try:
            self._root = psutil.Process(pid)
        except psutil.Error:
            self._root = None
        self._procs, self.attempt = {}, attempt
        self.rss, self.cpu_pct, self.vram, self.gpus_used = 0, 0.0, None, 0
        self._next_sample = self.clock()  # the first look at the first tick: short attempts count too
        self._next_write = self.clock() + self.write_every_s
        self._unwritten = False

    def tick(self) -> None:
        now = self.clock()
        if self._root is None or now < self._next_sample:
            return
        self._next_sample = now + self.poll_s
        if self.sample() and now >= self._next_write:
            self._flush(final=False)

    def end(self) -> None:
        """The attempt ended: its peaks, once (nothing when it never got sampled)."""
        if self._root is not None and (self.rss or self._unwritten):
            self._flush(final=True)
        self._root = None

    def sample(self) -> bool:
        """One look at the worker's processes; True when a peak grew."""
        root = self._root
        if root is None:
            return False
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return False
        rss, cpu, seen = 0, 0.0, {}
        for p in procs:
            p = self._procs.get(p.pid, p)
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    cpu += p.cpu_percent(None)  # since this process's last reading (0 the first time)
            except psutil.Error:
                continue
            seen[p.pid] = p
        self._procs = seen
        grew = rss > self.rss or cpu > self.cpu_pct
        self.rss, self.cpu_pct = max(self.rss, rss), max(self.cpu_pct, cpu)
        vram = self._vram(set(seen))
        if vram is not None and (self.vram is None or vram > self.vram):
            grew, self.vram = True, vram
        self._unwritten = self._unwritten or grew
        return grew

    def _vram(self, pids: set[int]) -> int | None:
        if self._gpu_state is None:
            if self._gpus is None:
                from pipeline.runs.nvml import NvmlProvider

                self._gpus = NvmlProvider()
            self._gpu_state = "on" if self._gpus.start() is None else "off"
        if self._gpu_state != "on":
            return None
        used, total, gpus = 0, 0, 0
        for gpu in self._gpus.sample():
            mine = [p.used_bytes or 0 for p in gpu.processes if p.pid in pids]
            if mine:
                used, gpus = used + sum(mine), gpus + 1
                total += gpu.mem_total or 0
        self.gpus_used = max(self.gpus_used, gpus)
        self.vram_total = max(self.vram_total or 0, total) or self.vram_total
        return used if gpus else None

    def _flush(self, final: bool) -> None:
        fields = ResourcesFields(peak_rss_bytes=self.rss, peak_cpu_pct=round(self.cpu_pct, 1),
                                 ram_total_bytes=psutil.virtual_memory().total, cpus=usable_cores(),
                                 attempt=self.attempt, final=final)
        if self.vram is not None:
            fields["peak_vram_bytes"] = self.vram
            fields["vram_total_bytes"] = self.vram_total
            fields["gpus"] = self.gpus_used
        try:
            self.write(fields)
        except Exception:
            return
        self._unwritten = False
        self._next_write = self.clock() + self.write_every_s
