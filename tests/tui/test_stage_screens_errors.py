"""The datagen, evaluation and abliteration screens on run folders that cannot be read: one clear message each (the
handlers are guarded), the app keeps running and the screen stays usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from aba_tui.screens.abliteration import AbliterationScreen
from aba_tui.screens.datagen import DatagenScreen
from pipeline.runs.status import Status, write_status
from tests.support.tui import make_app, wait_until

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    def __init__(self, screen: object) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)  # type: ignore[arg-type]


async def test_a_study_whose_events_cannot_be_read_is_reported_once(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20260101-0000-abliterate-x"
    run.mkdir(parents=True)
    write_status(run, Status(run_id=run.name, stage="abliterate", state="running"))
    (run / "events.jsonl").mkdir()  # a folder where the events file should be
    app = Host(AbliterationScreen(runs_dir=tmp_path / "runs", poll_s=0.05))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: len(app._notifications) > 0, what="the message")
        await pilot.pause(0.5)  # ten polls later: still the one message
        messages = [n.message for n in app._notifications]
        assert len(messages) == 1 and "abliteration study" in messages[0] and "events.jsonl" in messages[0]
        assert isinstance(app.screen, AbliterationScreen)


async def test_a_datagen_trace_with_markup_like_text_is_shown_as_written(tmp_path: Path) -> None:
    data = tmp_path / "runs" / "20260101-0000-datagen-x" / "data"
    data.mkdir(parents=True)
    text = "Close it with [/] or [/bold] and keep [red]this[/red] literal."
    row = {"key": "k1", "prompt_id": "p-[/]001", "category": "complexity", "level": "chosen", "index": 0,
           "messages": [{"role": "user", "content": "[b]"}], "text": text, "finish": "STOP", "error": None,
           "judge": None}
    (data / "items.jsonl").write_text(json.dumps(row) + "\n")
    app = make_app(tmp_path, runs_dir=tmp_path / "runs")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, DatagenScreen), what="the items browser")
        shown = app.screen.query_one("#dg-text", Static)
        await wait_until(pilot, lambda: text in str(shown.render()), what="the trace, as written")
        await pilot.pause(0.3)
        assert isinstance(app.screen, DatagenScreen) and app.is_running
        assert str(app.screen.query_one(DataTable).get_row_at(0)[1]) == "p-[/]001"


async def test_an_eval_report_of_another_shape_is_reported_and_the_screen_stays(tmp_path: Path) -> None:
    from aba_tui.screens.error import ErrorScreen
    from aba_tui.screens.evaluation import EvalScreen

    run = tmp_path / "runs" / "20260101-0000-eval-x"
    run.mkdir(parents=True)
    (run / "eval_report.json").write_text(json.dumps({"per_model": {}, "models": "[/] not a list"}))
    app = Host(EvalScreen(runs_dir=tmp_path / "runs"))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error, told")
        assert "eval reports" in app.screen.title_text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EvalScreen), what="back on the screen")
