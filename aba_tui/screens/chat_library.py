"""The chat's model library (ctrl+o): every export, baseline and not-yet-exported checkpoint, to load
into a column or to chat with alone, instead of typing a path. Listed in a worker (it walks the runs dir)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from pipeline.export.library import LibraryEntry, library
from pipeline.monitor import fmt

KIND_WORDS = {"export": "export", "baseline": "baseline", "checkpoint": "export first"}


@dataclass(frozen=True)
class LibraryPick:
    entry: LibraryEntry
    where: str  # "A", "B" or "single"


class ModelLibraryScreen(ModalScreen[LibraryPick | None]):
    DEFAULT_CSS = """
    ModelLibraryScreen > Vertical { width: 95%; height: 85%; }
    ModelLibraryScreen DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "pick('A')", "Load in A", id="library.a"),
        Binding("b", "pick('B')", "Load in B", id="library.b", tooltip="also enter"),
        Binding("s", "pick('single')", "Chat alone", id="library.single", tooltip="this model alone, one column"),
        Binding("escape", "dismiss(None)", "Cancel", id="library.cancel", key_display="esc"),
    ]

    def __init__(self, runs_dir: Path, quant_hint: str | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.quant_hint = quant_hint  # the other side's quantisation, to mark what matches it
        self.entries: list[LibraryEntry] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Models · exports and baselines load at once; a checkpoint is exported first",
                        classes="dialog-title")
            yield DataTable(id="library", cursor_type="row", zebra_stripes=True)
            yield Label("reading the runs dir…", id="library-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("what", "model", "quant", "size", "verified", "base", "age"):
            table.add_column(col, key=col)
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="library")
    def _load(self) -> None:
        entries = library(self.runs_dir)
        self.app.call_from_thread(self._show, entries)

    @guarded()
    def _show(self, entries: list[LibraryEntry]) -> None:
        self.entries = entries
        table = self.query_one(DataTable)
        now = time.time()
        for i, e in enumerate(entries):
            quant = Text(e.quant or "-", style="bold" if e.quant and e.quant == self.quant_hint else "")
            verified = {True: "✓", False: "✗", None: "-"}[e.verified]
            table.add_row(KIND_WORDS[e.kind], Text(e.label, overflow="ellipsis", no_wrap=True), quant,
                          fmt.size(e.size) if e.size else "-", verified, e.base, fmt.age(e.created_at, now),
                          key=str(i))
        kinds = {k: sum(e.kind == k for e in entries) for k in KIND_WORDS}
        self.query_one("#library-status", Label).update(
            f"{kinds['export']} exports · {kinds['baseline']} baselines · {kinds['checkpoint']} checkpoints "
            f"not exported yet · a → column A · b or enter → column B · s → chat with it alone"
            if entries else "nothing to chat with yet: train a run, then export a checkpoint (e in the checkpoint "
                            "browser)")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick("B")

    def action_pick(self, where: str) -> None:
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0:
            return
        self.dismiss(LibraryPick(self.entries[table.cursor_row], where))
