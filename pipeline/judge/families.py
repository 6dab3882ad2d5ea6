"""Gemini model families: what each accepts for thinking, its limits, and the settings we recommend.

Model ids come and go (gemini-3-pro-preview was shut down on 2026-03-09 for gemini-3.1-pro-preview), so
a model is matched to a family by pattern and a config may name the family itself (``family``).
Sources for every number: docs/judge.md, "The service's facts" (Gemini API thinking guide and the
400 bodies users reported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pipeline.judge.prices import PRICES, Price

Control = Literal["budget", "level"]
# What each use of a model asks of thinking when its setting is "auto" (traces by level, prompt
# expansion, the judge); docs/datagen.md's table of recommended settings is this mapping.
USES = ("chosen", "adequate", "rejected", "expand", "judge")
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
OUTPUT_LIMIT = 65536  # outputTokenLimit of every 2.5 and 3.x model (models.get)
DYNAMIC_TOKENS = 8192  # "the model automatically controls how much it thinks up to 8,192 tokens" (2.5)


@dataclass(frozen=True)
class Family:
    name: str
    pattern: str  # matched against the model id without "models/" or a Vertex publisher path
    control: Control
    budget_min: int = 0  # the least positive budget (0, "off", is separate: can_disable)
    budget_max: int = 0
    can_disable: bool = False
    levels: tuple[str, ...] = ()
    default_level: str = ""
    thinks_by_default: bool = True
    least: str = ""  # what "min" means: the least thinking the model allows
    min_temperature: float = 0.0  # below this the temperature is not sent (Gemini 3: 1.0)
    recommended: dict[str, str] = field(default_factory=dict)  # use → thinking setting ("auto")

    @property
    def price(self) -> Price | None:
        return PRICES.get(self.name)

    def matches(self, model: str) -> bool:
        return re.fullmatch(self.pattern, bare_model(model)) is not None


def _rec(chosen: str, adequate: str, rejected: str, expand: str, judge: str) -> dict[str, str]:
    return dict(zip(USES, (chosen, adequate, rejected, expand, judge), strict=True))


# First match wins: the more specific patterns come first.
FAMILIES: tuple[Family, ...] = (
    Family("2.5-flash-lite", r"gemini-2\.5-flash-lite.*", "budget", 512, 24576, can_disable=True,
           thinks_by_default=False, least="0", recommended=_rec("2048", "dynamic", "0", "0", "0")),
    Family("2.5-flash", r"gemini-2\.5-flash.*", "budget", 1, 24576, can_disable=True, least="0",
           recommended=_rec("4096", "dynamic", "0", "0", "0")),
    Family("2.5-pro", r"gemini-2\.5-pro.*", "budget", 128, 32768, least="128",
           recommended=_rec("4096", "dynamic", "128", "128", "128")),
    # The retired 3 Pro preview took low|high; 3.1 Pro adds medium (thinking guide, 2026).
    Family("3-pro", r"gemini-3-pro.*", "level", levels=("low", "high"), default_level="high", least="low",
           min_temperature=1.0, recommended=_rec("high", "high", "low", "low", "low")),
    Family("3.x-pro", r"gemini-3\.\d+-pro.*", "level", levels=("low", "medium", "high"), default_level="high",
           least="low", min_temperature=1.0, recommended=_rec("high", "high", "low", "low", "low")),
    Family("3.x-flash-lite", r"gemini-3(\.\d+)?-flash-lite.*", "level", levels=("minimal", "low", "medium", "high"),
           default_level="minimal", least="minimal", min_temperature=1.0,
           recommended=_rec("medium", "high", "minimal", "minimal", "minimal")),
    Family("3.x-flash", r"gemini-3(\.\d+)?-flash.*", "level", levels=("minimal", "low", "medium", "high"),
           default_level="high", least="minimal", min_temperature=1.0,
           recommended=_rec("medium", "high", "minimal", "minimal", "minimal")),
)
FAMILY_NAMES = tuple(f.name for f in FAMILIES)
LEVELS = ("minimal", "low", "medium", "high")
# A thinking level has no documented size ("relative allowances"); the output cap reserves this much
# for it (the recommended caps of docs/judge.md minus an answer of 2,048 tokens).
LEVEL_TOKENS = {"minimal": 2048, "low": 6144, "medium": 10240, "high": 14336}


def bare_model(model: str) -> str:
    """``models/gemini-2.5-pro`` or ``publishers/google/models/gemini-2.5-pro`` → ``gemini-2.5-pro``."""
    return model.rsplit("/", 1)[-1].strip().lower()


def family_of(model: str, name: str = "") -> Family | None:
    """The family a model belongs to (``name`` overrides the pattern); None: unknown, sent as asked."""
    if name:
        for f in FAMILIES:
            if f.name == name:
                return f
        return None
    for f in FAMILIES:
        if f.matches(model):
            return f
    return None
