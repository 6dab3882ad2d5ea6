"""No exception on the UI loop exits the app: each screen's actions driven with bad field values, and
the app's one error handler (aba_tui/errors.py) turning what still escapes into a notification
(bad input, I/O) or the error modal (a bug)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Input

from aba_tui.errors import guarded
from aba_tui.screens.checkpoints import CheckpointsScreen
from aba_tui.screens.error import ErrorScreen
from aba_tui.screens.launch import LaunchScreen
from aba_tui.screens.open_path import OpenPathScreen
from tests.support.tui import make_app, settle, wait_until

pytestmark = pytest.mark.asyncio

GARBAGE = ("", "-1e999", "nan", "abc", "../../../../nope", "[1, 2", "999999999999999999999")


def _messages(app: App[None]) -> list[str]:
    return [n.message for n in app._notifications]


async def test_the_app_reports_what_an_action_raises_and_keeps_running(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        # Fault injection at our own edge: an action that fails on I/O, then one with a bug.
        def io_failure() -> None:
            raise FileNotFoundError(2, "No such file or directory", str(tmp_path / "gone.json"))

        def bug() -> None:
            raise KeyError("oops")

        app.action_help = io_failure  # type: ignore[method-assign]
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: any("gone.json: No such file or directory" in m for m in _messages(app)),
                         what="the I/O error notification")
        assert app.is_running and not isinstance(app.screen, ErrorScreen)
        app.action_help = bug  # type: ignore[method-assign]
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error modal")
        modal = app.screen
        assert isinstance(modal, ErrorScreen) and "KeyError" in modal.title_text and "in bug" in modal.trace
        await pilot.press("question_mark")  # the same bug again: one modal, not a stack
        assert sum(isinstance(s, ErrorScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorScreen)
        # A palette command goes through the same handler.
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Help")
        cmd.callback()
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), what="the modal from the palette")
        assert app.is_running


async def test_launch_and_open_forms_take_garbage_in_every_field(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    runs_before = sorted(p.name for p in app.store.root.iterdir())
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen)
                         and bool(app.screen.query("#fields Input")), what="the launch form")
        form = app.screen
        inputs = list(form.query("#fields Input").results(Input))
        for junk in ("abc", "-1e999", "[1, 2"):
            for w in inputs:
                w.value = junk
            inputs[0].focus()
            await pilot.press("ctrl+s", "enter")
            assert app.is_running and app.screen is form, junk
            assert str(form.query_one("#launch-error").render()).strip(), f"no error shown for {junk!r}"
        await pilot.press("escape")
        assert sorted(p.name for p in app.store.root.iterdir()) == runs_before  # nothing was launched

        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, OpenPathScreen), what="the open dialog")
        dialog = app.screen
        for junk in (*GARBAGE, "/dev/null", str(tmp_path), "/proc/self/mem"):
            dialog.query_one("#open-path", Input).value = junk
            await pilot.press("enter")
            assert app.is_running and app.screen is dialog, junk
        await pilot.press("escape")
        assert app.is_running


class CkptHost(App[None]):
    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir

    def on_mount(self) -> None:
        self.push_screen(CheckpointsScreen(runs_dir=self.runs_dir, probe_tokens=4))


async def test_checkpoint_browser_keys_on_runs_without_checkpoints(tmp_path: Path) -> None:
    """Every key of the checkpoint browser where there is nothing to act on (a bare App: an exception
    the screen lets out would fail this test)."""
    runs = tmp_path / "runs"
    (runs / "20250101-0000-broken").mkdir(parents=True)
    (runs / "20250101-0000-broken" / "status.json").write_text("{not json")
    app = CkptHost(runs)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = app.screen
        assert isinstance(screen, CheckpointsScreen)
        await wait_until(pilot, lambda: not [w for w in app.workers if w.group == "ckpts-scan" and w.is_running],
                         what="the scan")
        for binding in CheckpointsScreen.BINDINGS:
            assert isinstance(binding, Binding)
            for key in binding.key.split(","):
                await pilot.press(key)
                while app.screen is not screen:  # a dialog opened: cancel it
                    await pilot.press("escape")
                assert app.is_running, key


class _Broken(App[None]):
    """A handler that fails on I/O, and one that is async and has a bug: both guarded."""

    def compose(self) -> ComposeResult:
        yield Button("io", id="io")
        yield Input(id="field")

    @guarded("saving")
    def on_button_pressed(self, _event: Button.Pressed) -> None:
        raise PermissionError(13, "Permission denied", "/root/x.json")

    @guarded()
    async def on_input_submitted(self, _event: Input.Submitted) -> None:
        raise ZeroDivisionError("bug")


async def test_guarded_message_handlers_report_instead_of_exiting() -> None:
    app = _Broken()
    async with app.run_test() as pilot:
        await pilot.click("#io")
        await wait_until(pilot, lambda: any(m == "saving: /root/x.json: Permission denied" for m in _messages(app)),
                         what="the notification")
        app.query_one("#field", Input).focus()
        await pilot.press("x", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error modal")
        modal = app.screen
        assert isinstance(modal, ErrorScreen) and "input submitted: ZeroDivisionError: bug" in modal.title_text
        await pilot.press("escape")
        await pilot.click("#io")  # the handler still runs: its message loop did not die
        await wait_until(pilot, lambda: len([m for m in _messages(app) if m.startswith("saving")]) == 2,
                         what="a second notification")
