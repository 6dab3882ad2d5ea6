"""Pilot tests of the dashboard panes on the recorded runs fixture (frozen clock, fake NVML)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from aba_tui.panes.alerts import AlertsTable
from aba_tui.panes.charts_pane import ChartsPane
from aba_tui.panes.logs import LogView
from aba_tui.panes.metric_chart import MetricChart
from aba_tui.panes.runs import RunsTable
from aba_tui.panes.telemetry import TelemetryPane
from aba_tui.screens.pick import PickScreen
from tests.support.fake_nvml import FakeGpu, FakeNvml
from tests.support.tui import (
    DPO_NAN,
    DPO_OK,
    DPO_OOM,
    FROZEN,
    GRPO,
    SELFTEST,
    SFT_FAILED,
    fake_telemetry,
    make_app,
    settle,
    wait_until,
)

pytestmark = pytest.mark.asyncio


def _text(renderable, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _row(table: RunsTable, run_id: str) -> list[str]:
    return [str(c) for c in table.get_row(run_id)]


async def test_runs_list_shows_true_states_steps_eta_and_marks(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        assert table.row_count == 6
        assert table.order[0] == GRPO  # newest first
        grpo = _row(table, GRPO)
        assert grpo[3] == "running" and grpo[4] == "train" and grpo[5] == "120/500" and grpo[6] == "2h03m"
        assert grpo[8] == "40m"
        assert _row(table, DPO_OOM)[3] == "oom #2"
        assert _row(table, SFT_FAILED)[3:6] == ["failed", "train", "40/75"]
        assert _row(table, DPO_OK)[5:8] == ["200/200", "-", "0.07046"]  # summarised from head and tail
        nan = _row(table, DPO_NAN)
        assert nan[0].endswith("✗") and nan[7] == "nan"
        assert _row(table, SELFTEST)[3] == "stopped"


async def test_charts_overlay_pinned_runs_smoothing_window_eval_and_metric_pick(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        pane = app.screen.query_one(ChartsPane)
        table.select_run(DPO_OK)
        await pilot.press("space")  # pin the DPO run
        table.select_run(DPO_NAN)
        await pilot.pause(0.2)
        await settle(pilot, app)
        assert pane._runs == [DPO_OK, DPO_NAN] and app.screen.pinned == [DPO_OK]
        loss = app.screen.query_one("#chart-0", MetricChart)
        assert [t.run_id for t in loss._traces] == [DPO_OK, DPO_NAN]
        ok = loss._traces[0]
        assert ok.data.total_points == 200 and ok.eval_x == [50.0, 100.0, 150.0, 200.0]
        assert len(ok.data.smooth_x) > 0  # EMA 0.6 by default
        # The NaN steps are not drawn (and counted as an alert instead).
        assert loss._traces[1].data.total_points == 30

        loss.focus()
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert pane.smoothing == 0.0
        await settle(pilot, app)
        assert loss._traces[0].data.smooth_x == []
        await pilot.press("right_square_bracket")
        assert pane.smoothing == 0.3
        await pilot.press("w", "w")  # all → last 10k → last 1k
        assert pane.window == 1000
        await pilot.press("w", "w")  # → last 100, → all
        assert pane.window is None
        await pilot.press("w", "w", "w")
        await settle(pilot, app)
        assert min(loss._traces[0].data.raw_x) >= 100
        await pilot.press("e")
        assert not pane.eval_points
        await settle(pilot, app)
        assert loss._traces[0].eval_x == []

        await pilot.press("m")
        assert isinstance(app.screen, PickScreen)
        assert "margins" in app.screen.items and "grad_norm" in app.screen.items
        app.screen.dismiss("margins")
        await pilot.pause(0.1)
        await settle(pilot, app)
        assert loss.metric == "margins" and loss._traces[0].data.raw_y[-1] > 2


async def test_logs_pane_follows_new_lines_and_switches_files(tmp_path: Path):
    runs = tmp_path / "r"
    app = make_app(tmp_path, runs_dir=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        runs = app.store.root
        logs = app.screen.query_one(LogView)
        assert logs.run_dir == runs / GRPO and "4 generations" in logs.lines[0]
        with open(runs / GRPO / "stdout.log", "a") as fh:
            fh.write("step 121 done\nhalf a li")
        await wait_until(pilot, lambda: "step 121 done" in logs.lines, what="the appended line")
        assert not any("half a li" in ln for ln in logs.lines)  # waits for its newline
        with open(runs / GRPO / "stdout.log", "a") as fh:
            fh.write("ne\n")
        await wait_until(pilot, lambda: "half a line" in logs.lines, what="the completed line")
        logs.focus()
        await pilot.press("f")  # stderr.log: a tqdm bar's carriage returns collapse
        await wait_until(pilot, lambda: logs.file_name == "stderr.log" and logs.line_count > 0)
        assert "120/500" in logs.lines[0]
        await pilot.press("f")
        await wait_until(pilot, lambda: logs.file_name == "events.jsonl" and logs.line_count > 10)
        assert json.loads(logs.lines[-1])["step"] == 120


async def test_telemetry_pane_with_a_gpu_maps_processes_to_runs_and_shows_na(tmp_path: Path):
    nv = FakeNvml([FakeGpu(procs=[(9999991, 20 * 2**30), (9999992, 2**30)])], fail={"nvmlDeviceGetFanSpeed"})
    app = make_app(tmp_path, telemetry=fake_telemetry(nv))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        pane = app.screen.query_one(TelemetryPane)
        text = _text(pane._render_snapshot(app.telemetry.latest))
        assert "GPU0 NVIDIA H100 80GB HBM3" in text and "driver 550.54.15" in text
        assert "util  87%" in text and "vram 61.0/80.0 GiB 76%" in text
        assert "310/700 W" in text and "SM 1755 MHz" in text and "fan n/a" in text
        assert f"pid 9999991  20.0 GiB  {GRPO}" in text and "pid 9999992   1.0 GiB  (not a run)" in text
        assert "CPU  35% of 16" in text and "RAM 41.0/125.0 GiB" in text
        spark = next(ln for ln in text.splitlines() if "util" in ln)
        assert any(ch in spark for ch in "▁▂▃▄▅▆▇█") and "30m" in spark
        pane.focus()
        await pilot.press("h")
        text = _text(pane._render_snapshot(app.telemetry.latest))
        vram = next(ln for ln in text.splitlines() if "vram" in ln)
        assert any(ch in vram for ch in "▁▂▃▄▅▆▇█")


async def test_telemetry_pane_without_a_driver_shows_cpu_and_ram(tmp_path: Path):
    nv = FakeNvml(init_error="NVML Shared Library Not Found")
    app = make_app(tmp_path, telemetry=fake_telemetry(nv, history=False))
    app.telemetry.disk_path = tmp_path  # the runs dir's free space: the app's own Telemetry samples its store
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        text = _text(app.screen.query_one(TelemetryPane)._render_snapshot(app.telemetry.sample()))
        assert "No NVIDIA GPU: no NVIDIA driver or GPU (NVML: NVML Shared Library Not Found)" in text
        assert "CPU  35% of 16" in text and "GPU0" not in text
        disk = next(ln for ln in text.splitlines() if ln.startswith("Disk "))
        assert " free of " in disk and "(runs dir)" in disk and "read-only" not in disk


async def test_alerts_pane_lists_bad_ends_and_nan_and_jumps_to_the_run(tmp_path: Path):
    app = make_app(tmp_path)
    app.settings.alerts.notify = True
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        alerts = app.screen.query_one(AlertsTable)
        codes = {(a.code, a.run_id) for a in alerts.alerts}
        # Ended within the last day while nobody watched: announced once.
        assert ("run_oom", DPO_OOM) in codes and ("run_failed", SFT_FAILED) in codes
        assert ("run_failed", DPO_NAN) in codes
        assert ("stalled", GRPO) not in codes  # its last event is 20 s old
        assert len(app._notifications) >= 3
        # The NaN run's events are read when it is selected: NaN loss and grad_norm, and its worker alert.
        app.screen.query_one(RunsTable).select_run(DPO_NAN)
        await wait_until(pilot, lambda: any(a.code == "nonfinite" for a in alerts.alerts), what="the NaN alert")
        codes = [a.code for a in alerts.alerts if a.run_id == DPO_NAN]
        assert codes.count("nonfinite") == 2 and "stage_failed" in codes
        oom_row = next(i for i, a in enumerate(alerts.alerts) if a.code == "run_oom")
        alerts.focus()
        alerts.move_cursor(row=oom_row)
        await pilot.press("enter")
        table = app.screen.query_one(RunsTable)
        assert table.current_run == DPO_OOM and app.focused is table


async def test_live_chart_redraws_are_immediate_when_quiet_and_coalesced_under_load(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        pane = app.screen.query_one(ChartsPane)
        drawn = pane._runs[0]
        draws: list[float] = []
        real_draw = pane._draw
        pane._draw = lambda: (draws.append(1), real_draw())  # type: ignore[method-assign]
        pane._last_live_draw = 0.0  # quiet for a while
        pane.redraw({drawn})
        assert len(draws) == 1  # at once: append → drawn stays fast
        for _ in range(5):  # a burst of appends within the interval
            pane.redraw({drawn})
        assert len(draws) == 1
        await wait_until(pilot, lambda: len(draws) == 2, timeout=3 * pane.LIVE_MIN_INTERVAL_S,
                         what="one trailing redraw for the burst")
        await pilot.pause(pane.LIVE_MIN_INTERVAL_S + 0.3)
        assert len(draws) == 2  # the burst cost one redraw, not five
        pane.redraw({"a-run-that-is-not-drawn"})
        assert len(draws) == 2


async def test_runs_list_widens_a_column_when_a_cell_outgrows_it(tmp_path: Path):
    # A new run shows "-" for step and ETA; once steps arrive, "15/50" and "11m05s" must show whole.
    from dataclasses import replace

    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        rows = [replace(r, step=None, total=None, eta_s=None) for r in app.model.rows()]
        table.show_rows(rows, FROZEN)
        await pilot.pause(0.2)
        narrow = table.column_width("step")
        grown = [replace(r, step=15000, total=50000, eta_s=665.0) if r.run_id == SELFTEST else r for r in rows]
        table.show_rows(grown, FROZEN)
        await pilot.pause(0.3)
        assert table.column_width("step") > narrow
        rendered = table.render_line(table.order.index(SELFTEST) + 1).text
        assert "15000/50000" in rendered


async def test_runs_list_repaints_only_the_row_whose_cell_changed(tmp_path: Path):
    # A step that still fits its column rebuilds that row's line alone: the other rows' strips are
    # reused (DataTable.update_cell re-rendered every cell of the table once a second).
    from dataclasses import replace

    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        rows = [replace(r, step=1000, total=5000) if r.run_id in (SELFTEST, GRPO) else r for r in app.model.rows()]
        table.show_rows(rows, FROZEN)
        await pilot.pause(0.3)
        line = {rid: table.order.index(rid) + 1 for rid in (SELFTEST, GRPO)}
        before = {rid: table.render_line(y).text for rid, y in line.items()}
        built = table.rows_rendered
        table.show_rows([replace(r, step=1001) if r.run_id == SELFTEST else r for r in rows], FROZEN)
        await pilot.pause(0.2)
        after = {rid: table.render_line(y).text for rid, y in line.items()}
        assert "1001/5000" in after[SELFTEST] and "1000/5000" in before[SELFTEST]
        assert after[GRPO] == before[GRPO] and _row(table, SELFTEST)[5] == "1001/5000"
        assert table.rows_rendered - built == 1  # the changed row only, drawn once for screen and here
        table.show_rows([replace(r, step=1001) if r.run_id == SELFTEST else r for r in rows], FROZEN)
        await pilot.pause(0.2)
        assert table.rows_rendered - built == 1  # nothing changed: nothing rebuilt
        table.move_cursor(row=line[SELFTEST] - 1)  # the cursor row draws from the same data (at once: the
        # dashboard's next tick shows the model's rows again)
        assert "1001/5000" in table.render_line(line[SELFTEST] - table.scroll_offset.y).text


async def test_logs_pane_hides_its_scrollbar_only_while_following_the_end(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        logs = app.screen.query_one(LogView)
        with open(logs.run_dir / "stdout.log", "a") as fh:
            fh.write("".join(f"line {i}\n" for i in range(100)))
        await wait_until(pilot, lambda: "line 99" in logs.lines, what="the appended lines")
        await wait_until(pilot, lambda: logs.is_vertical_scroll_end and logs.scroll_y > 0, what="following")
        assert logs.styles.scrollbar_size_vertical == 0
        logs.focus()  # lands on a later message: a key before it would move the runs list's cursor
        await wait_until(pilot, lambda: app.focused is logs, what="the logs pane focused")
        await pilot.press("pageup")
        await wait_until(pilot, lambda: logs.styles.scrollbar_size_vertical > 0, what="the scrollbar back")
        assert "end follows" in logs.border_subtitle
        await pilot.press("end")
        await wait_until(pilot, lambda: logs.styles.scrollbar_size_vertical == 0, what="hidden again")
        assert logs.border_subtitle == ""


async def test_charts_pane_draws_what_its_screen_hands_it_in_a_bare_app(tmp_path: Path):
    # No AbaApp: the pane is handed the model and the colours, and asks for a metric picker with a
    # message that reaches whatever composed it.
    from textual.app import App, ComposeResult

    from aba_tui.panes.metric_chart import MetricChart as Chart
    from pipeline.monitor.runs_model import RunsModel
    from pipeline.runs.store import RunStore
    from tests.support.tui import copy_fixture

    model = RunsModel(RunStore(copy_fixture(tmp_path)), clock=lambda: FROZEN)
    model.poll_once()
    model.want({DPO_OK})
    for _ in range(3):  # lists the runs, then reads the wanted run's events
        model.poll_once()
    asked: list[Chart] = []

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield ChartsPane(model, ["#123456", "#654321"], ["loss", "margins"], 0.6, True, 4, id="charts")

        def on_metric_chart_pick_metric(self, event: Chart.PickMetric) -> None:
            asked.append(event.chart)

    app = Bare()
    async with app.run_test(size=(120, 30)) as pilot:
        pane = app.query_one(ChartsPane)
        pane.set_runs([DPO_OK])
        await wait_until(pilot, lambda: len(pane.charts()) == 2 and all(c._traces for c in pane.charts()),
                         what="both charts drawn")
        loss = pane.charts()[0]
        assert [(t.run_id, t.color) for t in loss._traces] == [(DPO_OK, "#123456")]
        assert loss._traces[0].data.total_points == 200
        loss.focus()
        await pilot.press("m")
        await wait_until(pilot, lambda: asked == [loss], what="the pick request")
        loss.metric = "grad_norm"  # the chart asks its pane for data again (DataWanted)
        await wait_until(pilot, lambda: loss._traces and loss._title().startswith("grad_norm"), what="redrawn")
        pane.run_colors = ("#ABCDEF",)
        await wait_until(pilot, lambda: loss._traces[0].color == "#ABCDEF", what="the new colour")


async def test_a_theme_switch_recolours_the_overlaid_runs(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        loss = app.screen.query_one("#chart-0", MetricChart)
        before = loss._traces[0].color
        assert before == app.theme_specs["aba-dark"].chart_colors[0]
        app.theme = "aba-light"
        light = app.theme_specs["aba-light"].chart_colors[0]
        await wait_until(pilot, lambda: loss._traces[0].color == light, what="the light theme's colour")
        assert f"[{light}]" in app.screen.query_one(ChartsPane)._legend_text


async def test_dashboard_tells_the_app_which_run_is_highlighted(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        assert app.selected_run == GRPO  # the newest, highlighted at start
        app.screen.query_one(RunsTable).select_run(SFT_FAILED)
        await wait_until(pilot, lambda: app.selected_run == SFT_FAILED, what="the app told")
        app.screen.query_one(RunsTable).focus()
        await pilot.press("m")  # not a runs-table key: nothing happens
        assert app.screen.query_one(RunsTable).current_run == SFT_FAILED


async def test_the_dashboards_tick_joins_the_charts_repaint_in_the_same_batch(tmp_path: Path):
    # The runs list, telemetry and logs repaint with the charts when their 1 Hz tick is due: called
    # inside the charts' batched update, not posted (a message lands after the frame is painted).
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        screen, pane = app.screen, app.screen.query_one(ChartsPane)
        screen._last_tick = 0.0  # the tick is due
        pane._apply([(c, c._traces) for c in pane.charts()], pane.smoothing)
        assert screen._last_tick > 0.0
        due = screen._last_tick
        pane._apply([(c, c._traces) for c in pane.charts()], pane.smoothing)
        assert screen._last_tick == due  # just ticked: not again
