"""SVG snapshots of the main screen in each shipped theme, on the recorded runs fixture.

Stable by construction: a frozen clock, UTC, the fixture's fixed events, a fake NVML with recorded
history and a fixed CPU/RAM reading, and no toasts. Regenerate after an intended UI change with
``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aba_tui.settings import Settings
from tests.support.tui import copy_fixture, make_app, settle


@pytest.fixture
def frozen_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # the header shows the runs dir, absolute: keep it "~/runs"
    copy_fixture(tmp_path)
    yield tmp_path
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("theme", ["aba-dark", "aba-light", "aba-contrast"])
def test_main_screen(theme: str, frozen_env: Path, snap_compare):
    settings = Settings(theme=theme)
    settings.alerts.notify = False
    app = make_app(frozen_env, runs_dir=Path("runs"), settings=settings)

    async def loaded(pilot) -> None:
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=(160, 48), run_before=loaded)


@pytest.mark.parametrize("size", [(100, 30), (160, 45)])
def test_main_screen_at_common_terminal_sizes(size: tuple[int, int], frozen_env: Path, snap_compare):
    settings = Settings(theme="aba-dark")
    settings.alerts.notify = False
    app = make_app(frozen_env, runs_dir=Path("runs"), settings=settings)

    async def loaded(pilot) -> None:
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=loaded)


@pytest.mark.asyncio
async def test_at_100x30_the_runs_keep_step_state_loss_and_eta_and_the_charts_their_room(frozen_env: Path):
    from aba_tui.panes.charts_pane import ChartsPane
    from aba_tui.panes.runs import RunsTable

    settings = Settings(theme="aba-dark")
    settings.alerts.notify = False
    app = make_app(frozen_env, runs_dir=Path("runs"), settings=settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        labels = table.labels
        assert {"STEP", "STATE", "LOSS", "ETA"} <= set(labels)
        assert table.table_width <= table.size.width
        assert app.screen.query_one(ChartsPane).size.height >= 10
        assert not app.screen.query_one("#telemetry").display  # it gave way first
        await pilot.press("4")  # the operator's choice: back, and the runs list drops age, then stage
        await pilot.pause(0.3)
        labels = table.labels
        assert {"STEP", "STATE", "LOSS", "ETA"} <= set(labels) and "AGE" not in labels
        await pilot.resize_terminal(160, 45)
        await pilot.pause(0.3)
        assert app.screen.query_one("#telemetry").display
        assert "AGE" in table.labels
