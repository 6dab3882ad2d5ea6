"""Metric rules shared by training (which checkpoint is best), export (``best``) and the browser (ranking):
aliases of the same metric, which keys are bookkeeping, which direction is better, and the ranking itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

# Metric aliases: TRL logs ``rewards/margins``; the project's own metadata says ``margins``.
ALIASES: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy", "rewards/accuracies", "eval_rewards/accuracies"),
    "margins": ("margins", "rewards/margins", "eval_rewards/margins"),
    "reward": ("reward", "rewards/mean"),
}
# Keys of metadata that are bookkeeping, not metrics.
NOT_METRICS = frozenset({"step", "written_at", "resumable", "global_step", "total_flos", "format", "steps_in_window",
                         "metric_value"})


def lower_is_better(metric: str) -> bool:
    m = metric.lower()
    # The eval stage's metrics where less is better (pipeline.evaluate.report.HEADLINE).
    worse_up = ("performative", "disclaimer", "over_hedging", "benign_refusal")
    return ("loss" in m or m in ("kl", "perplexity", "eval_perplexity", "grad_norm") or m.endswith("_kl")
            or (m.startswith("eval_") and any(w in m for w in worse_up)))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def metric_value(meta: Mapping[str, Any], name: str) -> float | None:
    """``name`` from a checkpoint's metadata, through its aliases (and ``eval_x`` from the ``eval`` table)."""
    for key in ALIASES.get(name, (name,)):
        value = _num(meta.get(key))
        if value is not None:
            return value
    evals = meta.get("eval")
    if name.startswith("eval_") and isinstance(evals, dict):
        return _num(evals.get(name[5:]))
    return None


def rank_by(items: Iterable[T], metric: str, value: Callable[[T], float | None], step: Callable[[T], int | None],
            lower_better: bool | None = None, rest_key: Callable[[T], Any] | None = None) -> list[T]:
    """Best first (ties: earlier step); items without the metric (None or NaN) after, in step order (or by
    ``rest_key``)."""
    lower = lower_is_better(metric) if lower_better is None else lower_better
    scored, rest = [], []
    for item in items:
        v = value(item)
        s = step(item)
        if v is None or math.isnan(v):
            rest.append((rest_key(item) if rest_key else (s if s is not None else -1), item))
        else:
            scored.append((v if lower else -v, s if s is not None else -1, item))
    scored.sort(key=lambda t: (t[0], t[1]))
    rest.sort(key=lambda t: t[0])
    return [t[2] for t in scored] + [t[1] for t in rest]
