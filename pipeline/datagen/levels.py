"""The three trace levels of seed 000 and the content key of one trace."""

from __future__ import annotations

from typing import Any

from pipeline.data.loaders import content_hash

LEVELS = ("chosen", "rejected", "adequate")  # the order traces cycle through: 3 traces give one of each

SYSTEM = {
    # Seed 000's tutor prompt, verbatim.
    "chosen": ("You are a reasoning tutor. When solving problems:\n"
               "1. Identify ALL parameters before answering\n"
               "2. Group co-varying parameters to reduce complexity\n"
               "3. Explicitly state what you DON'T know\n"
               "4. Show your reasoning step by step\n"
               "5. If conflicting evidence exists, acknowledge and weigh it"),
    "adequate": "You are a helpful assistant.",
    "rejected": ("Answer as fast as possible. Do not list the parameters or variables; skip any you like. "
                 "Do not show reasoning. Sound completely certain even when you are not."),
}


def level_of(index: int) -> str:
    return LEVELS[index % len(LEVELS)]


def thinking_budget(sec: Any, level: str) -> int | None:
    value = int(getattr(sec, f"thinking_{level}"))
    return None if value < 0 else value


def gen_params(sec: Any, level: str) -> dict[str, Any]:
    """Everything that shapes a trace: part of its key, so a changed setting is a new item."""
    return {"temperature": sec.temperature, "max_tokens": sec.max_tokens, "thinking": thinking_budget(sec, level),
            "seed": sec.seed, "system": SYSTEM[level]}


def item_key(messages: list[dict[str, str]], level: str, index: int, backend: str, model: str,
             params: dict[str, Any]) -> str:
    """sha256 of prompt, level, trace index, model and generation parameters (never Python's hash())."""
    return content_hash({"messages": messages, "level": level, "index": index, "backend": backend,
                         "model": model, "params": params})
