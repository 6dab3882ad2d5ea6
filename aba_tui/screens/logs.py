"""A run's logs full screen (enter on a run): the same follower as the logs pane, with room."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Header

from aba_tui.panes.footer import KeyFooter
from aba_tui.panes.logs import LogView


class LogScreen(Screen[None]):
    DEFAULT_CSS = """
    LogScreen #log-full {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "Back", id="logscreen.back")]

    def __init__(self, run_dir: Path | None, label: str, file_path: Path | None = None) -> None:
        super().__init__()
        self.run_dir, self.label, self.file_path = run_dir, label, file_path

    def compose(self) -> ComposeResult:
        yield Header()
        yield LogView(id="log-full")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = self.label
        view = self.query_one(LogView)
        view.show(self.run_dir, self.label, self.file_path)
        view.focus()
