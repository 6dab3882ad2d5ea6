"""The three trace levels of seed 000 and the content key of one trace."""

from __future__ import annotations

from typing import Any

from pipeline.data.loaders import content_hash
from pipeline.judge.families import DEFAULT_GEMINI_MODEL
from pipeline.judge.shaping import Shape, shape_request

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


def generator_model(sec: Any) -> str:
    """The model id the generator asks (gemini's default when empty; the others name theirs)."""
    return sec.model or (DEFAULT_GEMINI_MODEL if sec.backend == "gemini" else "")


def trace_shape(sec: Any, level: str) -> Shape:
    """The request a trace of ``level`` sends (pipeline.judge.shaping; raises ConfigError)."""
    return shape_request(sec.backend, generator_model(sec), thinking=getattr(sec, f"thinking_{level}"),
                         answer_tokens=sec.max_tokens, temperature=sec.temperature, use=level,
                         key=f"datagen.thinking_{level}", family=sec.family, include_thoughts=sec.include_thoughts,
                         safety=sec.safety, safety_key="datagen.safety")


EXPAND_TOKENS = 1024  # one generated prompt as JSON: a few hundred tokens, with room


def expand_shape(sec: Any) -> Shape:
    """The request prompt expansion sends: JSON, the least thinking (auto), temperature 1 for variety."""
    return shape_request(sec.backend, generator_model(sec), thinking=sec.thinking_expand, answer_tokens=EXPAND_TOKENS,
                         temperature=1.0, use="expand", key="datagen.thinking_expand", family=sec.family,
                         safety=sec.safety, safety_key="datagen.safety")


def gen_params(sec: Any, level: str, shape: Shape) -> dict[str, Any]:
    """Everything that shapes a trace: part of its key, so a changed setting is a new item."""
    return {**shape.params(), "seed": sec.seed, "system": SYSTEM[level]}


def item_key(messages: list[dict[str, str]], level: str, index: int, backend: str, model: str,
             params: dict[str, Any]) -> str:
    """sha256 of prompt, level, trace index, model and generation parameters (never Python's hash())."""
    return content_hash({"messages": messages, "level": level, "index": index, "backend": backend,
                         "model": model, "params": params})
