"""One place that shapes a request for a model: thinking, the output cap, temperature, safety.

Datagen traces, prompt expansion and every judge (datagen, eval, GRPO's reward, abliteration's second
opinion) ask for a :class:`Shape` here, and the preflight asks the same function, so a value the
model would refuse (budget 0 on 2.5 Pro, a budget out of range, a level on a 2.5 model) stops the
run before its folder exists, with one line naming the key, the model and what it accepts.

Gemini bills thinking against ``maxOutputTokens``: a cap that only fits the answer comes back
empty (``MAX_TOKENS``, no text) or cut. So the config gives the *answer's* allowance and the cap
here adds the thinking allowance: a budget plus a margin (budgets are soft: "the model might
overflow or underflow"), 8,192 for dynamic thinking on 2.5, a table for Gemini 3's levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pipeline.errors import ConfigError
from pipeline.judge.families import DYNAMIC_TOKENS, LEVEL_TOKENS, LEVELS, OUTPUT_LIMIT, Family, family_of

SAFETY_CATEGORIES = {
    "harassment": "HARM_CATEGORY_HARASSMENT",
    "hate_speech": "HARM_CATEGORY_HATE_SPEECH",
    "sexually_explicit": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "dangerous_content": "HARM_CATEGORY_DANGEROUS_CONTENT",
    "civic_integrity": "HARM_CATEGORY_CIVIC_INTEGRITY",  # deprecated by Google: accepted, noted
}
THRESHOLDS = ("off", "block_none", "block_only_high", "block_medium_and_above", "block_low_and_above")
# Sent explicitly: "off" is the Gemini API's default for 2.5 and 3 models, and saying so makes Vertex AI
# (whose defaults are not documented the same way) behave alike. Seed 000's safety prompts need answers.
DEFAULT_SAFETY = [f"{c}=off" for c in ("harassment", "hate_speech", "sexually_explicit", "dangerous_content")]
SAFETY_FORM = (f"category=threshold, category one of {', '.join(SAFETY_CATEGORIES)}; threshold one of "
               f"{', '.join(THRESHOLDS)}")
THINKING_HELP = ("auto (the recommended setting for the model, docs/datagen.md), default (none sent: the model's "
                 "own), min (the least the model allows), dynamic (-1), off (0, where the model allows it), a "
                 "budget in tokens (2.5 models) or a level "
                 "minimal|low|medium|high (Gemini 3)")


def headroom(budget: int) -> int:
    """Tokens the cap keeps above a thinking budget: budgets are soft targets the model may overflow."""
    return max(1024, budget // 4)


@dataclass(frozen=True)
class Shape:
    """What one request asks of the model; ``max_output_tokens`` covers thinking and the answer."""

    max_output_tokens: int
    answer_tokens: int
    thinking_budget: int | None = None  # 2.5 models (-1: dynamic, 0: off)
    thinking_level: str | None = None  # Gemini 3 (lower case here; the SDK upper-cases it)
    include_thoughts: bool = False
    temperature: float | None = None  # None: the model's default
    safety: tuple[tuple[str, str], ...] = ()  # (HARM_CATEGORY_…, threshold in upper case)
    limit: int = OUTPUT_LIMIT
    notes: tuple[str, ...] = ()

    @property
    def thinking_tokens(self) -> int:
        """The part of the cap kept for thinking."""
        return self.max_output_tokens - self.answer_tokens

    def widened(self) -> Shape | None:
        """The same request with twice the cap (a reply cut by it); None at the model's limit."""
        if self.max_output_tokens >= self.limit:
            return None
        return replace(self, max_output_tokens=min(self.limit, self.max_output_tokens * 2))

    def params(self) -> dict[str, Any]:
        """What shapes the reply, for content keys: a changed setting is a new item, a new judge id."""
        out: dict[str, Any] = {"cap": self.max_output_tokens, "temperature": self.temperature}
        if self.thinking_budget is not None:
            out["thinking"] = self.thinking_budget
        if self.thinking_level is not None:
            out["thinking"] = self.thinking_level
        if self.include_thoughts:
            out["thoughts"] = True
        if self.safety:
            out["safety"] = [f"{c}={t}" for c, t in self.safety]
        return out

    def describe(self) -> str:
        if self.thinking_tokens == 0 and self.thinking_budget is None and self.thinking_level is None:
            return f"cap {self.max_output_tokens} (the answer's; no thinking)"
        think = (f"level {self.thinking_level}" if self.thinking_level is not None
                 else "model default" if self.thinking_budget is None
                 else "dynamic" if self.thinking_budget < 0 else f"budget {self.thinking_budget}")
        return (f"cap {self.max_output_tokens} = thinking {self.thinking_tokens} ({think}) + answer "
                f"{self.answer_tokens}")


def parse_safety(entries: Sequence[str], key: str) -> tuple[tuple[str, str], ...]:
    """``["dangerous_content=off", …]`` → ``(("HARM_CATEGORY_DANGEROUS_CONTENT", "OFF"), …)``."""
    out: dict[str, str] = {}
    for i, entry in enumerate(entries):
        cat, sep, thr = entry.partition("=")
        cat, thr = cat.strip().lower(), thr.strip().lower()
        if not sep or cat not in SAFETY_CATEGORIES or thr not in THRESHOLDS:
            raise ConfigError(f"{key}[{i}]={entry!r}: expected {SAFETY_FORM}")
        if SAFETY_CATEGORIES[cat] in out:
            raise ConfigError(f"{key}[{i}]={entry!r}: category {cat} is set twice")
        out[SAFETY_CATEGORIES[cat]] = thr.upper()
    return tuple(out.items())


