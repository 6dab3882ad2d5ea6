"""The error modal: an unexpected exception on the UI loop, with its traceback; the app keeps running."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ErrorScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "dismiss(None)", "Close", id="error.close")]
    AUTO_FOCUS = "#close"
    DEFAULT_CSS = """
    ErrorScreen .error-trace { height: auto; max-height: 20; }
    """

    def __init__(self, title: str, trace: str) -> None:
        super().__init__()
        self.title_text = title
        self.trace = trace

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Something went wrong (the app keeps running): {self.title_text}", classes="dialog-title",
                        markup=False)  # an exception's message is text ("[/]" in it must not fail again)
            with VerticalScroll(classes="error-trace"):
                yield Static(self.trace, markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Close (esc)", variant="primary", id="close")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)
