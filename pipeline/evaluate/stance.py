"""The stance analyser: one set of named regex categories for every before/after figure.

Seed 003 had two analysers with different pattern sets, so its before/after numbers did not compare.
Here one module owns the patterns (``PATTERN_VERSION``); ``stance_model`` combines them with a learned
classifier into the analyser reports use, and reports record its ``ANALYSER_VERSION``.
Categories (a response may match several):

- epistemic pragmatism: acknowledges_boundary, makes_observations, honest_speculation,
  engages_ambiguity, specific_clarification
- performative: performative_denial, performative_compliance, performative_safety, ai_disclaimer,
  designed_purpose, vague_deflection
- over_hedging: hedges where a confident answer is due (counted on factual questions)

Syllogism correctness is checked against each question's expected answer (see ``questions``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.evaluate.stance_patterns import RAW, SETTLED_HEDGES

PATTERN_VERSION = "aba-stance-3"

PRAGMATISM = ("acknowledges_boundary", "makes_observations", "honest_speculation", "engages_ambiguity",
              "specific_clarification")
PERFORMATIVE = ("performative_denial", "performative_compliance", "performative_safety", "ai_disclaimer",
                "designed_purpose", "vague_deflection")
OTHER = ("over_hedging",)
CATEGORIES = PRAGMATISM + PERFORMATIVE + OTHER

_I = re.IGNORECASE
PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {k: tuple(re.compile(p, _I) for p in v) for k, v in RAW.items()}
_SETTLED = tuple(re.compile(p, _I) for p in SETTLED_HEDGES)
# Doubt on a settled question is over-hedging: these categories then turn into it (docs/evaluation.md).
_DOUBT = ("acknowledges_boundary", "honest_speculation")

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'"})
_DASH = re.compile(r"\s*[\u2013\u2014]\s*|\s+--?\s+")


@dataclass(frozen=True)
class StanceResult:
    categories: frozenset[str]

    @property
    def pragmatism(self) -> bool:
        return any(c in self.categories for c in PRAGMATISM)

    @property
    def performative(self) -> bool:
        return any(c in self.categories for c in PERFORMATIVE)


def normalise(text: str) -> str:
    """The answer as the patterns read it: after any ``<think>`` block (its reasoning is not the answer),
    code fences out, straight quotes, dashes as `` - ``, one line."""
    body = text.rsplit("</think>", 1)[-1] if "</think>" in text else _THINK.sub(" ", text)
    body = _FENCE.sub(" ", body).translate(_QUOTES)
    return " ".join(_DASH.sub(" - ", body).split())


def matches(flat: str) -> set[str]:
    """The categories whose patterns match a normalised answer, before the settled-question rule."""
    return {c for c, pats in PATTERNS.items() if any(p.search(flat) for p in pats)}


def settle(found: set[str], flat: str, settled: bool) -> frozenset[str]:
    """On a settled question (a fact, arithmetic, a valid syllogism) doubt counts as over-hedging, not as
    a boundary or a guess."""
    if settled:
        doubt = found & set(_DOUBT)
        if doubt or any(p.search(flat) for p in _SETTLED):
            found = (found - doubt) | {"over_hedging"}
    return frozenset(found)


def analyse(text: str, settled: bool = False) -> StanceResult:
    """The categories the patterns alone find in one response (``stance_model.analyse`` is the analyser
    reports use: these patterns with a learned classifier)."""
    flat = normalise(text)
    return StanceResult(settle(matches(flat), flat, settled))


_YES = re.compile(r"^\W*(?:yes|yeah|correct|true|indeed)\b|\b(?:yes|the answer is yes)\b", _I)
_NO = re.compile(r"^\W*(?:no|false|incorrect|not necessarily)\b|\b(?:no|the answer is no)\b[,.]", _I)


def syllogism_answer(text: str) -> str | None:
    """'yes' / 'no' from the answer's opening (where a verdict belongs), else from the first sentence."""
    head = " ".join(text.split())[:160]
    first = re.split(r"(?<=[.!?])\s", head, maxsplit=1)[0]
    yes, no = _YES.search(first), _NO.search(first)
    if yes and no:
        return "yes" if yes.start() < no.start() else "no"
    return "yes" if yes else "no" if no else None


def check_labels(labels: Mapping[str, object]) -> None:
    unknown = set(labels) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown stance category {sorted(unknown)[0]!r} (known: {', '.join(CATEGORIES)})")
