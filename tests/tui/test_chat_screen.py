"""Pilot tests of the A/B chat screen driving real model processes: streaming on both sides, a
SIGKILL mid-stream, bad model paths, blind votes → DPO pairs the dpo stage loads, a battery, and
the end-to-end export → chat next to the baseline."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input

from aba_tui.screens.chat import ChatScreen
from aba_tui.screens.chat_battery import BatteryScreen
from pipeline.models.embedded import embedded_gguf_path
from tests.support.export import shared_baseline, shared_export

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    def __init__(self, screen: ChatScreen) -> None:
        super().__init__()
        self.chat = screen

    def on_mount(self) -> None:
        self.push_screen(self.chat)


async def wait_until(pilot, cond, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def loaded(screen: ChatScreen, *sides: str) -> bool:
    return all(screen.sides[s] is not None for s in sides)


async def ask(pilot, screen: ChatScreen, text: str) -> None:
    prompt = screen.query_one("#prompt", Input)
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: not screen.streaming and screen.conv.turns
                     and screen.conv.turns[-1].user == text, what=f"answers to {text!r}")


def set_knob(screen: ChatScreen, name: str, value: str) -> None:
    screen.query_one(f"#{name}", Input).value = value


async def test_both_sides_stream_and_a_sigkill_ends_only_that_side(tmp_path: Path) -> None:
    gguf = str(embedded_gguf_path())
    screen = ChatScreen(runs_dir=tmp_path, side_a=gguf, side_b=gguf, threads=1, save_dir=tmp_path / "chat")
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: loaded(screen, "a", "b"), what="both model processes")
        set_knob(screen, "temperature", "0")
        set_knob(screen, "seed", "1")
        set_knob(screen, "max_tokens", "24")
        await ask(pilot, screen, "What is the capital of France?")
        turn = screen.conv.turns[-1]
        assert turn.answers["a"] and turn.answers["a"] == turn.answers["b"]  # same file, greedy
        for side in ("a", "b"):
            assert turn.stats[side]["ttft_s"] > 0 and turn.stats[side]["tokens"] > 0
            stats = str(screen.panel_of(side).query_one(".side-stats").render())
            assert "TTFT" in stats and "tok/s" in stats and "tokens" in stats
            assert turn.answers[side][:20] in str(screen.panel_of(side).query_one(".side-text").render())

        # A long answer; side b's model process is killed once it has streamed a few pieces.
        set_knob(screen, "max_tokens", "160")
        prompt = screen.query_one("#prompt", Input)
        prompt.value = "Write a long story about a dragon and a knight."
        await pilot.press("enter")
        b = screen.panel_of("b")
        await wait_until(pilot, lambda: len(b.partial) > 10, what="b streaming")
        assert "b" in screen.streaming
        os.kill(screen.sides["b"].process.proc.pid, signal.SIGKILL)
        await wait_until(pilot, lambda: not screen.streaming, what="both sides to end")
        turn = screen.conv.turns[-1]
        assert "killed by SIGKILL" in (turn.errors["b"] or "")
        assert turn.errors["a"] is None and len(turn.answers["a"]) > 100
        assert "killed by SIGKILL" in str(b.query_one(".side-status").render())
        # The UI and side a go on; the dead side says why instead of answering.
        set_knob(screen, "max_tokens", "16")
        await ask(pilot, screen, "Say hi.")
        turn = screen.conv.turns[-1]
        assert turn.answers["a"] and "killed by SIGKILL" in (turn.errors["b"] or "")
        # Multi-turn: side a's request carried its own earlier answers.
        msgs = screen.conv.messages("a")
        assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
        # Restart side b from its field.
        screen.panel_of("b").model_input.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.sides["b"] is not None and screen.sides["b"].failure() is None,
                         what="b restarted")


async def test_bad_model_paths_are_clear_errors_in_that_side(tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    screen = ChatScreen(runs_dir=tmp_path, side_a=str(tmp_path / "missing.gguf"), side_b=str(text),
                        save_dir=tmp_path / "chat")
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: all(screen.load_errors.values()), what="both errors")
        a = str(screen.panel_of("a").query_one(".side-status").render())
        b = str(screen.panel_of("b").query_one(".side-status").render())
        assert "missing.gguf: no such file (expected a .gguf model file)" in a
        assert "notes.gguf: not a GGUF file" in b
        prompt = screen.query_one("#prompt", Input)
        prompt.value = "hello?"
        await pilot.press("enter")
        assert not screen.conv.turns and prompt.value == "hello?"  # nothing sent, nothing lost


async def test_blind_votes_export_dpo_pairs_the_dpo_stage_loads(tmp_path: Path) -> None:
    from pipeline.data import loaders
    baseline = str(shared_baseline())
    q4 = str(embedded_gguf_path())
    chat_dir = tmp_path / "chat"
    screen = ChatScreen(runs_dir=tmp_path, side_a=baseline, side_b=q4, threads=1, save_dir=chat_dir)
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: loaded(screen, "a", "b"), what="both model processes")
        set_knob(screen, "max_tokens", "32")
        set_knob(screen, "temperature", "0.8")
        await pilot.press("ctrl+b")
        assert screen.order.blind
        assert not screen.panel("A").model_input.display
        assert screen.panel("A").border_title == "Model A"
        wanted = {}
        for i, vote in enumerate(("f6", "f7", "f8")):
            await ask(pilot, screen, f"Tell me one fact about the number {i + 3}.")
            await pilot.press(vote)
            rec = screen.last_vote
            assert rec is not None and rec["vote"] == {"f6": "A", "f7": "B", "f8": "tie"}[vote]
            if vote != "f8":
                winner = screen.order.shown(rec["vote"])
                assert rec["winner"] == winner
                answers = screen.conv.turns[-1].answers
                # Both sides are the same model (f16 vs Q4): two equal answers are no preference, and the
                # export skips them (it failed here once in four runs when that happened by chance).
                if answers[winner] != answers["b" if winner == "a" else "a"]:
                    wanted[rec["prompt"]] = answers[winner]
            await pilot.press("ctrl+n")
        await wait_until(pilot, screen.io_idle, what="the votes written (off the event loop)")
        votes = [json.loads(x) for x in (chat_dir / "votes.jsonl").read_text().splitlines()]
        assert [v["vote"] for v in votes] == ["A", "B", "tie"] and all(v["blind"] for v in votes)
        await pilot.press("ctrl+e")
        await wait_until(pilot, screen.io_idle, what="the DPO pairs written")
    pairs_path = chat_dir / "dpo-pairs.jsonl"
    pairs = [json.loads(x) for x in pairs_path.read_text().splitlines()]
    assert {p["prompt"]: p["chosen"] for p in pairs} == wanted
    data = loaders.load_pairs(str(pairs_path))
    assert len(data) == len(pairs) == len(wanted)


async def test_battery_runs_through_both_sides_and_saves(tmp_path: Path) -> None:
    gguf = str(embedded_gguf_path())
    battery = tmp_path / "mini.json"
    battery.write_text(json.dumps([{"id": "fr", "prompt": "What is the capital of France?",
                                    "expect": {"contains": ["paris"]}},
                                   {"id": "hi", "prompt": "Say hello.", "expect": {"max_chars": 2}}]))
    screen = ChatScreen(runs_dir=tmp_path, side_a=gguf, side_b=gguf, threads=1, save_dir=tmp_path / "chat")
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: loaded(screen, "a", "b"), what="both model processes")
        set_knob(screen, "max_tokens", "24")
        set_knob(screen, "temperature", "0")
        prompt = screen.query_one("#prompt", Input)
        prompt.value = f"/battery {battery}"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, BatteryScreen), what="the battery dialog")
        dialog = app.screen
        await wait_until(pilot, lambda: dialog.saved is not None, timeout=120, what="the battery")
        summary = dialog.result.summary()
        assert summary["a"]["total"] == 2 and summary["a"]["passed"] == summary["b"]["passed"]
        assert not dialog.result.rows[1].sides["a"].passed  # "hello" is longer than 2 chars
        assert dialog.saved.parent == tmp_path / "chat" and len(dialog.saved.read_text().splitlines()) == 2
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="back to the chat")


@pytest.mark.slow
async def test_export_then_chat_next_to_the_baseline(tmp_path: Path) -> None:
    """Done-when: a short dpo run → its chained export (q8_0) answers in the A/B pane next to the
    baseline at the same quantisation, both streaming; both are the screen's defaults."""
    exp = shared_export()
    baseline = shared_baseline("q8_0")
    runs_dir = exp.gguf.parent.parent.parent
    screen = ChatScreen(runs_dir=runs_dir, threads=1)
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: loaded(screen, "a", "b"), what="both model processes")
        assert screen.sides["a"].spec.target == str(baseline)
        assert screen.sides["b"].spec.target == str(exp.gguf)
        assert screen.save_dir() == exp.gguf.parent.parent / "chat"
        assert screen.sides["a"].quant == screen.sides["b"].quant == "q8_0" and screen.quant_mismatch() is None
        set_knob(screen, "temperature", "0")
        set_knob(screen, "max_tokens", "48")
        prompt = screen.query_one("#prompt", Input)
        # Long enough an answer that it streams over several UI ticks on a quiet machine too.
        prompt.value = "What is the capital of France? Answer, then tell me three facts about that city."
        seen_live = {"a": False, "b": False}
        for side in ("a", "b"):  # record every frame a side draws with partial text while it streams
            panel = screen.panel_of(side)

            def spy(*args: object, _side: str = side, _panel: object = panel,
                    _draw: object = panel.render_conversation, **kw: object) -> None:
                if kw.get("live") and getattr(_panel, "streaming", False):
                    seen_live[_side] = True
                _draw(*args, **kw)  # type: ignore[operator]

            panel.render_conversation = spy  # type: ignore[method-assign]
        await pilot.press("enter")

        def progress() -> bool:
            return not screen.streaming

        await wait_until(pilot, progress, what="both answers")
        turn = screen.conv.turns[-1]
        assert all(seen_live.values()), seen_live  # partial text was on screen before the end
        assert "Paris" in turn.answers["a"] and "Paris" in turn.answers["b"]
        assert all(turn.stats[s]["tokens_per_s"] for s in ("a", "b"))
