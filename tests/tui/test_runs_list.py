"""The runs list (a Line-API table) on its own: the cursor follows its run, columns give way in order,
pin marks, state colours that follow the theme, keyboard and mouse, and rows rebuilt only when changed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from itertools import pairwise

import pytest
from rich.color import Color
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from aba_tui.panes.line_table import LineTable
from aba_tui.panes.runs import RUN_MIN, RunsTable
from pipeline.monitor.entries import RunRow

pytestmark = pytest.mark.asyncio
NOW = 1_740_844_800.0


def run(i: int, state: str = "running", **kw: object) -> RunRow:
    rid = f"20250301-{i:04d}-dpo-a-rather-long-run-name-{i}"
    base = RunRow(run_id=rid, kind="run", label=rid, stage="dpo", state=state, step=10 * i + 50, total=500, eta_s=65.0,
                  loss=0.5, started_at=NOW - 3600, ended_at=None, reason=None, alert_level=None, malformed=0,
                  attempt=1, parent=None, phase="train")
    return replace(base, **kw)  # type: ignore[arg-type]


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.highlighted: list[str | None] = []
        self.pins: list[str] = []

    def compose(self) -> ComposeResult:
        yield RunsTable()

    def on_line_table_highlighted(self, event: LineTable.Highlighted) -> None:
        self.highlighted.append(event.key)

    def on_runs_table_pinned(self, event: RunsTable.Pinned) -> None:
        self.pins.append(event.run_id)


@contextlib.asynccontextmanager
async def hosted(height: int = 20) -> AsyncIterator[tuple[Host, Pilot[None], RunsTable]]:
    """A runs list alone in an app 160 columns wide: the app, its pilot and the table."""
    app = Host()
    async with app.run_test(size=(160, height)) as pilot:
        yield app, pilot, app.query_one(RunsTable)


def line_of(table: RunsTable, rid: str) -> str:
    return table.render_line(table.order.index(rid) + 1 - table.scroll_offset.y).text


async def test_the_cursor_stays_on_its_run_as_runs_come_and_go() -> None:
    async with hosted() as (app, pilot, table):
        rows = [run(i) for i in range(5)]
        table.show_rows(rows, NOW)
        assert table.select_run(rows[3].run_id) and table.current_run == rows[3].run_id
        newer = run(9)
        table.show_rows([newer, *rows[:2], *rows[3:]], NOW)  # one came on top, one went above the cursor
        await pilot.pause()
        assert table.current_run == rows[3].run_id and table.cursor_row == 3
        table.show_rows([newer, *rows[:2], rows[4]], NOW)  # the highlighted run went: its neighbour
        await pilot.pause()
        assert table.current_run == rows[4].run_id and app.highlighted[-1] == rows[4].run_id
        assert not table.select_run("no-such-run") and table.current_run == rows[4].run_id
        table.show_rows([], NOW)
        await pilot.pause()
        assert table.current_run is None and table.row_count == 0 and app.highlighted[-1] is None


async def test_narrow_panes_drop_age_then_stage_then_phase_then_cut_the_run_name() -> None:
    async with hosted() as (_app, pilot, table):
        rows = [run(i) for i in range(3)]
        table.show_rows(rows, NOW)
        seen = []
        for width in (160, *range(110, 30, -3)):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            seen.append(table.shown)
            text = line_of(table, rows[0].run_id)
            assert {"step", "state", "loss", "eta"} <= set(table.shown)
            if table.table_width <= table.size.width:
                assert len(text) == table.size.width and "50/500" in text.split()  # step: whole
        assert seen[0] == ("mark", "run", "stage", "state", "phase", "step", "eta", "loss", "age")
        dropped = [next(k for k in a if k not in b) for a, b in pairwise(seen) if a != b]
        assert dropped == ["age", "stage", "phase"]
        cut = line_of(table, rows[0].run_id)
        assert "…" in cut and rows[0].run_id not in cut  # the name cut, with an ellipsis
        assert table.column_width("run") == RUN_MIN + 2
        await pilot.resize_terminal(160, 20)
        await pilot.pause()
        assert "age" in table.shown and rows[0].run_id in line_of(table, rows[0].run_id)


async def test_pin_marks_alerts_and_state_colours_follow_the_theme() -> None:
    async with hosted() as (app, pilot, table):
        rows = [run(0, state="failed", alert_level="error"), run(1)]
        table.show_rows(rows, NOW)
        table.focus()
        table.select_run(rows[1].run_id)
        await pilot.press("space")
        assert app.pins == [rows[1].run_id] and table.pinned == {rows[1].run_id}
        table.show_rows(rows, NOW)
        assert table.get_row(rows[1].run_id)[0] == "● " and table.get_row(rows[0].run_id)[0] == " ✗"
        await pilot.press("space")
        table.show_rows(rows, NOW)
        assert app.pins == [rows[1].run_id] * 2 and table.get_row(rows[1].run_id)[0] == "  "

        def colour(word: str) -> tuple[Color | None, bool]:
            strip = table.render_line(table.order.index(rows[0].run_id) + 1)  # not the cursor row
            seg = next(s for s in strip if word in s.text.split())
            assert seg.style is not None
            return seg.style.color, bool(seg.style.bold)

        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            error = Color.parse(app.current_theme.error or "")
            assert colour("failed") == (error, True) and colour("✗")[0] == error
        assert colour("dpo") != colour("failed")


async def test_keys_and_clicks_move_the_cursor_and_keep_it_in_view() -> None:
    async with hosted(12) as (app, pilot, table):
        rows = [run(i) for i in range(40)]
        table.show_rows(rows, NOW)
        table.focus()
        await pilot.pause()
        seen = table.scrollable_content_region.height - 1  # rows under the header
        await pilot.press("down", "down")
        assert table.cursor_row == 2 and app.highlighted[-1] == rows[2].run_id
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 39 and table.scroll_offset.y == 40 - seen
        assert rows[39].run_id in table.render_line(seen).text  # the last line on screen
        await pilot.press("pageup")
        await pilot.pause()
        assert table.cursor_row == 39 - seen
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_offset.y == 0
        await pilot.press("up")
        assert table.cursor_row == 0
        await pilot.click(RunsTable, offset=(5, 4))  # the 4th row (the header is line 0)
        assert table.current_run == rows[3].run_id and app.highlighted[-1] == rows[3].run_id
        await pilot.click(RunsTable, offset=(5, 0))  # the header: no move
        assert table.current_run == rows[3].run_id


async def test_an_unchanged_row_is_not_rebuilt_and_a_cell_that_outgrows_its_column_widens_it() -> None:
    async with hosted() as (_app, pilot, table):
        rows = [run(i, step=None, total=None) for i in range(6)]
        table.show_rows(rows, NOW)
        await pilot.pause()
        built, narrow = table.rows_rendered, table.column_width("step")
        table.show_rows(rows, NOW)
        await pilot.pause()
        assert table.rows_rendered == built
        rows[2] = replace(rows[2], step=15000, total=50000)
        table.show_rows(rows, NOW)
        await pilot.pause()
        assert table.column_width("step") > narrow and "15000/50000" in line_of(table, rows[2].run_id)
        built = table.rows_rendered
        rows[2] = replace(rows[2], step=15001)  # fits: that row alone
        table.show_rows(rows, NOW)
        await pilot.pause()
        assert table.rows_rendered == built + 1
        rows[2] = replace(rows[2], step=None, total=None)  # narrower again: the column keeps its width
        table.show_rows(rows, NOW)
        await pilot.pause()
        assert table.column_width("step") > narrow and table.rows_rendered == built + 2
