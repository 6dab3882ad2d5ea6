"""The A/B chat's models: its defaults (the newest export, and the baseline at its quantisation), the
model library (ctrl+o), one-model chat, and letting the model servers go while the operator is
elsewhere. A base of ChatScreen, which owns the sides, the panels and loading."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Input

from aba_tui.errors import guarded
from aba_tui.screens.chat_library import LibraryPick
from aba_tui.screens.chat_panel import SidePanel
from aba_tui.screens.runs_dir import RunsDirScreen
from pipeline.chat.baseline_client import Baseline, BaselineError, prepare_baseline
from pipeline.chat.session import SIDES, BlindOrder, ChatSide
from pipeline.errors import AbaError
from pipeline.export import QUANTS, ExportInfo, baseline_gguf_path, newest_export
from pipeline.export.library import LibraryEntry


class BaselineReady(Message):
    """The f16 baseline conversion ended: its GGUF, or why not."""

    def __init__(self, baseline: Baseline | None, error: str | None) -> None:
        super().__init__()
        self.baseline, self.error = baseline, error


class ChatModels(RunsDirScreen):
    """What ChatScreen has that this part uses."""

    sides: dict[str, ChatSide | None]
    order: BlindOrder
    autoload: bool
    single: bool
    _export: ExportInfo | None
    _released: set[str]
    _away: bool

    def panel(self, column: str) -> SidePanel:
        raise NotImplementedError

    def panel_of(self, side: str) -> SidePanel:
        raise NotImplementedError

    def load(self, side: str) -> None:
        raise NotImplementedError

    def _retitle(self) -> None:
        raise NotImplementedError

    def _default_b(self) -> str:
        """The newest verified export in the runs dir."""
        self._export = newest_export(self.runs_dir)
        return str(self._export.gguf) if self._export else ""

    def _default_a(self) -> str:
        """The embedded model's baseline at the export's quantisation, so A and B differ by training
        alone (f16 without an export); made once in the background when missing."""
        exp = self._export
        base = str((exp.meta.get("source") or {}).get("base_source") or exp.meta.get("model_source")) if exp else ""
        if exp is not None and base != "embedded":
            self.panel_of("a").set_status(f"B was trained on {base}: pick its baseline with ctrl+o (models)")
            return ""
        quant = str(exp.meta.get("quant") or "f16") if exp else "f16"
        if quant not in QUANTS:  # a GGUF quantised elsewhere: no baseline of it is made here
            self.panel_of("a").set_status(f"B is {quant}: the baseline is made in f16 (or pick one: ctrl+o)")
            quant = "f16"
        path = baseline_gguf_path(quant)
        if path.is_file() and path.with_suffix(".json").is_file():
            return str(path)
        if self.autoload:
            self.panel_of("a").set_status(f"preparing the {quant} baseline (once)…")
            self.run_worker(lambda: self._prepare_baseline(quant), thread=True, group="chat-baseline",
                            exit_on_error=False)
        return ""

    def _prepare_baseline(self, quant: str) -> None:
        # A worker thread: the conversion is a subprocess behind a typed client; the result goes
        # back as a message and only the handler touches widgets.
        try:
            self.post_message(BaselineReady(prepare_baseline(quant=quant), None))
        except BaselineError as exc:
            self.post_message(BaselineReady(None, str(exc)))

    @guarded()
    def on_baseline_ready(self, message: BaselineReady) -> None:
        if message.baseline is None:
            self.panel_of("a").set_status(message.error or "baseline failed", error=True)
            return
        if not self.panel_of("a").model_input.value:
            self.panel_of("a").model_input.value = str(message.baseline.path)
            self.load("a")

    def quant_mismatch(self) -> str | None:
        """Says so when the two loaded GGUFs are quantised differently (the comparison then mixes
        quantisation with training); None when they match or one is unknown (a URL)."""
        a, b = self.sides["a"], self.sides["b"]
        if self.single or a is None or b is None or not a.quant or not b.quant or a.quant == b.quant:
            return None
        if self.order.blind:
            return "the two sides are quantised differently"
        return f"quantisation differs: A is {a.quant}, B is {b.quant}"

    # -- the model library ---------------------------------------------------------------------------
    def action_models(self) -> None:
        from aba_tui.screens.chat_library import ModelLibraryScreen

        other = self.sides["a"] or self.sides["b"]
        self.app.push_screen(ModelLibraryScreen(self.runs_dir, other.quant if other else None), self._picked)

    @guarded()
    def _picked(self, pick: LibraryPick | None) -> None:
        if pick is None:
            return
        if pick.where == "single":
            self.set_single(True)
            column = "A"
        else:
            if pick.where == "B" and self.single:
                self.set_single(False)
            column = pick.where
        side = self.order.shown(column)
        entry = pick.entry
        if entry.path is not None:
            self.panel_of(side).model_input.value = str(entry.path)
            self.load(side)
            return
        # A checkpoint: a verified export at the other side's quantisation (q8_0 alone), then load it.
        other = self.sides["b" if side == "a" else "a"]
        quant = (other.quant if other is not None and other.quant in QUANTS else None) or "q8_0"
        self.panel_of(side).set_status(f"exporting {entry.label} to {quant} (an export run)…")
        self.run_worker(lambda: self._export_then_load(side, entry, quant), thread=True,
                        group=f"chat-load-{side}", exclusive=True, exit_on_error=False)

    def _export_then_load(self, side: str, entry: LibraryEntry, quant: str) -> None:
        from pipeline.export.library import export_checkpoint, wait_for_export

        try:
            run_id = export_checkpoint(self.runs_dir, entry.run_id or "", entry.checkpoint or "", quant)
            self.app.call_from_thread(self.panel_of(side).set_status,
                                      f"exporting {entry.label} to {quant} in run {run_id}…")
            gguf = wait_for_export(self.runs_dir, run_id)
        except AbaError as exc:
            self.app.call_from_thread(self.panel_of(side).set_status, str(exc), True)
            return
        self.app.call_from_thread(self._load_path, side, str(gguf))

    def _load_path(self, side: str, path: str) -> None:
        if self.is_mounted:
            self.panel_of(side).model_input.value = path
            self.load(side)

    def set_single(self, single: bool) -> None:
        """One model in one column (A), or both columns."""
        self.single = single
        self.panel("B").display = not single
        self.query_one("#prompt", Input).placeholder = (
            "ask the model · enter sends · /battery [file] runs a battery" if single else
            "ask both sides · enter sends · /battery [file] runs a battery")
        if single:
            chat, self.sides["b"] = self.sides["b"], None
            if chat is not None:
                self.run_worker(chat.close, thread=True, group="chat-close", exit_on_error=False)
        self._retitle()

    def left(self) -> None:
        """Leaving the chat stops its model servers (a few hundred MB each); coming back loads them again
        (the conversation and the fields stay)."""
        self._away = True
        for side in SIDES:
            chat, self.sides[side] = self.sides[side], None
            if chat is None:
                continue
            self._released.add(side)
            self.panel_of(side).set_status("stopped while you were away")
            self.run_worker(chat.close, thread=True, group="chat-close", exit_on_error=False)

    def on_screen_resume(self) -> None:
        self._away = False
        released, self._released = self._released, set()
        for side in sorted(released):
            if self.panel_of(side).model_input.value.strip():
                self.load(side)
