"""A stand-in for the ``pynvml`` module: the one fake the TUI tests use (no NVIDIA GPU in CI).

It has the same function names and result shapes as nvidia-ml-py, so the real
:class:`pipeline.monitor.telemetry.NvmlProvider` code runs against it. ``fail`` names functions that raise
NVMLError (a field that is not supported), ``init_error`` makes nvmlInit fail like a missing driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

GiB = 1 << 30


class NVMLError(Exception):
    pass


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    util: int = 87
    mem_util: int = 40
    used: int = 61 * GiB
    total: int = 80 * GiB
    temp: int = 64
    power_mw: int = 310_000
    limit_mw: int = 700_000
    sm_clock: int = 1755
    mem_clock: int = 2619
    fan: int = 40
    procs: list[tuple[int, int]] = field(default_factory=list)  # (pid, used bytes)


class FakeNvml:
    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, gpus: list[FakeGpu] | None = None, fail: set[str] | None = None,
                 init_error: str | None = None) -> None:
        self.gpus = gpus if gpus is not None else [FakeGpu()]
        self.fail = fail or set()
        self.init_error = init_error
        self.calls = 0

    def _check(self, name: str) -> None:
        self.calls += 1
        if name in self.fail:
            raise NVMLError(f"{name}: Not Supported")

    def nvmlInit(self) -> None:
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check("nvmlSystemGetDriverVersion")
        return "550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> FakeGpu:
        return self.gpus[i]

    def nvmlDeviceGetName(self, h: FakeGpu) -> bytes:
        self._check("nvmlDeviceGetName")
        return h.name.encode()  # older nvidia-ml-py returns bytes

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        self._check("nvmlDeviceGetUUID")
        return f"GPU-{self.gpus.index(h):08d}"

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> Any:
        self._check("nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=h.util, memory=h.mem_util)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> Any:
        self._check("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(used=h.used, total=h.total, free=h.total - h.used)

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> int:
        self._check("nvmlDeviceGetTemperature")
        return h.temp

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> int:
        self._check("nvmlDeviceGetPowerUsage")
        return h.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, h: FakeGpu) -> int:
        self._check("nvmlDeviceGetEnforcedPowerLimit")
        return h.limit_mw

    def nvmlDeviceGetClockInfo(self, h: FakeGpu, kind: int) -> int:
        self._check("nvmlDeviceGetClockInfo")
        return h.sm_clock if kind == self.NVML_CLOCK_SM else h.mem_clock

    def nvmlDeviceGetFanSpeed(self, h: FakeGpu) -> int:
        self._check("nvmlDeviceGetFanSpeed")
        return h.fan

    def nvmlDeviceGetComputeRunningProcesses(self, h: FakeGpu) -> list[Any]:
        self._check("nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in h.procs]
