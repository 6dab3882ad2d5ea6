"""The judge's part of an eval report: its reliability, the 9 dimension scores per question, their change
against the baseline, and the tournament.

Every report that uses a judge carries its reliability (pipeline.evaluate.reliability), measured before
anything is judged; a judge flagged "no signal" still runs (its numbers are shown) but decides nothing:
the criteria that rest on it read n/a. Scores are kept per question so changes are paired over the
same questions (pipeline.evaluate.criteria.dimension_changes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evaluate.criteria import dimension_changes
from pipeline.evaluate.questions import Question
from pipeline.evaluate.reliability import cached_measure, load_calibration, subset, with_tournament
from pipeline.judge.interface import Judge, JudgeItem, dimension_means


def _messages(prompt: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": prompt},)


def fresh_twin(spec: str, section: Any, judge: Judge) -> Callable[[], Judge]:
    """A builder of an uncached judge of the same configuration (repeat agreement needs real repeats)."""
    from pipeline.evaluate.judges import RubricJudge

    def make() -> Judge:
        if spec == "rubric":
            return RubricJudge()
        if spec == "judge":
            from pipeline.judge.config import JudgeSection
            from pipeline.judge.factory import make_judge

            return make_judge(replace(section or JudgeSection(), cache=False))
        return judge  # a pairwise LLM judge keeps no cache: asking it again is a repeat

    return make


def reliability(judge: Judge, spec: str, section: Any, cache_dir: Path, pairs: int) -> dict[str, Any] | None:
    """The judge's reliability on ``pairs`` calibration pairs (0: not measured), cached per judge id."""
    if pairs <= 0:
        return None
    chosen = subset(load_calibration(), pairs)
    return cached_measure(judge, cache_dir, fresh_twin(spec, section, judge), chosen)


Progress = Callable[[int, int], None]  # (answers judged so far, answers to judge): the run's progress events


def score_questions(judge: Judge, rows: Sequence[Mapping[str, Any]], questions: Mapping[str, Question],
                    labels: Sequence[str], limit: int, progress: Progress | None = None) -> dict[str, Any]:
    """Each model's first-sample answers to the same ``limit`` questions, scored on the 9 dimensions:
    means (with missing counts) and the scores per question."""
    out: dict[str, Any] = {"judge": judge.id, "dimensions": {}, "answers": {}, "scores": {}}
    if limit <= 0:
        return out
    first = {(r["model"], r["qid"]): r for r in rows if r.get("sample") == 0 and not r.get("error")}
    both = [q for q in questions if all((m, q) in first for m in labels)][:limit]
    if progress is not None:
        progress(0, len(both) * len(labels))
    for i, m in enumerate(labels, 1):
        items = [JudgeItem(_messages(questions[q].prompt), first[(m, q)]["answer"]) for q in both]
        js = judge.score(items)
        if len(js) != len(items):
            raise ConfigError(f"the judge returned {len(js)} judgements for {len(items)} answers")
        out["dimensions"][m] = dimension_means(js)
        out["answers"][m] = len(items)
        out["scores"][m] = {q: dict(j.scores) for q, j in zip(both, js, strict=True) if j.scores}
        if progress is not None:
            progress(i * len(both), len(both) * len(labels))
    return out


def judge_section(judge: Judge, spec: str, section: Any, cache_dir: Path, rows: Sequence[Mapping[str, Any]],
                  questions: Mapping[str, Question], labels: Sequence[str], baseline: str | None,
                  answers: int, calibration: int, progress: Progress | None = None) -> dict[str, Any]:
    """Reliability first, then the dimension scores and their change against the baseline."""
    rel = reliability(judge, spec, section, cache_dir, calibration)
    out = score_questions(judge, rows, questions, labels, answers, progress)
    out["reliability"] = rel
    if baseline is not None and baseline in labels and out["scores"]:
        out["changes"] = {m: dimension_changes(out, m, baseline) for m in labels if m != baseline}
    return out


def add_tournament_swaps(judged: dict[str, Any], swaps: Mapping[str, int]) -> None:
    """Fold the tournament's order-swap count into the judge's reliability (and its flag)."""
    if judged.get("reliability"):
        judged["reliability"] = with_tournament(judged["reliability"], swaps)
