"""GRPO rewards: weights over the judge's 9 dimensions and pluggable scorers (rubric heuristics or the judge)."""

from pipeline.rewards.scorer import Scorer, get_scorer
from pipeline.rewards.weights import parse_weights, weighted_sum

__all__ = ["Scorer", "get_scorer", "parse_weights", "weighted_sum"]
