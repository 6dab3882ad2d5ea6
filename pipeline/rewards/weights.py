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


def weighted_sum(scores: Mapping[str, float], weights: Mapping[str, float]) -> float | None:
    """Seed 000's compute_reward, Σ score[dim] × weight[dim], over the dimensions that were scored.

    A dimension the judge did not score is left out and the weights of the scored ones are scaled up to
    the full weight (Σ of all weights), so a judgement missing a dimension is on the same scale as a
    complete one and a missing score never counts as 0. None when no dimension with a weight was scored:
    the completion has no reward (GRPO skips it), not a reward of 0.
    """
    total = sum(w for w in weights.values() if w > 0)
    present = {d: w for d, w in weights.items() if w > 0 and d in scores}
    scored = sum(present.values())
    if not present or scored <= 0:
        return None
    return sum(scores[d] * w for d, w in present.items()) * total / scored
