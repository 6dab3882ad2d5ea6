"""GRPO rewards: the 9 dimensions of seed 000, their weights, and pluggable scorers.

A scorer is anything with ``score(prompt, completion) -> dict[dim, float in 0..1]``. The rubric scorer
(local, transparent heuristics) ships now; an LLM judge plugs in through ``get_scorer``.
"""

from pipeline.rewards.dimensions import DIMENSIONS, parse_weights, weighted_sum
from pipeline.rewards.scorer import Scorer, get_scorer

__all__ = ["DIMENSIONS", "Scorer", "get_scorer", "parse_weights", "weighted_sum"]
