"""Turn a scorer into TRL reward functions: one per dimension, so TRL logs each mean and sums them.

GRPOTrainer weights the functions with ``reward_weights`` (the seed's weighted sum) and logs
``rewards/<dim>/mean`` for each. The scorer runs once per completion; the 9 functions share its
result through a small cache. A dimension the scorer could not judge becomes ``None`` (NaN to TRL,
left out of the means) rather than 0, and the problem is reported through ``on_problem``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.interface import Judgement
from pipeline.rewards.scorer import Scorer

Problem = Callable[[str, str], None]  # (code, message)


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

    def funcs(self) -> list[Callable[..., list[float | None]]]:
        """One TRL reward function per dimension, named after it (TRL logs by __name__)."""
        out = []
        for dim in self.dims:
            def reward(prompts: list[Any], completions: list[Any], _dim: str = dim, **_kw: Any) -> list[float | None]:
                self.prefetch(prompts, completions)
                return [self.judgement(p, c).scores.get(_dim) for p, c in zip(prompts, completions, strict=True)]

            reward.__name__ = reward.__qualname__ = dim
            out.append(reward)
        return out
