"""A/B chat: the same prompt to two models side by side, streaming, with timings, votes and batteries.

Each side is a GGUF served by its own process (pipeline.chat.serve) or any OpenAI-compatible URL;
this screen only streams HTTP through pipeline.chat.client from worker threads, so a model crash
ends that side with its error and never the UI. Defaults (chat_models.py): B = the newest verified
export in the runs dir, A = the embedded model's baseline at B's quantisation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Header, Input, Label

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.chat_models import ChatModels
from aba_tui.screens.chat_panel import SidePanel, stats_line
from pipeline.chat.battery import load_battery
from pipeline.chat.client import ChatError, Sampling, parse_sampling
from pipeline.chat.session import SIDES, BlindOrder, ChatSide, Conversation, Generation, SideSpec, Turn, concrete_seed
from pipeline.chat.votes import append_vote, export_dpo, vote_record
from pipeline.config.paths import cache_dir
from pipeline.errors import AbaError
from pipeline.evaluate.questions import BATTERY, set_path
from pipeline.export import ExportInfo
from pipeline.runs.layout import CHAT_DIR, DPO_PAIRS_FILE, EXPORTS_DIR, STATUS_FILE, VOTES_FILE

SAMPLING_FIELDS = (("temperature", "0.7", "temp"), ("top_p", "0.95", "top-p"), ("max_tokens", "256", "max"),
                   ("seed", "", "seed"))


class ChatScreen(ChatModels):
    HELP = """\
