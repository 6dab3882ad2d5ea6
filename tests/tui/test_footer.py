"""The key bar: rebuilt when the keys it shows change, left alone when a bindings signal changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from aba_tui.app import AbaApp
from aba_tui.panes.footer import KeyFooter
from aba_tui.panes.logs import LogView
from aba_tui.panes.runs import RunsTable
from tests.support.tui import make_app, settle, wait_until

pytestmark = pytest.mark.asyncio


def _keys(app: AbaApp) -> list[FooterKey]:
    return list(app.screen.query_one(KeyFooter).query(FooterKey))


def _labels(app: AbaApp) -> list[str]:
    return [k.description for k in _keys(app)]


async def test_the_key_bar_follows_focus_and_is_not_rebuilt_for_the_same_keys(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        app.screen.query_one(RunsTable).focus()
        await wait_until(pilot, lambda: "Pin" in _labels(app), what="the runs pane's keys")
        before = _keys(app)  # held: the same objects, not ids a new key could reuse

        # Textual's signal fires on every focus move; the same keys must not be built again.
        app.screen.bindings_updated_signal.publish(app.screen)
        await pilot.pause(0.2)
        after = _keys(app)
        assert len(after) == len(before) and all(a is b for a, b in zip(after, before, strict=True))

        # Other keys: rebuilt, showing the focused pane's own.
        app.screen.query_one(LogView).focus()
        await wait_until(pilot, lambda: "File" in _labels(app), what="the logs pane's keys")
        assert "Pin" not in _labels(app)
        assert "Quit" in _labels(app)  # the app's keys stay

        app.screen.query_one(RunsTable).focus()
        await wait_until(pilot, lambda: "Pin" in _labels(app), what="the runs pane's keys again")
        assert "File" not in _labels(app)
