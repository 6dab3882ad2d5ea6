"""The running AbaApp, typed, for the panes and screens that only ever live inside it."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.message_pump import MessagePump

if TYPE_CHECKING:
    from aba_tui.app import AbaApp


def aba_app(node: MessagePump) -> AbaApp:
    """``node.app`` as an AbaApp (Textual types it as App[object]); no import of the app at run time."""
    return cast("AbaApp", node.app)
