"""One column of the A/B chat: model field, status, transcript and per-answer stats.

Streaming threads never touch widgets: they append to ``pending`` under a lock and the screen's
timer folds it into the transcript at ~20 Hz, so a fast model never floods the event loop. While an
answer streams only that answer is re-drawn (its own Static): re-wrapping the whole transcript on every
tick made the UI's CPU grow with the conversation, taken from the models' cores on a small machine
(benchmarks/bench_chat_ui.py).
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, Static

from pipeline.chat.session import Conversation


def stats_line(stats: dict[str, Any]) -> str:
    if not stats:
        return ""
    parts = []
    if stats.get("ttft_s") is not None:
        parts.append(f"TTFT {stats['ttft_s']:.2f} s")
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    parts.append(f"{stats.get('tokens', 0)} tokens")
    if stats.get("finish_reason"):
        parts.append(str(stats["finish_reason"]))
    return " · ".join(parts)


class SidePanel(Vertical):
    """Column ``column`` ("A"/"B"), showing real side ``side`` ("a"/"b") of the conversation."""

    DEFAULT_CSS = """
    SidePanel { width: 1fr; border: round $secondary 60%; }
    SidePanel .side-model { margin: 0; }
    SidePanel .side-status { height: 1; padding: 0 1; color: $text-muted; }
    SidePanel .side-scroll { height: 1fr; }
    SidePanel .side-text { padding: 0 1; }
    SidePanel .side-live { padding: 0 1; display: none; }
    SidePanel .side-stats { height: 1; padding: 0 1; color: $accent; }
    """

    def __init__(self, column: str, side: str, model: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.column, self.side = column, side
        self.initial_model = model
        self.pending: list[str] = []
        self._pending_lock = threading.Lock()  # not `lock`: Widget.lock is Textual's own async lock
        self.streaming = False
        self.partial = ""
        self._history_key: tuple[Any, ...] | None = None  # what .side-text shows while .side-live streams

    def compose(self) -> ComposeResult:
        yield Input(self.initial_model, placeholder="path to a .gguf, or http://host:port/v1 [model] (enter loads)",
                    classes="side-model", id=f"model-{self.column.lower()}")
        yield Label("not loaded", classes="side-status")
        with VerticalScroll(classes="side-scroll"):
            yield Static("", classes="side-text")
            yield Static("", classes="side-live")
        yield Label("", classes="side-stats")

    @property
    def model_input(self) -> Input:
        return self.query_one(Input)

    def set_status(self, text: str, error: bool = False) -> None:
        label = self.query_one(".side-status", Label)
        label.update(Text(text, style="bold red" if error else ""))

    def set_stats(self, stats: dict[str, Any]) -> None:
        self.query_one(".side-stats", Label).update(stats_line(stats))

    def push(self, piece: str) -> None:
        """From a streaming thread."""
        with self._pending_lock:
            self.pending.append(piece)

    def take(self) -> str:
        with self._pending_lock:
            text = "".join(self.pending)
            self.pending.clear()
        return text

    def render_conversation(self, conv: Conversation, title: str, live: str | None = None) -> None:
        """The transcript; with ``live``, the last turn's answer so far (only it is re-drawn while the
        rest of the transcript stays as it was)."""
        self.border_title = title
        if live is not None and self.streaming and conv.turns:
            last = conv.turns[-1]
            key = (id(conv), len(conv.turns), id(last), title)
            if key != self._history_key:
                self.query_one(".side-text", Static).update(self._transcript(conv, upto_live=True))
                self._history_key = key
            answer = Text("model: ", style="bold green")
            answer.append(live)
            answer.append("▌", style="blink")
            live_view = self.query_one(".side-live", Static)
            live_view.update(answer)
            live_view.display = True
        else:
            self._history_key = None
            self.query_one(".side-text", Static).update(self._transcript(conv, upto_live=False))
            live_view = self.query_one(".side-live", Static)
            live_view.update("")
            live_view.display = False  # takes no line between answers
        self.query_one(".side-scroll", VerticalScroll).scroll_end(animate=False)

    def _transcript(self, conv: Conversation, upto_live: bool) -> Text:
        """Every turn; with ``upto_live``, the last one only up to where its streaming answer starts."""
        text = Text()
        for i, turn in enumerate(conv.turns):
            last = i == len(conv.turns) - 1
            text.append("you: ", style="bold")
            text.append(turn.user + "\n")
            if last and upto_live:
                text.rstrip()  # the live answer, "model: " and all, is the Static below
                break
            text.append("model: ", style="bold green")
            answer = turn.answers[self.side]
            if answer:
                text.append(answer)
            if turn.errors[self.side]:
                text.append(("\n" if answer else "") + f"✗ {turn.errors[self.side]}", style="bold red")
            elif last and self.streaming:
                text.append("▌", style="blink")
            text.append("\n\n")
        return text
