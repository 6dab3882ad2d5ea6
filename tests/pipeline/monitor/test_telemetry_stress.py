"""Stress: the telemetry sampler at its fastest interval, plus a second thread sampling back to back
(the TTL-expired ``snapshot()`` path), while the telemetry pane redraws from the same histories.
Before the histories were guarded, a redraw could iterate a deque the sampler was appending to
("deque mutated during iteration") and two samplers could interleave their appends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aba_tui.panes.telemetry import TelemetryPane
from aba_tui.settings import Settings
from pipeline.monitor.telemetry import NvmlProvider, Telemetry
from tests.support.fake_nvml import FakeGpu, FakeNvml, GiB
from tests.support.tui import fixed_system, make_app, wait_until

FASTEST = Settings().telemetry.__dataclass_fields__["interval_s"].metadata["min"]


@pytest.mark.asyncio
async def test_sampler_at_its_fastest_interval_while_the_pane_redraws(tmp_path: Path) -> None:
    nv = FakeNvml([FakeGpu(procs=[(9999991, 20 * GiB)]), FakeGpu(name="NVIDIA A100")])
    tele = Telemetry(NvmlProvider(nv), history_s=30, interval_s=FASTEST, ttl=0.0, system=fixed_system)
    app = make_app(tmp_path, telemetry=tele)
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                tele.snapshot()  # ttl=0: every call samples
            except BaseException as exc:
                errors.append(exc)
                return

    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: tele.latest is not None, what="the first sample")
        pane = app.screen.query_one(TelemetryPane)
        thread = threading.Thread(target=hammer, daemon=True)
        thread.start()
        redraws, calls0 = 0, nv.calls
        try:
            # Redraw as fast as the loop allows until the samplers have filled and wrapped the
            # histories several times over (history_len samples each time).
            while nv.calls - calls0 < 40 * tele.history_len or redraws < 200:
                latest = tele.latest
                assert latest is not None
                pane._render_snapshot(latest)  # iterates every history, as a repaint does
                pane.show_snapshot(latest)
                redraws += 1
                if redraws % 20 == 0:
                    await pilot.pause(0)
                assert not errors, errors
        finally:
            stop.set()
            thread.join(10)
        assert not errors and app.is_running
        # The app's own sampler (a worker) did not fail either: its errors are notified as "telemetry: …".
        assert not [n.message for n in app._notifications if n.message.startswith("telemetry")]
        for hist in (tele.gpu_history(0), tele.gpu_history(1), tele.cpu_history()):
            assert 0 < len(hist) <= tele.history_len
            stamps = [p[0] for p in hist]
            assert stamps == sorted(stamps)  # one sampler at a time: appends never interleave
