"""NVIDIA GPUs through NVML (nvidia-ml-py's ``pynvml``): per GPU its load, memory, clocks and the
processes holding memory on it. Read by the UI's telemetry (pipeline.monitor.telemetry) and by the
supervisor's peak watch (pipeline.runs.peaks); tests hand it a fake ``pynvml``-shaped module, the only
fake (the edge: no GPU here). Every field is read on its own: an NVML error on one shows ``None``."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    # NVML reports "not available" process memory as a huge sentinel (NVML_VALUE_NOT_AVAILABLE).
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= (1 << 63):
        return None
    return value
