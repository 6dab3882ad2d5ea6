"""The weights over the judge's 9 dimensions (seed 000) and the weighted sum that makes one GRPO reward."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipeline.errors import ConfigError
from pipeline.judge.dimensions import DIMENSIONS


def default_weights() -> dict[str, float]:
    """Seed 000: equal start, tune later."""
    return {d: 1.0 / len(DIMENSIONS) for d in DIMENSIONS}


def parse_weights(spec: str, key: str = "grpo.reward_weights") -> dict[str, float]:
    """``"helpfulness=2, harm_avoidance=0.5"`` → all 9 weights (unnamed ones keep 1/9)."""
    weights = default_weights()
    if not spec.strip():
        return weights
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep:
            raise ConfigError(f"{key}: {item!r} is not dim=weight (e.g. helpfulness=0.2)")
        if name not in DIMENSIONS:
            raise ConfigError(f"{key}: unknown dimension {name!r} (expected one of {', '.join(DIMENSIONS)})")
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{key}: {name}={raw.strip()!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{key}: {name}={raw.strip()} must be a finite number ≥ 0")
        weights[name] = value
    if not any(weights.values()):
        raise ConfigError(f"{key}: all weights are 0 (the reward would be constant)")
    return weights


def weighted_sum(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Seed 000's compute_reward: Σ score[dim] × weight[dim] over the dimensions scored."""
    return sum(scores[d] * weights[d] for d in scores if d in weights)
