"""`?`: the focused pane's help and the keys that work there, then the keys that work everywhere."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown


def help_markdown(screen: Screen) -> str:
    """Markdown for the focus chain of ``screen``: each node's HELP with its active keys."""
    app = screen.app
    chain: list[DOMNode] = []
    node: DOMNode | None = screen.focused or screen
    while node is not None:
        chain.append(node)
        node = node.parent
    keys: dict[int, list[tuple[str, str]]] = {}
    seen: set[tuple[int, str]] = set()
    for key, active in screen.active_bindings.items():
        b = active.binding
        if b.system or (id(active.node), b.action) in seen:
            continue
        seen.add((id(active.node), b.action))
        label = b.description or b.tooltip or b.action
        ident = f"  `{b.id}`" if b.id else ""
        keys.setdefault(id(active.node), []).append((app.get_key_display(b) or key, label + ident))
    parts: list[str] = []
    everywhere: list[tuple[str, str]] = []
    for node in chain:
        rows = keys.get(id(node), [])
        doc = getattr(node, "HELP", None)
        if isinstance(node, Screen) or node is app:
            everywhere += rows
            continue
        if not doc and not rows:
            continue
        parts.append(doc.strip() if doc else f"## {type(node).__name__}")
        if rows:
            parts.append(_table(rows))
    parts.append("## Everywhere")
    parts.append(_table(everywhere))
    parts.append("Binding ids (in backticks) can be re-mapped in the `[keymap]` table of the config file.")
    return "\n\n".join(parts)


def _table(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return "_no keys_"
    lines = ["| key | action |", "|---|---|"]
    lines += [f"| {k.replace('|', '¦')} | {d} |" for k, d in rows]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close", id="help.close"),
    ]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog"):
            yield Markdown(self.markdown)
