"""A way back from every screen: `esc` and `q` return to the dashboard (or where the operator came
from), the footer shows it, `q` on the dashboard asks while runs are active, `?` lists the app's keys in
words, and the log pane's newest line is never under its scrollbar."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown

from aba_tui.panes.logs import LogView
from aba_tui.panes.runs import RunsTable
from aba_tui.screens import SCREENS
from aba_tui.screens.confirm import ConfirmScreen
from aba_tui.screens.help import HelpScreen, help_markdown
from tests.support.tui import SFT_FAILED, copy_fixture, make_app, settle, wait_until

pytestmark = pytest.mark.asyncio

# The chat starts model servers as it opens: its way back is tested with them in test_chat_leave.py.
PLAIN = [name for name in SCREENS if name not in ("dashboard", "chat")]


def _footer_keys(app) -> dict[str, str]:
    """Key → label of what the footer shows on the current screen."""
    return {key: a.binding.description for key, a in app.screen.active_bindings.items() if a.binding.show}


@pytest.mark.parametrize("back", ["escape", "q"])
async def test_every_screen_goes_back_to_the_dashboard_and_says_how(tmp_path: Path, back: str):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        for name in PLAIN:
            await pilot.press(SCREENS[name].key or "")
            await wait_until(pilot, lambda n=name: app.current_mode == n and app.screen.is_mounted, what=name)
            shown = _footer_keys(app)
            assert shown.get("escape") == "Back" and shown.get("f1") == "Dashboard", (name, shown)
            await pilot.press(back)
            await wait_until(pilot, lambda: app.current_mode == "dashboard", what=f"{back} on {name}")
            assert app.is_running


async def test_back_walks_the_trail_and_f1_goes_home(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        for key, mode in (("c", "checkpoints"), ("v", "evaluation"), ("g", "datagen")):
            await pilot.press(key)
            await wait_until(pilot, lambda m=mode: app.current_mode == m, what=mode)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "evaluation", what="back to evaluation")
        await pilot.press("c")  # already on the trail: the trail is cut there, no loop
        await wait_until(pilot, lambda: app.current_mode == "checkpoints", what="checkpoints")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "dashboard", what="the dashboard")
        await pilot.press("escape")  # nothing behind the dashboard: it stays
        await pilot.pause(0.1)
        assert app.current_mode == "dashboard" and app.is_running
        await pilot.press("v", "g", "f1")
        await wait_until(pilot, lambda: app.current_mode == "dashboard", what="f1")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.current_mode == "dashboard"


async def test_escape_clears_a_checkpoint_selection_before_going_back(tmp_path: Path):
    from pipeline.checkpoints.store import write_metadata
    from pipeline.config.run import build_config
    from pipeline.runs.store import RunStore

    store = RunStore(tmp_path / "runs")
    _rid, run = store.create_run(build_config("dpo"))
    for step in (10, 20):
        folder = run / "checkpoints" / f"checkpoint-{step:06d}"
        folder.mkdir(parents=True)
        write_metadata(folder, {"step": step, "loss": 1 / step})
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.current_mode == "checkpoints" and bool(getattr(app.screen, "rows", None)),
                         what="the checkpoints")
        await pilot.press("space")
        assert app.screen.selected
        await pilot.press("escape")
        assert app.current_mode == "checkpoints" and not app.screen.selected
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "dashboard", what="the dashboard")


async def test_q_on_the_dashboard_asks_while_runs_are_active(tmp_path: Path):
    app = make_app(tmp_path)  # the fixture's GRPO run is running
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "20250301-1520-grpo-smollm2" in app.screen.question and "going" in app.screen.question
        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the answer")
        assert app.is_running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, what="the app to quit")


async def test_q_quits_at_once_with_nothing_running(tmp_path: Path):
    runs = tmp_path / "empty-runs"
    runs.mkdir()
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.model.passes >= 1, what="a watcher pass")
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="the app to quit")


async def test_help_lists_the_focused_panes_keys_first_in_words(tmp_path: Path):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot, app)
        text = help_markdown(app.screen)
        assert text.startswith("## Runs")
        assert text.index("Stop: save a checkpoint") < text.index("## Dashboard") < text.index("## Everywhere")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.current_mode == "checkpoints", what="checkpoints")
        text = help_markdown(app.screen)
        for internal in ("DataTable", "Cursor up", "Page Left", "`ckpts.", "`app.", "runs.pin"):
            assert internal not in text, internal
        assert text.startswith("## Checkpoints")
        assert "| esc, q | Back: to the screen you came from |" in text
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        assert "Probe" in app.screen.query_one(Markdown).source
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "checkpoints" and not isinstance(app.screen, HelpScreen),
                         what="the help to close")


async def test_a_failed_runs_last_log_line_is_visible_without_scrolling(tmp_path: Path):
    runs = copy_fixture(tmp_path)
    lines = [f"line {i} " + "x" * (150 if i % 3 == 0 else 10) for i in range(40)]
    last = "ValueError: chat template has no {% generation %} block"
    (runs / SFT_FAILED / "stdout.log").write_text("\n".join([*lines, last]) + "\n")
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert app.screen.query_one(RunsTable).select_run(SFT_FAILED)
        log = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: log.line_count == len(lines) + 1, what="the failed run's log")
        await pilot.pause(0.3)
        assert log.show_horizontal_scrollbar  # the wide lines bring the bar …
        visible = log.scrollable_content_region.height
        shown = [log.lines[i] for i in range(round(log.scroll_y), round(log.scroll_y) + visible) if i < log.line_count]
        assert shown[-1] == last  # … and the newest line stays above it
