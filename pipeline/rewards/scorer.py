"""The scorer interface and the registry that picks one by name (grpo.scorer)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    from pipeline.judge.interface import Judgement


@runtime_checkable
class Scorer(Protocol):
    """Judges one completion on the dimensions it knows: a :class:`Judgement`, each score in 0..1.

    A dimension the scorer could not judge (a judge call failed) is left out, never scored 0: seed
    000's judge errors returned all-zero scores that silently dragged the means down.
    """

    name: str

    def score(self, prompt: str, completion: str) -> Judgement: ...


# name → "module:factory", imported when picked: the judge scorer pulls in its backend (google-genai or
# llama.cpp), which a rubric run never needs.
SCORERS = {
    "rubric": "pipeline.rewards.rubric:RubricScorer",
    "judge": "pipeline.rewards.judge:JudgeScorer",
}


def get_scorer(name: str, options: dict[str, Any] | None = None) -> Scorer:
    """The scorer ``name``; ``options`` go to its factory (the judge's config section, its cache dir)."""
    if name not in SCORERS:
        raise ConfigError(f"grpo.scorer={name!r}: unknown scorer (expected one of {', '.join(SCORERS)})")
    module, _, factory = SCORERS[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise ConfigError(f"grpo.scorer={name!r}: this scorer is not available in this install "
                          "(use grpo.scorer = \"rubric\")") from None
    return getattr(mod, factory)(**(options or {}))
