"""`?`: the focused pane's keys first, then the screen's, then the keys that work everywhere, in words.

Only the app's own keys are listed (bindings with an id): a table's cursor keys and Textual's built-ins
are the widgets' business and would bury the ones that matter.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown

EVERYWHERE_EXTRA = (("tab, shift+tab", "move between panes and fields"),
                    ("ctrl+p", "command palette: every action by name"))
FOOTNOTE = "Keys can be re-mapped in the `[keymap]` table of the config file (docs/tui.md lists their names)."


def _words(b: Binding) -> str:
    text = b.description or b.action
    return f"{text}: {b.tooltip}" if b.tooltip and b.tooltip.lower() != text.lower() else text


def screen_help(screen: Screen) -> str:
    """A screen's own HELP, else the title and description of its entry in the screens registry."""
    doc = getattr(screen, "HELP", None)
    if isinstance(doc, str) and doc.strip():
        return doc.strip()
    from aba_tui.screens import SCREENS

    for entry in SCREENS.values():
        if entry.target.rsplit(":", 1)[-1] == type(screen).__name__:
            return f"## {entry.title}\n{entry.description[0].upper()}{entry.description[1:]}."
    return f"## {screen.title or type(screen).__name__}"


def help_markdown(screen: Screen) -> str:
    """Markdown for ``screen``: the focused pane (its HELP and keys), the screen, then everywhere."""
    app = screen.app
    chain: list[DOMNode] = []
    node: DOMNode | None = screen.focused or screen
    while node is not None and node is not screen and node is not app:
        chain.append(node)
        node = node.parent
    # One row per (owner, action): several keys for one action read "f5, ^r".
    rows: dict[int, dict[str, tuple[list[str], str]]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if b.system or not b.id:
            continue
        slot = rows.setdefault(id(active.node), {}).setdefault(b.action, ([], _words(b)))
        shown = app.get_key_display(b) or key
        if shown not in slot[0]:
            slot[0].append(shown)

    def table(node_id: int, extra: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
        return [(", ".join(keys), words) for keys, words in rows.get(node_id, {}).values()] + list(extra)

    parts: list[str] = []
    loose: list[tuple[str, str]] = []  # keys of a widget without HELP go with the next section
    for node in chain:  # the focused widget and the panes around it, innermost first
        doc = getattr(node, "HELP", None)
        loose += table(id(node))
        if doc:
            parts += [doc.strip(), _table(loose)]
            loose = []
    if loose:
        parts += ["## This pane", _table(loose)]
    parts += [screen_help(screen), _table(table(id(screen)))]
    parts += ["## Everywhere", _table(table(id(app), EVERYWHERE_EXTRA)), FOOTNOTE]
    return "\n\n".join(p for p in parts if p)


def _table(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    lines = ["| key | what it does |", "|---|---|"]
    lines += [f"| {k.replace('|', '¦')} | {d.replace('|', '¦')} |" for k, d in rows]
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
