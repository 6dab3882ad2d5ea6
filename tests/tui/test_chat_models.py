"""The A/B chat in the app, with real model processes: both sides at the same quantisation by default
(and a warning when they differ), the model library instead of typing a path, one-model chat, and the
model servers stopped when the operator leaves the screen and started again on the way back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label

from aba_tui.screens.chat import ChatScreen
from aba_tui.screens.chat_library import ModelLibraryScreen
from pipeline.atomic import atomic_write_json
from pipeline.config.run import build_config
from pipeline.runs.procinfo import alive
from pipeline.runs.status import read_status_raw, write_status
from pipeline.runs.store import RunStore
from tests.support.export import shared_baseline
from tests.support.tui import make_app, wait_until

pytestmark = pytest.mark.asyncio


def _export_run(store: RunStore, gguf: Path) -> Path:
    """A finished export run whose q8_0 GGUF is a copy of the embedded model's q8_0 baseline."""
    _rid, path = store.create_run(build_config("export"))
    st = read_status_raw(path)
    st.state = "succeeded"
    write_status(path, st)
    (path / "exports").mkdir()
    dst = path / "exports" / "r-best-q8_0.gguf"
    shutil.copyfile(gguf, dst)
    source = {"run": "r", "checkpoint": "best", "base_source": "embedded"}
    atomic_write_json(dst.with_suffix(".json"), {"quant": "q8_0", "size_bytes": dst.stat().st_size,
                                                 "created_at": 1.0, "verify": {"ok": True}, "source": source})
    return dst


def _pids(screen: ChatScreen) -> list[int]:
    return [c.process.proc.pid for c in screen.sides.values() if c and c.process and c.process.proc]


async def test_same_quant_by_default_a_library_one_model_and_no_servers_left_behind(tmp_path: Path) -> None:
    q8, f16 = shared_baseline("q8_0"), shared_baseline("f16")
    store = RunStore(tmp_path / "runs")
    export = _export_run(store, q8)
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.model.passes >= 1, what="the watcher")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen), what="the chat")
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        await wait_until(pilot, lambda: all(chat.sides.values()), timeout=60, what="both sides")
        assert chat.sides["b"].spec.target == str(export) and chat.sides["a"].spec.target == str(q8)
        assert chat.sides["a"].quant == chat.sides["b"].quant == "q8_0" and chat.quant_mismatch() is None

        # A side at another quantisation: the line above the controls says so.
        chat.panel_of("a").model_input.value = str(f16)
        chat.load("a")
        await wait_until(pilot, lambda: chat.sides["a"] is not None and chat.sides["a"].quant == "f16",
                         timeout=60, what="the f16 side")
        assert "quantisation differs: A is f16, B is q8_0" in str(chat.query_one("#chat-mode", Label).render())

        # Leaving stops both servers; coming back starts them again with the same models.
        before = _pids(chat)
        assert len(before) == 2 and all(alive(p) for p in before)
        chat.query_one("#prompt", Input).focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "dashboard", what="the dashboard")
        await wait_until(pilot, lambda: not any(alive(p) for p in before), timeout=15, what="the servers to stop")
        await pilot.press("a")
        await wait_until(pilot, lambda: app.screen is chat and all(chat.sides.values()), timeout=60,
                         what="the models back")
        assert chat.sides["a"].spec.target == str(f16) and set(_pids(chat)).isdisjoint(before)

        # The library instead of a path: the export and both baselines; `s` chats with one alone.
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelLibraryScreen) and app.screen.entries,
                         what="the library")
        lib = app.screen
        labels = [e.label for e in lib.entries]
        assert labels[0].endswith("r-best-q8_0")
        assert {"SmolLM2-135M-Instruct-q8_0", "SmolLM2-135M-Instruct-f16"} <= set(labels)
        lib.query_one(DataTable).move_cursor(row=0)
        old = _pids(chat)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.screen is chat and chat.single and chat.sides["a"] is not None
                         and chat.sides["a"].spec.target == str(export), timeout=60, what="one model")
        assert not chat.panel("B").display and chat.sides["b"] is None
        await wait_until(pilot, lambda: not any(alive(p) for p in old), timeout=15, what="the old servers to stop")
        prompt = chat.query_one("#prompt", Input)
        prompt.focus()
        prompt.value = "Say hi."
        chat.query_one("#max_tokens", Input).value = "8"
        await pilot.press("enter")
        await wait_until(pilot, lambda: chat.conv.turns and not chat.streaming, timeout=60, what="the answer")
        turn = chat.conv.turns[-1]
        assert turn.answers["a"] and turn.errors["b"] == "one model only"
        await pilot.press("f6")  # no vote with one model: a warning, nothing written
        assert chat.last_vote is None and not (export.parent.parent / "chat" / "votes.jsonl").exists()
        last = _pids(chat)
    assert not any(alive(p) for p in last)  # the app closed: no server outlives it
