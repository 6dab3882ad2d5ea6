"""Pilot tests of the app's actions: live tails, pane toggles, focus, help, palette, themes, keymaps,
config errors, the screen registry, the worker error handler, and run control on real runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aba_tui import screens as screen_registry
from aba_tui.app import AbaApp
from aba_tui.panes.alerts import AlertsTable
from aba_tui.panes.logs import LogView
from aba_tui.panes.metric_chart import MetricChart
from aba_tui.panes.runs import RunsTable
from aba_tui.panes.telemetry import TelemetryPane
from aba_tui.screens.confirm import ConfirmScreen
from aba_tui.screens.help import HelpScreen
from aba_tui.screens.launch import LaunchScreen
from aba_tui.settings import Settings, load_settings
from pipeline.errors import ConfigError
from pipeline.runs.store import RunStore
from tests.support.tui import GRPO, SELFTEST, copy_fixture, make_app, settle, wait_until

pytestmark = pytest.mark.asyncio


def _append(path: Path, *events: dict) -> None:
    with open(path, "a") as fh:
        fh.write("".join(json.dumps(e) + "\n" for e in events))


async def test_appended_events_update_row_chart_and_alerts_truncation_resets(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        events = app.store.root / GRPO / "events.jsonl"
        table = app.screen.query_one(RunsTable)
        reward = app.screen.query_one("#chart-2", MetricChart)
        assert reward.metric == "reward" and reward._traces[0].data.total_points == 120
        _append(events, {"ts": 1740844790.0, "type": "metrics", "step": 121, "loss": 0.01, "reward": 0.9})
        await wait_until(pilot, lambda: str(table.get_row(GRPO)[5]) == "121/500", what="the row's step")
        await wait_until(pilot, lambda: reward._traces and reward._traces[0].data.total_points == 121,
                         what="the chart's new point")
        assert reward._traces[0].data.raw_y[-1] == pytest.approx(0.9)
        # A malformed line is skipped and counted; a NaN raises an alert and marks the row.
        with open(events, "a") as fh:
            fh.write("{broken\n")
        _append(events, {"ts": 1740844791.0, "type": "metrics", "step": 122, "loss": float("nan"), "reward": 0.8})
        alerts = app.screen.query_one(AlertsTable)
        await wait_until(pilot, lambda: any(a.code == "nonfinite" and a.run_id == GRPO for a in alerts.alerts),
                         what="the NaN alert")
        await wait_until(pilot, lambda: str(table.get_row(GRPO)[0]).endswith("✗"), what="the row mark")
        assert app.model.entry(GRPO).tail.malformed == 1
        # Replaced by a shorter file (a restarted run): the series start over.
        events.write_text(json.dumps({"ts": 1.0, "type": "metrics", "step": 1, "reward": 0.1}) + "\n")
        await wait_until(pilot, lambda: reward._traces and reward._traces[0].data.total_points == 1,
                         what="the reset series")


async def test_digit_keys_toggle_panes_and_tab_cycles_focus(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        dash = app.screen
        assert isinstance(app.focused, RunsTable)
        await pilot.press("3")
        assert not dash.query_one("#logs").display
        await pilot.press("5")  # logs and alerts hidden: their row gives its room to the charts
        assert not dash.query_one("#bottom-row").display
        await pilot.press("3")
        assert dash.query_one("#logs").display and dash.query_one("#bottom-row").display
        assert isinstance(app.focused, LogView)
        await pilot.press("1")  # hiding the focused pane moves focus on
        assert not dash.query_one("#runs-pane").display and not isinstance(app.focused, RunsTable)
        await pilot.press("1", "5")
        seen = []
        app.screen.query_one(RunsTable).focus()
        for _ in range(8):
            seen.append(type(app.focused).__name__)
            await pilot.press("tab")
        assert {"RunsTable", "TelemetryPane", "MetricChart", "LogView", "AlertsTable"} <= set(seen)


async def test_question_mark_shows_the_focused_panes_bindings(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        md = app.screen.markdown
        assert md.startswith("## Runs") and "| s | Stop: save a checkpoint and stop (asks first) |" in md
        assert "## Everywhere" in md and "| q | Quit: asks first while runs are active |" in md
        await pilot.press("escape")
        app.screen.query_one(TelemetryPane).focus()
        await pilot.press("question_mark")
        md = app.screen.markdown
        assert md.startswith("## Telemetry") and "| h | History: sparklines" in md and "Stop" not in md
        await pilot.press("escape")
        app.screen.query_one("#chart-0", MetricChart).focus()
        await pilot.press("question_mark")
        md = app.screen.markdown
        assert md.startswith("## Chart") and "## Charts" in md and "| m | Metric:" in md and "| w | Window:" in md
        assert md.index("| m | Metric:") < md.index("## Charts") < md.index("| w | Window:")


async def test_palette_offers_every_action_and_runs_them(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        titles = {c.title.split(" (")[0]: c for c in app.get_system_commands(app.screen)}
        for t in ("New run", "Stop run", "Stop run now", "Resume run", "Relaunch run", "Open logs", "Open path…",
                  "Pin / unpin run", "Pick x field", "Toggle pane: logs", "Charts: more smoothing",
                  "Charts: step window", "Charts: eval points", "Theme: aba-light", "Theme: aba-contrast",
                  "Go to Dashboard", "Help", "Quit", "Keys"):
            assert t in titles, t
        titles["Toggle pane: telemetry"].callback()
        assert not app.screen.query_one("#telemetry").display
        titles["Theme: aba-contrast"].callback()
        assert app.theme == "aba-contrast"
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "CommandPalette"
        await pilot.press(*"new run")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the launch form")


async def test_theme_switch_is_remembered_in_the_config(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('# my settings\ntheme = "aba-dark"\n\n[charts]\nsmoothing = 0.3  # keep\n')
    settings = load_settings(cfg)
    app = make_app(tmp_path, settings=settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        assert app.theme == "aba-dark" and app.screen.query_one("#charts").smoothing == 0.3
        app.theme = "aba-light"
        await wait_until(pilot, lambda: 'theme = "aba-light"' in cfg.read_text(), what="the saved theme")
    text = cfg.read_text()
    assert "# my settings" in text and "smoothing = 0.3  # keep" in text
    assert load_settings(cfg).theme == "aba-light"
    app2 = make_app(tmp_path / "again", settings=load_settings(cfg))
    assert app2.theme == "aba-light"


async def test_keymap_in_config_rebinds_and_bad_config_is_one_clear_error(tmp_path: Path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\n"runs.stop" = "x"\n')
    app = make_app(tmp_path, settings=load_settings(cfg))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("s")  # no longer bound
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("x")  # the running fixture run: asks first
        assert isinstance(app.screen, ConfirmScreen) and GRPO in app.screen.question
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
    cases = {
        '[keymap]\n"runs.explode" = "x"\n': "keymap.runs.explode: unknown binding id",
        "[telemetry]\ninterval_s = 0.1\n": "telemetry.interval_s=0.1: expected a value ≥ 0.25",
        '[charts]\nsmoothing = "lots"\n': "charts.smoothing='lots': expected a number",
        "[alerts]\nvram = 90\n": "unknown key alerts.vram",
        'colour = "red"\n': "unknown key 'colour'",
        '[panes]\nhidden = ["runs", "graphs"]\n': "unknown pane 'graphs'",
        'theme = "neon"\n': "theme='neon': unknown theme",
        "theme = \n": "not valid TOML",
    }
    for text, message in cases.items():
        cfg.write_text(text)
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")) as exc:
            make_app(tmp_path, runs_dir=tmp_path / "none", settings=load_settings(cfg))
        assert str(cfg) in str(exc.value)
    with pytest.raises(ConfigError, match="--theme='neon': unknown theme"):
        make_app(tmp_path, runs_dir=tmp_path / "none", settings=Settings(), theme="neon")


async def test_screen_registry_is_lazy_and_a_broken_screen_cannot_crash_the_app(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(screen_registry.SCREENS, "broken",
                        screen_registry.ScreenEntry("aba_tui.screens.no_such_module:Nope", "Broken", "test"))
    monkeypatch.setitem(AbaApp.MODES, "broken", lambda: screen_registry.load_screen_class("broken")())
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        assert app.current_mode == "dashboard"
        await app.action_goto("broken")
        await pilot.pause(0.1)
        assert any("cannot open broken" in n.message for n in app._notifications)
        assert app.screen.query_one(RunsTable)  # still on the dashboard, alive


async def test_one_error_handler_reports_and_restarts_the_watcher(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        real = app.model.poll_once
        calls = {"n": 0}

        def flaky() -> bool:
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("disk on fire")
            return real()

        app.model.poll_once = flaky  # type: ignore[method-assign]
        app.model.wake.set()
        await wait_until(pilot, lambda: any("disk on fire" in n.message for n in app._notifications),
                         what="the error notification")
        passes = app.model.passes
        await wait_until(pilot, lambda: app.model.passes > passes + 2, timeout=10, what="the restarted watcher")


async def test_open_foreign_logs_as_rows(tmp_path: Path):
    hf = tmp_path / "hf-out" / "checkpoint-20"
    hf.mkdir(parents=True)
    (hf / "trainer_state.json").write_text(json.dumps({"max_steps": 40, "log_history": [
        {"step": s, "loss": 1.0 / s, "learning_rate": 1e-5} for s in range(1, 21)]}))
    jl = tmp_path / "custom.jsonl"
    jl.write_text("".join(json.dumps({"iter": i, "score": i * i}) + "\n" for i in range(30)))
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        rid = app.open_path(tmp_path / "hf-out")
        table = app.screen.query_one(RunsTable)
        await wait_until(pilot, lambda: table.current_run == rid, what="the opened log's row")
        row = [str(c) for c in table.get_row(rid)]
        assert row[1] == "hf-out" and row[2] == "log" and row[3] == "file" and row[5] == "20/40"
        await settle(pilot, app)
        assert app.screen.query_one("#chart-0", MetricChart)._traces[0].data.total_points == 20
        assert app.open_path(tmp_path / "missing") is None
        await pilot.pause(0.1)
        assert any("no such file or folder" in n.message for n in app._notifications)
        # A plain JSONL: the x field is picked (guessed here), any numeric field can be charted.
        await pilot.press("o")
        await pilot.pause(0.1)
        app.screen.query_one("#open-path").value = str(jl)
        await pilot.pause(0.1)
        assert str(app.screen.query_one("#open-x").value) == "iter"
        await pilot.press("enter")
        await wait_until(pilot, lambda: (table.current_run or "").startswith("file:custom"), what="the JSONL row")
        chart = app.screen.query_one("#chart-0", MetricChart)
        chart.metric = "score"
        await settle(pilot, app)
        assert chart._traces[0].data.raw_x[-1] == 29 and chart._traces[0].data.raw_y[-1] == 841


async def test_launch_form_validates_then_real_runs_are_stopped_resumed_relaunched(tmp_path: Path, store: RunStore):
    runs = copy_fixture(tmp_path)
    assert runs == store.root
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, LaunchScreen)
        form.query_one("#what").value = "stage:selftest"
        await wait_until(pilot, lambda: bool(form.query("#f-selftest-steps")), what="the selftest fields")
        assert form.query_one("#f-supervisor-grace_seconds").value == "30.0"
        steps = form.query_one("#f-selftest-steps")
        steps.value = "many"
        await pilot.pause(0.1)
        assert steps.has_class("-invalid") and "expected an integer" in str(form.query_one("#launch-error").render())
        await pilot.press("ctrl+s")
        assert app.screen is form  # nothing starts
        assert len(store.run_ids()) == 6
        steps.value = "3"
        form.query_one("#f-selftest-behaviour").value = "sleep"
        form.query_one("#f-supervisor-grace_seconds").value = "5"
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(store.run_ids()) == 7, what="the new run folder")
        new = next(r for r in store.run_ids() if r.endswith("-selftest") and r != SELFTEST)
        table = app.screen.query_one(RunsTable)
        await wait_until(pilot, lambda: table.current_run == new, what="the new run selected")
        await wait_until(pilot, lambda: str(table.get_row(new)[3]) == "running", timeout=30, what="running")

        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: str(table.get_row(new)[3]) == "stopped", timeout=30, what="stopped")
        assert (store.path(new) / "checkpoints" / "checkpoint-000001" / "metadata.json").is_file()

        await pilot.press("r")  # resume: from the checkpoint, the sleeping worker runs again
        await wait_until(pilot, lambda: str(table.get_row(new)[3]) == "running #2", timeout=30, what="resumed")
        await pilot.press("K")
        assert "NOW" in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: str(table.get_row(new)[3]).startswith("stopped"), timeout=30,
                         what="stopped again")

        await pilot.press("R")  # relaunch: a new run from the same run.toml
        await wait_until(pilot, lambda: len(store.run_ids()) == 8, timeout=30, what="the relaunched run")
        newest = sorted(set(store.run_ids()) - {new, SELFTEST}, key=lambda r: os.stat(store.path(r)).st_mtime)[-1]
        await wait_until(pilot, lambda: table.current_run == newest, what="the relaunched run selected")
        await pilot.press("K", "y")
        await wait_until(pilot, lambda: str(table.get_row(newest)[3]).startswith("stopped"), timeout=30,
                         what="the relaunched run stopped")


async def test_launch_form_refuses_bad_data_before_anything_starts(tmp_path: Path, store: RunStore):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(json.dumps({"prompt": "hi", "chosen": "a"}) + "\n")
    app = make_app(tmp_path, runs_dir=copy_fixture(tmp_path))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        form = app.screen
        form.query_one("#what").value = "stage:dpo"
        await wait_until(pilot, lambda: bool(form.query("#f-dpo-data")), what="the dpo fields")
        assert form.query_one("#f-dpo-beta").value == "0.1" and form.query_one("#f-dpo-epochs").value == "200.0"
        form.query_one("#f-dpo-data").value = str(tmp_path / "missing.jsonl")
        await pilot.pause(0.1)  # the Changed event of that edit comes first, as it does when typing
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        err = form.query_one("#launch-error")
        assert "dpo.data=" in str(err.render()) and "no such file" in str(err.render())
        assert form.query_one("#f-dpo-data").has_class("-invalid")
        form.query_one("#f-dpo-data").value = str(bad)
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "missing key 'rejected'" in str(err.render()), what="the preflight error")
        assert app.screen is form and len(store.run_ids()) == 6
        await pilot.press("escape")
        assert not isinstance(app.screen, LaunchScreen)


async def test_enter_opens_the_runs_logs_full_screen_and_mouse_selects_rows(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        await pilot.click(RunsTable, offset=(6, 3))  # header is row 0: the third run
        await pilot.pause(0.1)
        assert table.current_run == app.model.rows()[2].run_id
        table.select_run(SELFTEST)
        await pilot.press("enter")
        from aba_tui.screens.logs import LogScreen

        assert isinstance(app.screen, LogScreen)
        view = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: view.line_count > 0, what="the log lines")
        assert view.run_dir == app.store.root / SELFTEST and "stdout.log is empty" in view.lines[0]
        view.focus()
        await pilot.press("f", "f")  # → events.jsonl
        await wait_until(pilot, lambda: view.file_name == "events.jsonl" and view.line_count >= 4)
        await pilot.press("escape")
        assert isinstance(app.screen.query_one(RunsTable), RunsTable)
        # The malformed lines of that run are counted in the legend, not fatal.
        table.select_run(SELFTEST)
        await settle(pilot, app)
        legend = str(app.screen.query_one("#legend").render())
        assert "1 malformed line skipped" in legend


async def test_gpu_starved_vram_and_stalled_runs_raise_alerts(tmp_path: Path):
    from tests.support.fake_nvml import FakeGpu, FakeNvml
    from tests.support.tui import FROZEN, fake_telemetry

    nv = FakeNvml([FakeGpu(util=5, used=79 * 2**30, total=80 * 2**30, procs=[(9999991, 70 * 2**30)])])
    tel = fake_telemetry(nv, wave=(5,))  # 30 minutes of history at 5 % busy, the GRPO worker on it
    later = [FROZEN]
    settings = Settings()
    settings.alerts.gpu_util_window_s = 90.0  # the recorded history has a sample every 30 s
    app = make_app(tmp_path, telemetry=tel, clock=lambda: later[0], settings=settings)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        alerts = app.screen.query_one(AlertsTable)
        await wait_until(pilot, lambda: {"gpu_starved", "vram_high"} <= {a.code for a in alerts.alerts},
                         what="the GPU alerts")
        starved = next(a for a in alerts.alerts if a.code == "gpu_starved")
        assert starved.run_id == GRPO and "5% busy" in starved.message
        table = app.screen.query_one(RunsTable)
        assert str(table.get_row(GRPO)[0]).endswith("⚠")
        # Eleven minutes without a new event or log line from the running run: stalled.
        later[0] = os.stat(app.store.root / GRPO / "events.jsonl").st_mtime + 11 * 60
        app.model.wake.set()
        await wait_until(pilot, lambda: any(a.code == "stalled" for a in alerts.alerts), what="the stall alert")


async def test_pick_x_field_and_open_a_run_folder_from_elsewhere(tmp_path: Path):
    jl = tmp_path / "custom.jsonl"
    jl.write_text("".join(json.dumps({"iter": i, "wall": 100 - i, "score": i * 2}) + "\n" for i in range(10)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    from tests.support.tui import FIXTURE

    shutil.copytree(FIXTURE / SELFTEST, elsewhere / "my-old-run")
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        rid = app.open_path(elsewhere / "my-old-run")
        table = app.screen.query_one(RunsTable)
        await wait_until(pilot, lambda: table.current_run == rid, what="the outside run")
        assert str(table.get_row(rid)[3]) == "stopped" and table.row_count == 7
        rid = app.open_path(jl)
        await wait_until(pilot, lambda: table.current_run == rid, what="the JSONL")
        assert app.model.entry(rid).reader.x_field == "iter"
        app.action_pick_x()
        await pilot.pause(0.1)
        assert "iter" in app.screen.items and "line" in app.screen.items
        app.screen.dismiss("wall")
        await wait_until(pilot, lambda: (table.current_run or "").startswith("file:custom")
                         and app.model.entry(table.current_run).reader.x_field == "wall", what="the re-read log")
        chart = app.screen.query_one("#chart-0", MetricChart)
        chart.metric = "score"
        await settle(pilot, app)
        assert sorted(chart._traces[0].data.raw_x) == [float(w) for w in range(91, 101)]


async def test_themes_folder_missing_or_broken_falls_back_with_a_message(tmp_path: Path, monkeypatch):
    from aba_tui import themes

    user = tmp_path / "xdg" / "aba" / "themes"
    user.mkdir(parents=True)
    (user / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(themes, "PROJECT_THEMES", tmp_path / "no-themes-here")
    app = make_app(tmp_path)
    assert app.theme == "textual-dark"
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.2)
        messages = [n.message for n in app._notifications]
        assert any("broken.toml: primary='not-a-colour': not a colour" in m for m in messages)
        assert any("theme 'aba-dark' not found" in m for m in messages)