## A/B chat
The same question to two models side by side, streamed, with time to first token and tokens/s.
By default A is the embedded model's baseline and B the newest verified export, **at the same
quantisation**, so they differ by training alone (the line above the controls warns when they do not).
`ctrl+o` opens the model library: `a` / `b` load the highlighted model in a column, `s` chats with it
alone; a checkpoint is exported first. Leaving the screen stops both model servers; coming back
starts them again. Votes (F6/F7/F8) become DPO pairs (ctrl+e)."""
    DEFAULT_CSS = """
    ChatScreen #chat-sides { height: 1fr; }
    ChatScreen #chat-controls { height: 3; }
    ChatScreen #chat-controls Input { width: 1fr; }
    ChatScreen #chat-controls .knob { width: 12; }
    ChatScreen #chat-controls Label { padding: 1 0 0 1; width: auto; }
    ChatScreen #chat-mode { height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "stop", "Stop", id="chat.stop", priority=True),
        Binding("ctrl+r", "regenerate", "Regenerate", id="chat.regenerate", priority=True),
        Binding("ctrl+n", "new_chat", "New chat", id="chat.new", priority=True),
        Binding("ctrl+b", "blind", "Blind", id="chat.blind", priority=True),
        Binding("f6", "vote('A')", "Vote A", id="chat.vote-a"),
        Binding("f7", "vote('B')", "Vote B", id="chat.vote-b"),
        Binding("f8", "vote('tie')", "Tie", id="chat.vote-tie"),
        Binding("ctrl+t", "battery", "Battery", id="chat.battery", priority=True),
        Binding("ctrl+e", "export_pairs", "DPO pairs", id="chat.export", priority=True),
        Binding("ctrl+o", "models", "Models", id="chat.models", priority=True,
                tooltip="pick an export, baseline or checkpoint for a column, or to chat with alone"),
    ]

    def __init__(self, runs_dir: Path | str | None = None, side_a: str | None = None, side_b: str | None = None,
                 threads: int | None = None, save_dir: Path | None = None, autoload: bool = True,
                 single: bool = False) -> None:
        super().__init__(runs_dir)
        self.initial = {"a": side_a, "b": side_b}
        self.threads = threads
        self._save_dir = save_dir
        self.autoload = autoload
        self.sides: dict[str, ChatSide | None] = {s: None for s in SIDES}
        self.load_errors: dict[str, str | None] = {s: None for s in SIDES}
        self.conv = Conversation()
        self.order = BlindOrder()
        self.streaming: set[str] = set()
        self._idle_checked = 0.0  # when _flush last looked at the sides while none streamed
        self.last_vote: dict[str, Any] | None = None
        self._io_pool: ThreadPoolExecutor | None = None
        self._io_pending: list[Future[None]] = []
        self._released: set[str] = set()  # sides whose servers stopped when the operator left
        self._away = False
        self.single = single  # one model, one column
        self._export: ExportInfo | None = None  # the newest export, B's default

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat-sides"):
            yield SidePanel("A", "a", id="panel-a")
            yield SidePanel("B", "b", id="panel-b")
        yield Label("", id="chat-mode")
        with Horizontal(id="chat-controls"):
            yield Input(placeholder="system prompt (optional)", id="system")
            for name, default, label in SAMPLING_FIELDS:
                yield Label(label)
                yield Input(default, id=name, classes="knob", placeholder="random" if name == "seed" else "")
        yield Input(placeholder="ask both sides · enter sends · /battery [file] runs a battery", id="prompt")
        yield KeyFooter()

    def panel(self, column: str) -> SidePanel:
        return self.query_one(f"#panel-{column.lower()}", SidePanel)

    def panel_of(self, side: str) -> SidePanel:
        return self.panel(self.order.column(side))

    def on_mount(self) -> None:
        self.set_interval(0.05, self._flush)
        values = dict(self.initial)
        if values["b"] is None:
            values["b"] = "" if self.single else self._default_b()
        if values["a"] is None:
            values["a"] = self._default_a()
        for side in SIDES:
            if values[side]:
                self.panel_of(side).model_input.value = values[side] or ""
                if self.autoload:
                    self.load(side)
        self.set_single(self.single)
        self.query_one("#prompt", Input).focus()

    def _retitle(self) -> None:
        for side in SIDES:
            p = self.panel_of(side)
            p.side = side
            chat = self.sides[side]
            name = (chat.label + (f" ({chat.quant})" if chat.quant else "")) if chat else "(no model)"
            title = f"Model {p.column}" if self.order.blind else f"{p.column} · {name}"
            p.render_conversation(self.conv, title)
            p.model_input.display = not self.order.blind
        if self.single:
            mode = "ONE MODEL · ctrl+o picks another or a second one (b) · ctrl+t battery"
        elif self.order.blind:
            mode = "BLIND: names hidden, sides shuffled · F6 A · F7 B · F8 tie"
        else:
            mode = "F6/F7/F8 vote A/B/tie · ctrl+b blind · ctrl+t battery · ctrl+e DPO pairs · ctrl+o models"
        warn = self.quant_mismatch()
        text = Text(f"⚠ {warn} · ", style="bold yellow") if warn else Text()
        text.append(f"{mode} · saving to {self.save_dir()}")
        self.query_one("#chat-mode", Label).update(text)

    def save_dir(self) -> Path:
        if self._save_dir is not None:
            return self._save_dir
        for side in ("b", "a"):
            chat = self.sides[side]
            if chat and chat.spec.kind == "gguf":
                p = Path(chat.spec.target).resolve()
                if p.parent.name == EXPORTS_DIR and (p.parent.parent / STATUS_FILE).is_file():
                    return p.parent.parent / CHAT_DIR
        return cache_dir() / "chat"

    # -- loading sides -------------------------------------------------------------------------------
    def load(self, side: str) -> None:
        value = self.panel_of(side).model_input.value
        self.panel_of(side).set_status("loading…")
        # self.sides belongs to the UI thread: the worker gets the old side to close, and hands the new one back.
        old, self.sides[side] = self.sides[side], None
        self.run_worker(lambda: self._load(side, value, old), thread=True, exclusive=True,
                        group=f"chat-load-{side}", exit_on_error=False)

    def _load(self, side: str, value: str, old: ChatSide | None) -> None:
        if old is not None:
            old.close()
        try:
            chat = ChatSide(SideSpec.parse(value), threads=self.threads)
            chat.start()
        except AbaError as exc:
            self.app.call_from_thread(self._loaded, side, None, str(exc))
            return
        self.app.call_from_thread(self._loaded, side, chat, None)

    @guarded()
    def _loaded(self, side: str, chat: ChatSide | None, error: str | None) -> None:
        if not self.is_mounted or self._away:  # closed, or left while it loaded: no server for nobody
            if chat:
                self.run_worker(chat.close, thread=True, group="chat-close", exit_on_error=False)
                self._released.add(side)
            return
        self.sides[side], self.load_errors[side] = chat, error
        p = self.panel_of(side)
        if chat is None:
            p.set_status(error or "failed", error=True)
        else:
            where = f"pid {chat.process.proc.pid}" if chat.process and chat.process.proc else chat.spec.target
            p.set_status("ready · " + ("" if self.order.blind else f"{chat.label} · ") + where)
        self._retitle()

    @guarded()
    def on_input_submitted(self, event: Input.Submitted) -> None:
        wid = event.input.id or ""
        if wid.startswith("model-"):
            column = wid[-1].upper()
            self.load(self.order.shown(column))
        elif wid == "prompt":
            text = event.value.strip()
            if text and self._send(text):
                event.input.value = ""

    # -- asking --------------------------------------------------------------------------------------
    def sampling(self) -> Sampling:
        return parse_sampling({name: self.query_one(f"#{name}", Input).value for name, _, _ in SAMPLING_FIELDS})

    def _send(self, text: str) -> bool:
        if self.streaming:
            self.notify("still answering: wait, or stop with ctrl+s", severity="warning")
            return False
        if text.startswith("/battery"):
            self.action_battery(text[len("/battery"):].strip() or None)
            return True
        if not any(self.sides.values()):
            self.notify("no side is loaded: give a .gguf path or a URL and press enter in its field",
                        severity="error")
            return False
        try:
            sampling = self.sampling()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return False
        self.conv.system = self.query_one("#system", Input).value
        self._ask(self.conv.ask(text), sampling)
        return True

    def _ask(self, turn: Turn, sampling: Sampling) -> None:
        sampling = concrete_seed(sampling)  # both sides get the same seed, and the turn records it
        for side in SIDES:
            if self.single and side == "b":
                turn.errors[side] = "one model only"
                continue
            chat = self.sides[side]
            if chat is None:
                turn.errors[side] = self.load_errors[side] or "no model loaded on this side"
                continue
            if chat.failure():
                turn.errors[side] = chat.failure()
                continue
            messages = self.conv.messages(side)
            turn.generated[side] = Generation(chat.spec.describe(), sampling)
            p = self.panel_of(side)
            p.streaming, p.partial = True, ""
            p.take()
            self.streaming.add(side)
            self.run_worker(lambda s=side, c=chat, m=messages, panel=p: self._stream(s, c, m, sampling, turn, panel),
                            thread=True, group=f"chat-stream-{side}", exit_on_error=False)
        self._retitle()

    def _stream(self, side: str, chat: ChatSide, messages: list[dict[str, str]], sampling: Sampling,
                turn: Turn, p: SidePanel) -> None:
        # A worker thread: no DOM queries here; the panel was resolved on the UI thread and push() is locked.
        stream = chat.stream(messages, sampling)
        error = None
        try:
            for piece in stream:
                p.push(piece)
        except ChatError as exc:
            error = chat.explain(exc)
        self.app.call_from_thread(self._finished, side, turn, stream.text, stream.stats.to_dict(), error)

    @guarded()
    def _finished(self, side: str, turn: Turn, text: str, stats: dict[str, Any], error: str | None) -> None:
        turn.answers[side], turn.stats[side], turn.errors[side] = text, stats, error
        self.streaming.discard(side)
        if not self.is_mounted:
            return
        p = self.panel_of(side)
        p.take()
        p.streaming = False
        p.render_conversation(self.conv, p.border_title or "")
        p.set_stats(stats)
        if error:
            p.set_status(error, error=True)

    @guarded()
    def _flush(self) -> None:
        # 20 Hz while a side streams; otherwise only a dead model process is news, looked for once a second
        # (the idle screen's ticks cost no DOM queries and no log reads).
        now = time.monotonic()
        if not self.streaming and now - self._idle_checked < 1.0:
            return
        self._idle_checked = now
        for side in SIDES:
            p = self.panel_of(side)
            new = p.take()
            if new:
                p.partial += new
                p.render_conversation(self.conv, p.border_title or "", live=p.partial)
            chat = self.sides[side]
            if chat is not None and side not in self.streaming and chat.process is not None:
                died = chat.failure()
                if died and not str(p.query_one(".side-status", Label).render()).startswith(died[:20]):
                    p.set_status(died, error=True)

    # -- actions -------------------------------------------------------------------------------------
    def action_stop(self) -> None:
        for chat in self.sides.values():
            if chat is not None:
                chat.stop_stream()

    def action_regenerate(self) -> None:
        if self.streaming:
            self.notify("still answering: stop first (ctrl+s)", severity="warning")
            return
        try:
            sampling = self.sampling()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        turn = self.conv.regenerate()
        if turn is None:
            self.notify("nothing to regenerate yet", severity="warning")
            return
        self._ask(turn, sampling)

    def action_new_chat(self) -> None:
        if self.streaming:
            self.notify("still answering: stop first (ctrl+s)", severity="warning")
            return
        self.conv.clear()
        for side in SIDES:
            self.panel_of(side).set_stats({})
        self._retitle()

    def action_blind(self) -> None:
        if self.single:
            self.notify("blind mode needs two models: ctrl+o, then b, loads a second one", severity="warning")
            return
        if self.streaming:
            self.notify("still answering: stop first (ctrl+s)", severity="warning")
            return
        if self.order.blind:
            self.order.stop()
        else:
            self.order.start()
        self.conv.clear()
        for side in SIDES:
            self.panel_of(side).set_stats({})
            chat = self.sides[side]
            if chat is not None and not self.order.blind:
                self._loaded(side, chat, None)
        if self.order.blind:
            for column in ("A", "B"):
                self.panel(column).set_status("ready" if self.sides[self.order.shown(column)] else "not loaded")
        self._retitle()

    def action_vote(self, vote: str) -> None:
        if self.single:
            self.notify("a vote needs two models: ctrl+o, then b, loads a second one", severity="warning")
            return
        if not self.conv.turns or self.streaming:
            self.notify("vote after both sides have answered", severity="warning")
            return
        turn = self.conv.turns[-1]
        if turn.voted:
            self.notify(f"this answer already has a vote ({turn.voted})", severity="warning")
            return
        # Each side's model and sampling come from turn.generated (what the answer was made with); the
        # form is not read here, so a half-typed field cannot break a vote. Each side's request (its
        # own history) is the prompt a later-turn vote exports with.
        specs = {s: (c.spec if c else SideSpec("gguf", "", "(none)")) for s, c in self.sides.items()}
        record = vote_record(turn, len(self.conv.turns) - 1, self.conv.system, vote, self.order, specs,
                             messages={s: self.conv.messages(s) for s in SIDES})
        turn.voted, self.last_vote = record["vote"], record  # claimed now: a second key press is refused
        made = record["sides"]
        reveal = f" (A was {made[self.order.shown('A')]['label']}, B was {made[self.order.shown('B')]['label']})" \
            if self.order.blind else ""
        path = self.save_dir() / VOTES_FILE
        self._io(lambda: append_vote(path, record), f"vote {record['vote']} saved to {path}{reveal}",
                 f"{path}: cannot save the vote", undo=lambda: setattr(turn, "voted", None))

    def action_export_pairs(self) -> None:
        votes, out = self.save_dir() / VOTES_FILE, self.save_dir() / DPO_PAIRS_FILE

        def export() -> str:
            if not votes.is_file():
                raise FileNotFoundError(f"no votes yet in {votes}")
            return export_dpo([votes], out).line() + " · use it as dpo.data"

        self._io(export, None, f"{self.save_dir()}: cannot write the DPO pairs")

    def _io(self, job: Callable[[], Any], done: str | None, failed: str,
            undo: Callable[[], None] | None = None) -> None:
        """File I/O off the event loop, one job at a time in order (votes append in the order given)."""
        if self._io_pool is None:
            self._io_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-io")

        def run() -> None:
            try:
                out = job()
            except Exception as exc:  # reported, never lost in the pool
                why = (exc.strerror if isinstance(exc, OSError) and exc.strerror and exc.filename else None) or str(exc)
                self.app.call_from_thread(self._io_failed, f"{failed} ({why})", undo)
                return
            self.app.call_from_thread(self.notify, done or str(out), timeout=10 if done is None else 5)

        self._io_pending.append(self._io_pool.submit(run))

    def _io_failed(self, message: str, undo: Callable[[], None] | None) -> None:
        if undo is not None:
            undo()
        self.notify(message, severity="error")

    def io_idle(self) -> bool:
        """True when every vote and export asked for has been written (tests wait on it)."""
        self._io_pending = [f for f in self._io_pending if not f.done()]
        return not self._io_pending

    def action_battery(self, path: str | None = None) -> None:
        endpoints = {s: c.endpoint for s, c in self.sides.items() if c is not None and c.endpoint is not None}
        if not endpoints:
            self.notify("load at least one side first", severity="error")
            return
        try:
            battery = load_battery(path or set_path(BATTERY))  # one battery: the eval stage's
            sampling = self.sampling()
        except (AbaError, ValueError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        from aba_tui.screens.chat_battery import BatteryScreen

        self.app.push_screen(BatteryScreen(battery, endpoints, sampling, self.save_dir()))

    def on_unmount(self) -> None:
        if self._io_pool is not None:
            self._io_pool.shutdown(wait=True)  # a vote being written is finished, not lost
        for side in SIDES:
            chat, self.sides[side] = self.sides[side], None
            if chat is not None:
                chat.close()


__all__ = ["ChatScreen", "parse_sampling", "stats_line"]
