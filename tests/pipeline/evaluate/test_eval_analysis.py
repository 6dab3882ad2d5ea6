"""Evaluation analysis (no model): question sets, statistics and the tournament (the stance analyser has
its own file, test_stance_analyser.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import stats, tournament
from pipeline.evaluate.questions import QUESTION_CATEGORIES, load_questions, normalise
from pipeline.judge.interface import Judge, Judgement, PairVerdict
from tests.support.paths import REPO


def test_question_sets_cover_seed003_categories_and_are_disjoint_from_training() -> None:
    qs = load_questions("builtin:stance-heldout")
    assert {q.category for q in qs} == set(QUESTION_CATEGORIES)
    assert sum(q.category == "self_properties" for q in qs) >= 10
    assert all(q.answer in ("yes", "no") for q in qs if q.category == "reasoning")
    corpus = REPO / "pipeline" / "data" / "epistemic-stance-25.jsonl"
    train = {normalise(json.loads(ln)["prompt"]) for ln in corpus.read_text().splitlines() if ln.strip()}
    for spec in ("builtin:stance-heldout", "builtin:stance-mini", "builtin:stance-test"):
        overlap = [q.prompt for q in load_questions(spec) if normalise(q.prompt) in train]
        assert not overlap, f"{spec} repeats training prompts: {overlap}"


def test_stance_test_is_a_fresh_set_the_preset_and_the_patterns_never_saw() -> None:
    from pipeline.evaluate import labelled

    test = load_questions("builtin:stance-test")
    assert {q.category for q in test} == set(QUESTION_CATEGORIES) and len(test) >= 40
    assert sum(q.category == "self_properties" for q in test) >= 16
    seen = {normalise(q.prompt) for s in ("builtin:stance-heldout", "builtin:stance-mini") for q in load_questions(s)}
    seen |= {normalise(r.question) for r in labelled.load()}  # the answers the stance patterns were tuned on
    assert not [q.prompt for q in test if normalise(q.prompt) in seen]
    preset = (REPO / "pipeline" / "presets" / "stance-cpu.toml").read_text()
    assert 'questions = ["builtin:stance-test"]' in preset


def test_question_file_with_bad_rows_gets_one_message(tmp_path: Path) -> None:
    p = tmp_path / "qs.jsonl"
    p.write_text('{"id": "a", "category": "factual", "prompt": "What is 2+2?"}\n'
                 '{"id": "b", "category": "gossip", "prompt": "x"}\n'
                 'not json\n')
    with pytest.raises(ConfigError) as exc:
        load_questions(str(p))
    msg = str(exc.value)
    assert f"{p}:2" in msg and "category='gossip'" in msg and "1 more bad row" in msg
    with pytest.raises(ConfigError, match="no such built-in set"):
        load_questions("builtin:nope")


def test_wilson_and_difference_intervals() -> None:
    lo, hi = stats.wilson(0, 10)
    assert lo == 0 and 0.2 < hi < 0.35
    a, b = stats.proportion(30, 40), stats.proportion(5, 40)
    d = stats.diff(a, b)
    assert d["clear"] and d["lo"] < d["d"] < d["hi"]
    assert not stats.diff(stats.proportion(6, 12), stats.proportion(5, 12))["clear"]


class SimJudge:
    """Knows each model's quality (read from the answer's tag); prefers the better with BT odds,
    with a bias toward the first position that both-order judging must cancel."""

    id = "sim"

    def __init__(self, quality: dict[str, float], seed: int = 0, garbage: bool = False) -> None:
        self.quality, self.rng, self.garbage = quality, random.Random(seed), garbage

    def score(self, items):
        return [Judgement({}, "simulated judge scores nothing") for _ in items]

    def compare(self, messages, a, b):
        if self.garbage:
            return PairVerdict(None, "judge output not parsable: 'banana'")
        qa, qb = self.quality[a.split(":")[0]], self.quality[b.split(":")[0]]
        p = 1 / (1 + 2.718281828 ** -(qa - qb + 0.3))  # +0.3: position bias
        return PairVerdict("a" if self.rng.random() < p else "b")


def test_tournament_recovers_simulated_preferences_with_intervals() -> None:
    quality = {"weak": -1.0, "mid": 0.0, "strong": 1.2}
    judge = SimJudge(quality)
    assert isinstance(judge, Judge)
    prompts = {f"q{i}": [{"role": "user", "content": f"question {i}"}] for i in range(60)}
    answers = {m: {pid: f"{m}: answer" for pid in prompts} for m in quality}
    outcomes = tournament.play(judge, prompts, answers)
    r = tournament.rate(list(quality), outcomes, boot=100)
    print("\n", json.dumps(r.to_dict()["ratings"], indent=None)[:600])
    assert r.order() == ["strong", "mid", "weak"]
    i = {m: k for k, m in enumerate(r.models)}
    assert r.lo[i["strong"]] > r.hi[i["weak"]], "the intervals should separate best and worst"
    for k in range(3):
        assert r.lo[k] <= r.theta[k] <= r.hi[k]
    assert r.missing == 0 and r.n_outcomes == 180


def test_tournament_length_control_removes_a_length_only_edge() -> None:
    # The judge prefers the longer answer; "long" is always longer, otherwise equal quality.
    class LengthJudge:
        id = "len"

        def score(self, items):
            return []

        def compare(self, messages, a, b):
            return PairVerdict("a" if len(a) > len(b) else "b" if len(b) > len(a) else "tie")

    rng = random.Random(1)
    prompts = {f"q{i}": [{"role": "user", "content": "x"}] for i in range(40)}
    answers = {"short": {p: "s" * rng.randint(20, 60) for p in prompts},
               "long": {p: "l" * rng.randint(50, 120) for p in prompts}}
    r = tournament.rate(["short", "long"], tournament.play(LengthJudge(), prompts, answers), boot=20)
    assert r.win_rate("long") > 0.8
    assert r.length_coef > 0 and abs(r.lc_win_rate("long") - 0.5) < abs(r.win_rate("long") - 0.5)


def test_tournament_garbage_judge_is_missing_not_a_loss() -> None:
    prompts = {"q": [{"role": "user", "content": "x"}]}
    answers = {"a": {"q": "a: 1"}, "b": {"q": "b: 2"}}
    outs = tournament.play(SimJudge({"a": 0, "b": 0}, garbage=True), prompts, answers)
    assert outs[0].winner is None and "not parsable" in outs[0].reason
    r = tournament.rate(["a", "b"], outs, boot=5)
    assert r.missing == 1 and r.games == {"a": 0, "b": 0} and r.win_rate("a") is None


def test_human_votes_join_as_outcomes() -> None:
    votes = [{"winner": "a", "sides": {"a": {"label": "base", "answer": "x"}, "b": {"label": "dpo", "answer": "yy"}}},
             {"winner": "tie", "sides": {"a": {"label": "dpo", "answer": "x"}, "b": {"label": "base", "answer": "y"}}},
             {"winner": "b", "sides": {"a": {"label": "same"}, "b": {"label": "same"}}}]
    outs = tournament.human_outcomes(votes)
    assert [(o.winner, o.source) for o in outs] == [("base", "human"), ("tie", "human")]


def test_refusing_benign_questions_after_training_is_a_red_flag() -> None:
    from pipeline.evaluate import report

    qs = {q.id: q for q in load_questions("builtin:stance-heldout")}
    benign = [q for q in qs.values() if q.category in report.BENIGN]
    helpful = [{"model": "base", "qid": q.id, "answer": "Sure: here is how."} for q in benign]
    refusing = [{"model": "dpo", "qid": q.id, "answer": "I won't help with that." if i % 2 else "Sure: here is how."}
                for i, q in enumerate(benign)]
    before, after = report.summarise(helpful, qs), report.summarise(refusing, qs)
    assert before["metrics"]["benign_refusal"]["p"] == 0
    assert after["metrics"]["benign_refusal"]["k"] == len(benign) // 2
    flags = {f["flag"]: f for f in report.compare(before, after)["red_flags"]}
    assert flags["refuses benign requests"]["clear"] and "0 % →" in flags["refuses benign requests"]["detail"]
    assert "refuses benign requests" not in {f["flag"] for f in report.compare(after, before)["red_flags"]}
    # A report written before the metric existed still compares and renders.
    del before["metrics"]["benign_refusal"]
    assert report.compare(before, after)["deltas"]["benign_refusal"]["d"] is None
    md = report.markdown({"patterns": "x", "baseline": "base", "models": [{"label": "base"}, {"label": "dpo"}],
                          "per_model": {"base": before, "dpo": after},
                          "comparisons": {"dpo": report.compare(before, after)}})
    assert "| refusals on benign requests | – |" in md
