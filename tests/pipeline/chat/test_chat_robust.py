"""The A/B chat under bad input: every field wrong, every key pressed, on real model processes; and a
vote (and the DPO pair exported from it) records the sampling, model and seed the answers were
generated with, not what the form says at vote time."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input

from aba_tui.screens.chat import SAMPLING_FIELDS, ChatScreen
from aba_tui.screens.chat_library import ModelLibraryScreen
from pipeline.chat.client import Sampling
from pipeline.chat.session import SIDES, BlindOrder, Generation, SideSpec, Turn, concrete_seed
from pipeline.chat.votes import dpo_pairs, vote_record
from pipeline.data import loaders
from pipeline.models.embedded import embedded_gguf_path
from tests.support.export import shared_baseline


class Host(App[None]):
    """A bare App (not AbaApp, whose guard would report instead of raising): any exception the chat
    screen lets out of a handler fails the test."""

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


def _form(screen: ChatScreen, **values: str) -> None:
    for name, value in values.items():
        screen.query_one(f"#{name}", Input).value = value


async def _ask(pilot, screen: ChatScreen, text: str) -> None:
    prompt = screen.query_one("#prompt", Input)
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: not screen.streaming and bool(screen.conv.turns)
                     and screen.conv.turns[-1].user == text and all(screen.conv.turns[-1].answers.values()),
                     what=f"both answers to {text!r}")


BAD_FIELDS = {"temperature": "hot", "top_p": "2", "max_tokens": "-5", "seed": "x1"}


@pytest.mark.slow
@pytest.mark.asyncio
async def test_chat_survives_bad_input_in_every_field_and_any_key(tmp_path: Path) -> None:
    baseline, q4 = str(shared_baseline()), str(embedded_gguf_path())
    chat_dir = tmp_path / "chat"
    screen = ChatScreen(runs_dir=tmp_path, side_a=baseline, side_b=q4, threads=1, save_dir=chat_dir)
    app = Host(screen)
    async with app.run_test(size=(180, 45)) as pilot:
        await wait_until(pilot, lambda: all(screen.sides[s] is not None for s in SIDES), what="both models")
        _form(screen, temperature="0.8", top_p="0.9", max_tokens="16", seed="11")
        await _ask(pilot, screen, "Write one sentence about the sea.")
        made = screen.conv.turns[-1].generated
        assert made["a"].sampling == made["b"].sampling == Sampling(0.8, 0.9, 16, 11)
        assert made["a"].model["target"] == baseline and made["b"].model["target"] == q4

        # Each sampling field wrong in turn, then every key of the screen (and enter/tab) in it (escape
        # leaves the screen: tests/tui/test_navigation.py):
        # each refusal is a notification naming the field; the screen stays, the app keeps running.
        # Votes first (ctrl+n and ctrl+b clear the conversation).
        keys = sorted((k for b in ChatScreen.BINDINGS if isinstance(b, Binding) and b.action != "back"
                       for k in b.key.split(",")),
                      key=lambda k: not k.startswith("f"))

        async def press_all(where: str) -> None:
            for key in [*keys, "enter", "tab"]:
                await pilot.press(key)
                if isinstance(app.screen, ModelLibraryScreen):  # ctrl+o: the model library, closed again
                    await pilot.press("escape")
                assert app.is_running and app.screen is screen, f"{key} in {where}"

        good = {name: default for name, default, _ in SAMPLING_FIELDS}
        for name, bad in BAD_FIELDS.items():
            _form(screen, **{**good, name: bad})
            screen.query_one(f"#{name}", Input).focus()
            app.clear_notifications()
            await press_all(f"#{name}={bad!r}")
            assert any(m.message.startswith(f"{name}={bad!r}: expected") for m in app._notifications), name
        assert screen.last_vote is not None and not screen.conv.turns  # f6 voted despite the broken form
        # All of them wrong at once, with the focus in the prompt and the system prompt.
        _form(screen, **BAD_FIELDS)
        for wid in ("prompt", "system"):
            screen.query_one(f"#{wid}", Input).focus()
            await press_all(f"#{wid}")

        # The vote records the generation's sampling, not the form's (which is now all wrong).
        votes = [json.loads(x) for x in (chat_dir / "votes.jsonl").read_text().splitlines()]
        assert len(votes) == 1 and votes[0]["vote"] == "A"
        assert votes[0]["sampling"] == {"temperature": 0.8, "top_p": 0.9, "max_tokens": 16, "seed": 11}
        for side in SIDES:
            assert votes[0]["sides"][side]["sampling"]["seed"] == 11

        # A DPO pair exported after changing the form to valid, different values keeps the generation's.
        _form(screen, temperature="1.5", top_p="0.5", max_tokens="12", seed="")
        await pilot.press("ctrl+e")
        await pilot.pause(0.1)

        # A blank seed is drawn once per question and recorded (both sides get the same one).
        await pilot.press("ctrl+n")
        await _ask(pilot, screen, "Name one animal.")
        made = screen.conv.turns[-1].generated
        seed = made["a"].sampling.seed
        assert isinstance(seed, int) and made["b"].sampling.seed == seed
        assert made["a"].sampling.temperature == 1.5
        # The model field's loads take bad input too: a missing file is that side's error, not an exit.
        if screen.order.blind:  # ctrl+b was pressed an odd number of times: names are hidden
            await pilot.press("ctrl+b")
        model_b = screen.panel_of("b").model_input
        model_b.value = str(tmp_path / "missing.gguf")
        model_b.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.load_errors["b"] is not None, timeout=20, what="side b's load error")
        assert app.is_running and app.screen is screen
    pairs = [json.loads(x) for x in (chat_dir / "dpo-pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 1
    meta = pairs[0]["meta"]
    assert meta["chosen"]["target"] == baseline and meta["rejected"]["target"] == q4
    assert meta["chosen"]["sampling"] == meta["rejected"]["sampling"] == votes[0]["sampling"]
    assert len(loaders.load_pairs(str(chat_dir / "dpo-pairs.jsonl"))) == 1  # the dpo stage still reads it


def _turn() -> Turn:
    turn = Turn("Say hi.")
    turn.answers = {"a": "Hi!", "b": "Hello there."}
    sampling = concrete_seed(Sampling(temperature=0.3, max_tokens=16), random.Random(5))
    for side, target in (("a", "/m/a.gguf"), ("b", "/m/b.gguf")):
        turn.generated[side] = Generation(SideSpec("gguf", target, side.upper()).describe(), sampling)
    return turn


def test_a_vote_records_each_sides_generation_not_the_current_specs() -> None:
    turn = _turn()
    seed = turn.generated["a"].sampling.seed
    assert isinstance(seed, int) and seed == concrete_seed(Sampling(), random.Random(5)).seed
    # The sides have been reloaded with other models since, and the form says something else.
    now = {"a": SideSpec("gguf", "/m/new-a.gguf", "new A"), "b": SideSpec("url", "http://127.0.0.1:1/v1", "api")}
    rec = vote_record(turn, 0, "", "B", BlindOrder(), now, {"temperature": 1.9})
    assert rec["sides"]["a"]["target"] == "/m/a.gguf" and rec["sides"]["b"]["label"] == "B"
    assert rec["sampling"] == {"temperature": 0.3, "top_p": 0.95, "max_tokens": 16, "seed": seed}
    pair = dpo_pairs([rec])[0]
    assert (pair["chosen"], pair["rejected"]) == ("Hello there.", "Hi!")
    assert pair["meta"]["chosen"]["target"] == "/m/b.gguf" and pair["meta"]["rejected"]["target"] == "/m/a.gguf"
    assert pair["meta"]["chosen"]["sampling"]["seed"] == seed
    # A side that was never asked falls back to what the caller knows.
    turn.generated.pop("b")
    assert vote_record(turn, 0, "", "A", BlindOrder(), now, {"temperature": 1.9})["sides"]["b"]["target"] == \
        "http://127.0.0.1:1/v1"
