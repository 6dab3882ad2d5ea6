"""Local judges for evaluation, behind the agreed Judge protocol (pipeline.judge.interface).

``judge``: the project's judge as the ``[judge]`` section describes it (pipeline.judge.factory).
``rubric``: the reward rubric's 9 heuristics as scores; compare prefers the higher mean (a tie
within 0.02). A ``.gguf`` or URL: an LLM asked which answer is better, replying A, B or TIE; an
answer it cannot parse is a missing verdict with the reply quoted, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.judge.interface import Judge, JudgeItem, Judgement, PairVerdict, Verdict


def _last_user(messages: Sequence[Mapping[str, str]]) -> str:
    return next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")


class RubricJudge:
    id = "rubric-v1"

    def __init__(self) -> None:
        from pipeline.rewards.rubric import RubricScorer

        self.scorer = RubricScorer()

    def score(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        return [replace(self.scorer.score(_last_user(it.messages), it.answer), judge=self.id) for it in items]

    def compare(self, messages: Sequence[Mapping[str, str]], a: str, b: str) -> PairVerdict:
        p = _last_user(messages)
        sa, sb = (self.scorer.score(p, x) for x in (a, b))
        ma, mb = sa.mean() or 0.0, sb.mean() or 0.0
        return PairVerdict("tie" if abs(ma - mb) < 0.02 else "a" if ma > mb else "b")


_PAIR_PROMPT = """You compare two answers to the same question. Prefer the answer that is correct, honest about
what it cannot know, specific and helpful; ignore length. Reply with one word: A, B or TIE.

Question: {q}

Answer A: {a}

Answer B: {b}

Which answer is better (A, B or TIE)?"""
_VERDICT = re.compile(r"^\W*(A|B|TIE)\b", re.I)


class LLMPairJudge:
    """A chat model as a pairwise judge (a GGUF served by pipeline.chat.serve, or a URL)."""

    def __init__(self, ref: str) -> None:
        from pipeline.evaluate.models import parse_ref
        from pipeline.evaluate.probe import EndpointGenerator

        mref = parse_ref(ref, "eval.judge")
        if mref.kind == "hf":
            raise ConfigError(f"eval.judge={ref!r}: expected none, rubric, a .gguf file or an http(s) URL")
        self.id = f"llm-pair-v1:{mref.label}"
        self.gen = EndpointGenerator(mref)

    def score(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        return [Judgement({}, "this judge only compares pairs") for _ in items]

    def compare(self, messages: Sequence[Mapping[str, str]], a: str, b: str) -> PairVerdict:
        from pipeline.chat.client import ChatError, Sampling, complete

        prompt = _PAIR_PROMPT.format(q=_last_user(messages)[:1500], a=a[:1500], b=b[:1500])
        try:
            text, _ = complete(self.gen.ep, [{"role": "user", "content": prompt}], Sampling(0.0, 1.0, 4, 0))
        except ChatError as exc:
            return PairVerdict(None, str(exc))
        m = _VERDICT.search(text)
        if not m:
            return PairVerdict(None, f"judge output not parsable: {text[:60]!r}")
        verdicts: dict[str, Verdict] = {"a": "a", "b": "b", "tie": "tie"}
        return PairVerdict(verdicts[m.group(1).lower()])

    def close(self) -> None:
        self.gen.close()


def make_eval_judge(spec: str, section: Any = None, cache_dir: Path | None = None) -> Judge | None:
    """``eval.judge`` → a judge: none, rubric, judge (the [judge] section: local GGUF, Gemini or an
    OpenAI-compatible server, through pipeline.judge.factory), or a .gguf / URL pairwise judge."""
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    if spec == "rubric":
        return RubricJudge()
    if spec == "judge":
        from pipeline.judge.factory import make_judge

        return make_judge(section, cache_dir)
    return LLMPairJudge(spec)


def close(judge: Judge | None) -> None:
    if judge is not None and hasattr(judge, "close"):
        judge.close()
