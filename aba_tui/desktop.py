"""The terminal's own notifications: the bell and the desktop notification escapes (OSC 9, OSC 777).

Both travel in the output stream, so they reach the operator's terminal over SSH. Inside tmux an
escape is wrapped in tmux's passthrough (shown when the pane allows it: ``allow-passthrough on``).
"""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f;]")  # a BEL, ESC or ";" inside would end or split the sequence


def _clean(text: str, limit: int = 200) -> str:
    return _CONTROL.sub(" ", text)[:limit].strip()


def desktop_escape(title: str, body: str, mode: str = "both", tmux: bool | None = None) -> str:
    """The escape sequence(s) asking the terminal for a desktop notification; "" for mode off."""
    title, body = _clean(title, 80), _clean(body)
    seqs = []
    if mode in ("osc9", "both"):
        seqs.append(f"\x1b]9;{title}: {body}\x07")  # iTerm2, WezTerm, Windows Terminal, kitty, ConEmu
    if mode in ("osc777", "both"):
        seqs.append(f"\x1b]777;notify;{title};{body}\x07")  # rxvt, foot, VTE terminals, Ghostty
    if tmux is None:
        tmux = bool(os.environ.get("TMUX"))
    if tmux:
        seqs = ["\x1bPtmux;" + s.replace("\x1b", "\x1b\x1b") + "\x1b\\" for s in seqs]
    return "".join(seqs)
