"""Turn a scorer into GRPO's reward: one TRL reward function, the project's weighted sum of 9 dimensions.

The weighted sum is ours (``weights.weighted_sum``), not TRL's: a dimension the scorer could not judge
is left out and the present weights renormalised, and a completion with nothing scored gets ``None``,
which TRL (≥ 1.6) keeps out of its group's baseline with an advantage of 0 — a skipped row, never a 0
reward. (Nine TRL functions summed by TRL's ``nansum`` would count a missing dimension as 0.) Each batch
logs every dimension's mean over the completions that scored it (``rewards/<dim>``), the share of
missing (completion, dimension) cells (``missing_share``) and of completions with no reward
(``unscored_share``) through TRL's ``log_metric``. The scorer runs once per completion (a small cache).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.interface import Judgement
from pipeline.rewards.scorer import Scorer
from pipeline.rewards.weights import weighted_sum

Problem = Callable[[str, str], None]  # (code, message)
REWARD_NAME = "weighted_sum"  # the one TRL reward function (TRL logs its mean as `reward` too)


def as_text(value: Any) -> str:
    """A TRL prompt or completion (a string, or chat messages) → the text a scorer reads.

    System messages are left out: they are instructions to the model, not the user's request.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) for m in value
                         if isinstance(m, dict) and m.get("role") != "system")
    return str(value)


class RewardBank:
    def __init__(self, scorer: Scorer, dims: tuple[str, ...] = DIMENSIONS, on_problem: Problem | None = None,
                 cache_size: int = 4096) -> None:
        self.scorer = scorer
        self.dims = dims
        self.on_problem = on_problem or (lambda code, msg: None)
        self._cache: OrderedDict[tuple[str, str], Judgement] = OrderedDict()
        self._cache_size = cache_size
        self._reported: set[str] = set()
        self.calls = 0

    def _report(self, code: str, message: str) -> None:
        # Once per code: a broken judge fails on every completion; one alert says it.
        if code not in self._reported:
            self._reported.add(code)
            self.on_problem(code, message)

    def judgement(self, prompt: Any, completion: Any) -> Judgement:
        """The scorer's judgement of one completion (cached), its out-of-range scores left out."""
        key = (as_text(prompt), as_text(completion))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        try:
            raw = self.scorer.score(*key)
        except Exception as exc:  # a judge error must not end the run; it must be seen
            why = f"{self.scorer.name} scorer failed: {type(exc).__name__}: {exc}"[:300]
            self._report("scorer_error", why)
            raw = Judgement({}, missing_reason=why)
        return self._store(key, raw)

    def _store(self, key: tuple[str, str], raw: Judgement) -> Judgement:
        self.calls += 1
        out: dict[str, float] = {}
        for dim in self.dims:
            value = raw.scores.get(dim)
            if value is None:
                continue
            if not isinstance(value, int | float) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                self._report("scorer_bad_value", f"{self.scorer.name} scorer gave {dim}={value!r} "
                             "(expected a number in 0..1); left out")
                continue
            out[dim] = float(value)
        if raw.scores and out and not any(out.values()):
            self._report("scorer_all_zero", f"{self.scorer.name} scorer gave 0 on every dimension "
                         "(a judge failure?): check its output")
        kept = replace(raw, scores=out)
        self._cache[key] = kept
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return kept

    def prefetch(self, prompts: list[Any], completions: list[Any]) -> None:
        """Score a whole batch at once when the scorer can (the judge: concurrent calls)."""
        batch = getattr(self.scorer, "score_batch", None)
        if batch is None:
            return
        todo = list(dict.fromkeys(k for k in ((as_text(p), as_text(c)) for p, c in zip(prompts, completions,
                                                                                      strict=True))
                                  if k not in self._cache))
        if not todo:
            return
        try:
            results = batch(todo)
        except Exception as exc:  # scored one by one below, where the error is reported
            self._report("scorer_error", f"{self.scorer.name} scorer failed: {type(exc).__name__}: {exc}"[:300])
            return
        for key, raw in zip(todo, results, strict=True):
            self._store(key, raw)

    def batch_metrics(self, judgements: list[Judgement], rewards: list[float | None]) -> dict[str, float]:
        """A batch's per-dimension means (over the completions that scored each), the share of missing
        (completion, dimension) cells and the share of completions left without a reward."""
        out: dict[str, float] = {}
        cells = missing = 0
        for dim in self.dims:
            vals = [j.scores[dim] for j in judgements if dim in j.scores]
            cells += len(judgements)
            missing += len(judgements) - len(vals)
            if vals:
                out[f"rewards/{dim}/mean"] = sum(vals) / len(vals)
        if cells:
            out["missing_share"] = missing / cells
            out["unscored_share"] = sum(r is None for r in rewards) / len(rewards)
        return out

    def reward_func(self, weights: Mapping[str, float]) -> Callable[..., list[float | None]]:
        """GRPO's one reward function: the weighted sum over the dimensions scored (None: nothing scored)."""

        def reward(prompts: list[Any], completions: list[Any], log_metric: Callable[[str, float], None] | None = None,
                   **_kw: Any) -> list[float | None]:
            self.prefetch(prompts, completions)
            judgements = [self.judgement(p, c) for p, c in zip(prompts, completions, strict=True)]
            rewards = [weighted_sum(j.scores, weights) for j in judgements]
            if log_metric is not None:
                for name, value in self.batch_metrics(judgements, rewards).items():
                    log_metric(name, value)
            return rewards

        reward.__name__ = reward.__qualname__ = REWARD_NAME
        return reward