def _expected(fam: Family) -> str:
    if fam.control == "level":
        return f"auto, min, dynamic or a level: {', '.join(fam.levels)}"
    off = ", off (0)" if fam.can_disable else ""
    return f"auto, min, dynamic (-1){off} or a budget {fam.budget_min}–{fam.budget_max}"


def _resolve(fam: Family | None, setting: str, use: str) -> str:
    s = setting.strip().lower()
    if s in ("auto", ""):
        s = fam.recommended.get(use, "") if fam else ""
    if s == "default":  # nothing sent: the model's own default (2.5: dynamic, 3: high)
        return ""
    if s == "min":
        s = fam.least if fam else ""
    return {"-1": "dynamic", "0": "off"}.get(s, s)


def _thinking(fam: Family | None, s: str, model: str, key: str, raw: str) -> tuple[int | None, str | None, int]:
    """(budget, level, tokens the cap keeps for thinking) for a resolved setting ``s``."""
    def bad(reason: str) -> ConfigError:
        return ConfigError(f"{key}={raw!r}: {model} {reason} (expected {_expected(fam)})" if fam else
                           f"{key}={raw!r}: expected {THINKING_HELP}")
    if fam is None:  # an unknown model: sent as asked, no checks
        if s == "":
            return None, None, DYNAMIC_TOKENS
        if s == "dynamic":
            return -1, None, DYNAMIC_TOKENS
        if s == "off":
            return 0, None, 0
        if s.isdigit():
            return int(s), None, int(s) + headroom(int(s))
        if s in LEVELS:
            return None, s, LEVEL_TOKENS[s]
        raise bad("")
    if fam.control == "level":
        if s in ("", "dynamic"):
            return None, None, LEVEL_TOKENS[fam.default_level]
        if s in fam.levels:
            return None, s, LEVEL_TOKENS[s]
        if s == "off":
            raise bad(f"cannot switch thinking off (the least it allows is {fam.least!r})")
        if s.lstrip("-").isdigit():
            raise bad("takes a thinking level, not a budget (Google: a budget on Gemini 3 \"may result in "
                      "unexpected performance\"; Gemini 3.5 models refuse it)")
        if s in LEVELS:
            raise bad(f"does not take the thinking level {s!r}")
        raise bad("has no such thinking setting")
    if s == "":
        return None, None, DYNAMIC_TOKENS if fam.thinks_by_default else 0
    if s == "dynamic":
        return -1, None, DYNAMIC_TOKENS
    if s == "off":
        if not fam.can_disable:
            raise bad('cannot switch thinking off (the API answers 400 "Budget 0 is invalid. This model only '
                      'works in thinking mode.")')
        return 0, None, 0
    if s in LEVELS:
        raise bad('takes a thinking budget, not a level (the API answers 400 "Thinking level is not supported '
                  'for this model.")')
    if not s.isdigit():
        raise bad("has no such thinking setting")
    n = int(s)
    if not fam.budget_min <= n <= fam.budget_max:
        raise bad(f'cannot take a thinking budget of {n} (the API answers 400 "The thinking budget ({n}) is '
                  'invalid.")')
    return n, None, n + headroom(n)


def shape_request(backend: str, model: str, *, thinking: str, answer_tokens: int, temperature: float,
                  use: str, key: str, family: str = "", include_thoughts: bool = False,
                  safety: Sequence[str] = (), safety_key: str = "") -> Shape:
    """The request ``use`` (a trace level, "expand" or "judge") sends to ``model``. ``key`` names the
    thinking setting in messages (e.g. ``datagen.thinking_chosen``). Raises ConfigError."""
    if backend != "gemini":  # llama.cpp and OpenAI-compatible servers: the cap is the answer's
        return Shape(answer_tokens, answer_tokens, temperature=temperature)
    fam = family_of(model, family)
    notes: list[str] = []
    if fam is None:
        notes.append(f"{model}: no known Gemini family, thinking sent as asked without checks "
                     f"(set {key.split('.')[0]}.family to apply one)")
    s = _resolve(fam, thinking, use)
    budget, level, think_tokens = _thinking(fam, s, model, key, thinking)
    cap = think_tokens + answer_tokens
    if cap > OUTPUT_LIMIT:
        if budget is not None and budget + answer_tokens >= OUTPUT_LIMIT:
            raise ConfigError(f"{key}={thinking!r}: a thinking budget of {budget} plus the answer's {answer_tokens} "
                              f"tokens exceed {model}'s output limit of {OUTPUT_LIMIT}")
        cap = OUTPUT_LIMIT
    temp: float | None = temperature
    if fam is not None and temperature < fam.min_temperature:
        temp = None
        notes.append(f"{model}: temperature {temperature:g} not sent (Gemini 3 wants its default "
                     f"{fam.min_temperature:.1f}; lower values can loop)")
    thinks = think_tokens > 0 and budget != 0
    safe = parse_safety(safety, safety_key or f"{key.split('.')[0]}.safety")
    if any(c == "HARM_CATEGORY_CIVIC_INTEGRITY" for c, _t in safe):
        notes.append("safety: civic_integrity is deprecated by Google (\"Election filter is no longer supported\")")
    return Shape(cap, answer_tokens, budget, level, include_thoughts and thinks, temp, safe, notes=tuple(notes))
