"""Modal dialogs of the checkpoint browser: a diff table and the prune confirmation."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from pipeline.checkpoints.browser import CkptRow, DiffLine, PrunePlan, human_bytes, plan_prune


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


class DiffScreen(ModalScreen[None]):
    """Metadata and config differences of two checkpoints; ``a`` toggles all keys / changes only."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss(None)", "Close", id="ckdiff.close"),
        Binding("a", "toggle_all", "All keys", id="ckdiff.all"),
    ]

    def __init__(self, title: str, changed: list[DiffLine], every: list[DiffLine]) -> None:
        super().__init__()
        self.title_text, self.changed, self.every = title, changed, every
        self.show_all = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield DataTable(id="diff-table", zebra_stripes=True, cursor_type="row")
            yield Label("", id="diff-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("section", "key", "A", "B")
        self._fill()
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        lines = self.every if self.show_all else self.changed
        for ln in lines:
            style = "bold" if ln.differs else "dim"
            table.add_row(ln.section, ln.key, Text(_cell(ln.a), style=style), Text(_cell(ln.b), style=style))
        note = f"{len(self.changed)} differences" + (" (all keys shown)" if self.show_all else " · a: all keys")
        self.query_one("#diff-note", Label).update("no differences" if not lines else note)

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._fill()


class PruneScreen(ModalScreen[int | None]):
    """Shows what a prune of one run keeps and deletes and the space it frees; +/- change best-k.
    Dismisses with k when confirmed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Delete", id="ckprune.yes"),
        Binding("n,escape", "dismiss(None)", "Cancel", id="ckprune.no"),
        Binding("plus,equals_sign", "keep(1)", "Keep more", id="ckprune.more"),
        Binding("minus", "keep(-1)", "Keep fewer", id="ckprune.fewer"),
    ]

    def __init__(self, rows: list[CkptRow], metric: str, keep_best: int = 2) -> None:
        super().__init__()
        self.rows, self.metric, self.keep_best = rows, metric, keep_best
        self.plan: PrunePlan = plan_prune(rows, metric, keep_best)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("", id="prune-title", classes="dialog-title")
            with VerticalScroll(id="prune-body"):
                yield Static("", id="prune-plan")
            with Horizontal(classes="buttons"):
                yield Button("Delete (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self._show()
        self.query_one("#no", Button).focus()

    def _show(self) -> None:
        plan = self.plan
        self.query_one("#prune-title", Label).update(
            f"Prune run {plan.run_id}: keep best {self.keep_best} by {self.metric} and the last "
            f"(+/- to change) — frees {human_bytes(plan.bytes_freed)}")
        text = Text()
        for line in plan.describe():
            style = "bold red" if line.startswith("DELETE") else ("yellow" if line.startswith("skip") else "green")
            text.append(line + "\n", style=style)
        if not plan.delete:
            text.append("nothing to delete\n", style="dim")
        self.query_one("#prune-plan", Static).update(text)
        self.query_one("#yes", Button).disabled = not plan.delete

    def action_keep(self, delta: int) -> None:
        self.keep_best = max(0, self.keep_best + delta)
        self.plan = plan_prune(self.rows, self.metric, self.keep_best)
        self._show()

    def action_confirm(self) -> None:
        if self.plan.delete:
            self.dismiss(self.keep_best)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_confirm()
        else:
            self.dismiss(None)
