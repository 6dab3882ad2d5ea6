"""Open a run folder or a foreign log (HF trainer_state.json or output dir, seed 003
training_log_*.jsonl, any JSONL with numbers, for which the user picks the x field)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from aba_tui.errors import guarded
from pipeline.monitor.foreign import LINE, ForeignError, detect
from pipeline.runs.layout import STATUS_FILE


class OpenPathScreen(ModalScreen[tuple[Path, str | None] | None]):
    """Returns (path, x field or None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="open.cancel")]

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.initial = path
        self.x_fields: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Open a run folder or a log", classes="dialog-title")
            yield Input(self.initial, placeholder="path: run folder, trainer_state.json, HF output dir, *.jsonl",
                        id="open-path")
            yield Select([], prompt="x field", id="open-x", allow_blank=True)
            yield Static("", id="open-info")
            with Horizontal(classes="buttons"):
                yield Button("Open", variant="primary", id="open")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#open-x").display = False
        self.query_one("#open-path", Input).focus()

    def _inspect(self) -> bool:
        """Check the path; for a plain JSONL offer its numeric fields as x. False on error."""
        raw = self.query_one("#open-path", Input).value.strip()
        info = self.query_one("#open-info", Static)
        sel = self.query_one("#open-x", Select)
        path = Path(raw).expanduser()
        if not raw:
            info.update("type a path")
            return False
        if (path / STATUS_FILE).is_file():
            info.update(f"run folder {path.name}")
            sel.display = False
            return True
        try:
            reader = detect(path)
        except ForeignError as exc:
            info.update(str(exc))
            info.add_class("-error")
            sel.display = False
            return False
        info.remove_class("-error")
        info.update(f"{reader.kind}: {reader.path}")
        if reader.kind == "jsonl":
            fields = [*reader.fields, LINE]
            if fields != self.x_fields:
                self.x_fields = fields
                sel.set_options([(f, f) for f in fields])
                sel.value = reader.x_field or LINE
            sel.display = True
        else:
            sel.display = False
        return True

    @guarded()
    def on_input_submitted(self) -> None:
        self._submit()

    @guarded()
    def on_input_changed(self) -> None:
        self._inspect()

    def _submit(self) -> None:
        if not self._inspect():
            return
        path = Path(self.query_one("#open-path", Input).value.strip()).expanduser()
        sel = self.query_one("#open-x", Select)
        x = str(sel.value) if sel.display and sel.value is not Select.BLANK else None
        self.dismiss((path, x))

    @guarded()
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "open":
            self._submit()
        else:
            self.dismiss(None)
