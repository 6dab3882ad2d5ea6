"""Shared set-up of the TUI tests: the recorded runs fixture, a frozen clock, a fake NVML at the
edge with a fixed CPU/RAM reading, and waits on the app's background threads."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from aba_tui.app import AbaApp
from aba_tui.settings import Settings
from pipeline.monitor.telemetry import NvmlProvider, SystemSample, Telemetry
from tests.support.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.support.paths import FIXTURES

FIXTURE = FIXTURES / "runs"
FROZEN = 1740844800.0  # 2025-03-01 16:00 UTC, the fixture's "now"
GRPO = "20250301-1520-grpo-smollm2"
DPO_OK = "20250301-0900-dpo-smollm2"
DPO_NAN = "20250301-1400-dpo-smollm2"
DPO_OOM = "20250301-1300-dpo-qwen"
SFT_FAILED = "20250301-1130-sft-smollm2"
SELFTEST = "20250228-1400-selftest"


def copy_fixture(tmp_path: Path) -> Path:
    dst = tmp_path / "runs"
    shutil.copytree(FIXTURE, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


def fixed_system() -> SystemSample:
    return SystemSample(cpu_pct=35.0, cpu_count=16, ram_used=41 * GiB, ram_total=125 * GiB)


def fake_telemetry(nvml: FakeNvml | None = None, history: bool = True, clock: Callable[[], float] = lambda: FROZEN,
                   interval_s: float = 3600.0, wave: tuple[int, ...] = (90, 85, 20, 95, 70, 40)) -> Telemetry:
    """Telemetry on a fake H100 whose process 9999991 is the fixture's GRPO worker. With
    ``history``, 30 minutes of samples are recorded first (a deterministic utilisation wave)."""
    nv = nvml or FakeNvml([FakeGpu(procs=[(9999991, 20 * GiB), (9999992, GiB)])])
    now = [FROZEN - 1800.0]
    t = Telemetry(NvmlProvider(nv), history_s=1800, interval_s=1.0, clock=lambda: now[0], system=fixed_system)
    t.interval_s = interval_s  # history sized for 1 Hz; the app then samples at this interval
    if history and nv.gpus:
        util0 = nv.gpus[0].util
        for i in range(60):
            now[0] = FROZEN - 1800.0 + i * 30
            nv.gpus[0].util = wave[i % len(wave)]
            t.sample()
        nv.gpus[0].util = util0
    t.clock = clock
    return t


def make_app(tmp_path: Path, runs_dir: Path | None = None, settings: Settings | None = None,
             telemetry: Telemetry | None = None, clock: Callable[[], float] | None = None, **kwargs) -> AbaApp:
    settings = settings or Settings()
    if settings.path is None:
        settings.path = tmp_path / "config" / "config.toml"
    return AbaApp(runs_dir=runs_dir or copy_fixture(tmp_path), settings=settings,
                  telemetry=telemetry or fake_telemetry(), clock=clock or (lambda: FROZEN), **kwargs)


async def wait_until(pilot, cond: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def charts_idle(app: AbaApp) -> bool:
    from aba_tui.panes.charts_pane import ChartsPane
    from aba_tui.panes.metric_chart import MetricChart

    if not getattr(app.screen, "built", True):
        return False  # the dashboard's panes come just after its first frame
    busy = [w for w in app.workers if w.group == "charts" and w.is_running]
    charts = list(app.screen.query(MetricChart))
    if app.screen.query(ChartsPane) and not charts:
        return False  # not mounted yet (they come just after the first frame)
    return not busy and all(c._prepared for c in charts)


async def settle(pilot, app: AbaApp, timeout: float = 20.0) -> None:
    """Wait until the watcher has made two passes and every pane has drawn what it read."""
    from aba_tui.panes.logs import LogView

    await wait_until(pilot, lambda: app.model.passes >= 2, timeout, "the watcher's passes")
    await wait_until(pilot, lambda: app.telemetry.latest is not None, timeout, "a telemetry sample")
    await pilot.pause(0.2)
    await wait_until(pilot, lambda: charts_idle(app), timeout, "the charts")
    logs = app.screen.query(LogView)
    if logs:
        await wait_until(pilot, lambda: logs.first().line_count > 0, timeout, "the log pane")
    await pilot.pause(0.1)
    await wait_until(pilot, lambda: charts_idle(app), timeout, "the charts")
    if getattr(app.screen, "built", False):  # the dashboard's 1 Hz tick now, not at whatever phase its timer is in
        app.screen._tick()
        await pilot.pause(0.1)
    from textual.widgets import DataTable

    # DataTables size their columns on idle: wait until every new row has been measured.
    for table in app.screen.query(DataTable):
        await wait_until(pilot, lambda t=table: not t._require_update_dimensions, timeout, "the table's layout")
    await pilot.pause(0.2)  # the layout refresh that follows
