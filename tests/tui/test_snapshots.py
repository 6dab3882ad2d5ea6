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
    monkeypatch.chdir(tmp_path)  # the header shows the runs dir: keep it "runs"
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
