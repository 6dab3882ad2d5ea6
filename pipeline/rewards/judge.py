"""The judge as GRPO's scorer (grpo.scorer = "judge"): 9 dimensions from an LLM, batched and cached.

A dimension the judge did not score (a failed, blocked or unparsable judgement) is left out, so the
completion's reward is the weighted sum of the dimensions that were scored, never a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.judge.config import JudgeSection
from pipeline.judge.factory import make_judge
from pipeline.judge.interface import JudgeItem, Judgement
from pipeline.runs.vocabulary import JudgeStats


class JudgeScorer:
    name = "judge"

    def __init__(self, section: JudgeSection | None = None, cache_dir: Path | None = None) -> None:
        self.judge = make_judge(section or JudgeSection(), cache_dir=cache_dir)
        self.scored = 0
        self.missing = 0  # completions with at least one dimension missing
        self.last_reason = ""
        self.on_batch: Callable[[list[Judgement]], None] | None = None  # GRPO logs a judge event

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[Judgement]:
        """All completions of a GRPO step in one go: the judge runs them concurrently."""
        items = [JudgeItem(({"role": "user", "content": p},), c) for p, c in pairs]
        out = self.judge.score(items)
        for j in out:
            self.scored += 1
            if not j.ok or j.missing_dimensions():
                self.missing += 1
                self.last_reason = j.missing_reason or f"missing {', '.join(j.missing_dimensions())}"
        if self.on_batch is not None:
            self.on_batch(out)
        return out

    def score(self, prompt: str, completion: str) -> Judgement:
        return self.score_batch([(prompt, completion)])[0]

    def stats(self) -> JudgeStats:
        led = self.judge.ledger.snapshot()
        cache = self.judge.cache
        return {"judged": self.scored, "judge_missing": self.missing, "judge_requests": led["requests"],
                "judge_cost_usd": led["cost_usd"], "judge_cache_hit_rate": round(cache.hit_rate, 4) if cache else 0.0}
