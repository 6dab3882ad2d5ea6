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
    # One row per (node, action): several keys for one action read "q, ^q".
    grouped: dict[tuple[int, str], tuple[list[str], str]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if b.system:
            continue
        label = (b.description or b.tooltip or b.action) + (f"  `{b.id}`" if b.id else "")
        slot = grouped.setdefault((id(active.node), b.action), ([], label))
        shown = app.get_key_display(b) or key
        if shown not in slot[0]:
            slot[0].append(shown)
        if b.id:  # prefer the label that names the binding id
            grouped[(id(active.node), b.action)] = (slot[0], label)
    keys: dict[int, list[tuple[str, str]]] = {}
    for (node_id, _action), (shown_keys, label) in grouped.items():
        keys.setdefault(node_id, []).append((", ".join(shown_keys), label))
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
