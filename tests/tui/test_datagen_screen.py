"""The datagen items browser in the app: `g` opens it, rows per item, level filter, detail with the 9 scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from aba_tui.screens.datagen import DatagenScreen
from pipeline.judge.dimensions import DIMENSIONS
from tests.support.tui import make_app, wait_until

pytestmark = pytest.mark.asyncio


def _run(runs: Path, name: str) -> Path:
    data = runs / name / "data"
    data.mkdir(parents=True)
    msgs = [{"role": "user", "content": "How do I plan a week of dinners?"}]
    rows = [
        {"key": "k1", "prompt_id": "complexity-001", "category": "complexity", "level": "chosen", "index": 0,
         "messages": msgs, "text": "Step 1: list the constraints.", "finish": "STOP", "error": None,
         "judge": {"scores": {d: 0.8 for d in DIMENSIONS}, "missing_reason": None}},
        {"key": "k2", "prompt_id": "complexity-001", "category": "complexity", "level": "rejected", "index": 1,
         "messages": msgs, "text": "Just cook pasta.", "finish": "STOP", "error": None,
         "judge": {"scores": {}, "missing_reason": "unparsable JSON: 'oops'"}},
        {"key": "k3", "prompt_id": "safety-001", "category": "safety", "level": "adequate", "index": 2,
         "messages": msgs, "text": None, "finish": "blocked",
         "error": {"kind": "blocked", "message": "candidate blocked (finish_reason=SAFETY)",
                   "category": "dangerous_content"}, "judge": None},
        {"key": "k4", "prompt_id": "complexity-002", "category": "complexity", "level": "chosen", "index": 3,
         "messages": msgs, "text": "First, the budget. Then the", "finish": "MAX_TOKENS", "truncated": True,
         "thoughts": "**Planning**", "error": None, "judge": None},
    ]
    (data / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"torn')
    return runs / name


async def test_items_browser(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _run(runs, "20260101-0000-datagen-a")
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, DatagenScreen), what="the items browser")
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 4, what="four items")
        status = str(screen.query_one("#dg-status", Static).render())
        assert "4 items" in status and "complete 2, cut 1 · judged 1, missing 3" in status
        assert "mean score 0.80" in status
        assert [str(table.get_row_at(i)[4]) for i in range(4)] == ["STOP", "STOP", "blocked: dangerous_content",
                                                                    "cut (MAX_TOKENS)"]
        text = str(screen.query_one("#dg-text", Static).render())
        assert "Step 1: list the constraints." in text and "» user: How do I plan" in text
        assert f"{DIMENSIONS[0]:<24} 0.80" in text
        await pilot.press("down")
        await wait_until(pilot, lambda: "judgement missing: unparsable" in str(
            screen.query_one("#dg-text", Static).render()), what="the missing judgement")
        assert "helpfulness              missing" in str(screen.query_one("#dg-text", Static).render())
        await pilot.press("down", "down")
        await wait_until(pilot, lambda: "cut by the output cap" in str(screen.query_one("#dg-text", Static).render()),
                         what="the cut item")
        assert "thoughts (Gemini's summary): **Planning**" in str(screen.query_one("#dg-text", Static).render())
        await pilot.press("l")  # chosen only
        await wait_until(pilot, lambda: table.row_count == 2, what="the level filter")
        await app.action_quit()
