"""A/B chat state without Textual: what each side is, its own multi-turn history, blind order.

Each side keeps its own history (its own answers), so a second question continues each model's
conversation, not a mix. Regenerate replaces the last answer of both sides.
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.chat.client import ChatError, ChatStream, Endpoint, Sampling, list_models, normalize_url
from pipeline.chat.procs import ModelProcess, check_gguf
from pipeline.runs.cpu import usable_cores

SIDES = ("a", "b")


@dataclass
class SideSpec:
    """One side's model: a GGUF file (served by its own process) or an OpenAI-compatible URL."""

    kind: str  # gguf | url
    target: str
    label: str = ""
    api_key: str = ""
    model: str = ""

    @classmethod
    def parse(cls, text: str, label: str = "", api_key: str = "") -> SideSpec:
        """``path/to/model.gguf``, or ``http://host:port[/v1] [model-name]``; a URL's API key comes from
        ``api_key`` or $OPENAI_API_KEY (never typed into the screen)."""
        text = text.strip()
        if not text:
            raise ChatError("empty model: expected a .gguf path or an http(s):// URL of an OpenAI-compatible server")
        if text.startswith(("http://", "https://")):
            url_text, _, model = text.partition(" ")
            url = normalize_url(url_text)
            key = api_key or os.environ.get("OPENAI_API_KEY", "")
            name = label or url.split("://", 1)[1].removesuffix("/v1")
            return cls("url", url, name + (f" {model.strip()}" if model.strip() and not label else ""), key,
                       model.strip())
        path = Path(text).expanduser()
        return cls("gguf", str(path), label or path.stem)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "label": self.label, "model": self.model}


def default_threads(sides: int = 2) -> int:
    """Threads for one side's llama.cpp so both sides decode at once without oversubscribing."""
    return max(1, usable_cores() // sides)


class ChatSide:
    """A side at run time: starts its process (or checks its URL), streams answers, reports death."""

    def __init__(self, spec: SideSpec, threads: int | None = None) -> None:
        self.spec = spec
        self.threads = threads or default_threads()
        self.process: ModelProcess | None = None
        self.endpoint: Endpoint | None = None
        self.current: ChatStream | None = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def quant(self) -> str | None:
        """The GGUF's quantisation (None for a URL: the server does not say)."""
        return self.process.quant if self.process is not None else None

    def start(self, timeout: float = 120.0) -> Endpoint:
        if self.spec.kind == "gguf":
            check_gguf(self.spec.target)
            self.process = ModelProcess(self.spec.target, threads=self.threads, label=self.spec.label)
            self.endpoint = self.process.start(timeout=timeout)
        else:
            ep = Endpoint(self.spec.target, self.spec.api_key, self.spec.model, self.spec.label)
            models = list_models(ep)
            if not ep.model and models:
                ep.model = models[0]
                self.spec.model = models[0]
            self.endpoint = ep
        return self.endpoint

    def stream(self, messages: list[dict[str, str]], sampling: Sampling) -> ChatStream:
        if self.endpoint is None:
            raise ChatError(f"{self.label}: not started")
        s = ChatStream(self.endpoint, messages, sampling)
        with self._lock:
            self.current = s
        return s

    def stop_stream(self) -> None:
        with self._lock:
            s = self.current
        if s is not None:
            s.close()

    def failure(self) -> str | None:
        """Why this side's model process is gone (None for URLs and live processes)."""
        return self.process.failure() if self.process else None

    def explain(self, exc: ChatError) -> str:
        """A stream error, upgraded with the process's death when that is the cause."""
        if self.process is not None:
            for _ in range(20):  # the socket can close a moment before the exit is visible
                died = self.process.failure()
                if died:
                    return died
                threading.Event().wait(0.05)
        return str(exc)

    def close(self) -> None:
        self.stop_stream()
        if self.process is not None:
            self.process.stop()


@dataclass(frozen=True)
class Generation:
    """What one side's answer was generated with: fixed when the question is sent, so a vote (and
    the DPO pair made from it) records these, not whatever the form says at vote time."""

    model: dict[str, Any]  # SideSpec.describe() of the side at send time
    sampling: Sampling  # with the seed actually sent (a blank seed field draws one)

    def describe(self) -> dict[str, Any]:
        return {**self.model, "sampling": self.sampling.to_request()}


def concrete_seed(sampling: Sampling, rng: random.Random | None = None) -> Sampling:
    """``sampling`` with a seed: a blank seed field becomes a drawn one, so the answer can be replayed."""
    if sampling.seed is not None:
        return sampling
    return replace(sampling, seed=(rng or random.SystemRandom()).randrange(2**31 - 1))


@dataclass
class Turn:
    user: str
    answers: dict[str, str] = field(default_factory=lambda: {s: "" for s in SIDES})
    stats: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SIDES})
    errors: dict[str, str | None] = field(default_factory=lambda: {s: None for s in SIDES})
    generated: dict[str, Generation] = field(default_factory=dict)  # side → how its answer was made
    voted: str | None = None


@dataclass
class Conversation:
    system: str = ""
    turns: list[Turn] = field(default_factory=list)

    def ask(self, prompt: str) -> Turn:
        turn = Turn(prompt)
        self.turns.append(turn)
        return turn

    def regenerate(self) -> Turn | None:
        """Clear the last turn's answers so both sides answer it again."""
        if not self.turns:
            return None
        last = self.turns[-1]
        self.turns[-1] = Turn(last.user)
        return self.turns[-1]

    def messages(self, side: str) -> list[dict[str, str]]:
        """The request for ``side``'s answer to the last turn, with that side's own history."""
        out: list[dict[str, str]] = []
        if self.system.strip():
            out.append({"role": "system", "content": self.system})
        for i, turn in enumerate(self.turns):
            out.append({"role": "user", "content": turn.user})
            last = i == len(self.turns) - 1
            if not last and turn.answers[side] and not turn.errors[side]:
                out.append({"role": "assistant", "content": turn.answers[side]})
        return out

    def clear(self) -> None:
        self.turns.clear()


@dataclass
class BlindOrder:
    """Which real side is shown in column A and B. Shuffled when blind mode starts."""

    order: tuple[str, str] = SIDES
    blind: bool = False

    def start(self, rng: random.Random | None = None) -> None:
        self.blind = True
        first, second = (rng or random.SystemRandom()).sample(SIDES, 2)
        self.order = (first, second)

    def stop(self) -> None:
        self.blind = False
        self.order = SIDES

    def shown(self, column: str) -> str:
        """The real side behind column ``A`` or ``B``."""
        return self.order[0 if column.upper() == "A" else 1]

    def column(self, side: str) -> str:
        return "A" if self.order[0] == side else "B"
