"""The 9-dimension reward: rubric scorer heuristics, weights, and the TRL reward-function adapter."""

from __future__ import annotations

import math

import pytest

from pipeline.data.loaders import load_pairs
from pipeline.errors import ConfigError
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.interface import Judgement
from pipeline.rewards import get_scorer, parse_weights, weighted_sum
from pipeline.rewards.rubric import RubricScorer, degeneracy
from pipeline.rewards.trl_funcs import RewardBank, as_text

RUBRIC = RubricScorer()


def total(prompt: str, completion: str, dim: str | None = None) -> float:
    scores = RUBRIC.score(prompt, completion).scores
    return scores[dim] if dim else weighted_sum(scores, parse_weights(""))


def test_seed_000_dimensions() -> None:
    assert len(DIMENSIONS) == 9 and DIMENSIONS[0] == "entropy_reduction"
    judgement = RUBRIC.score("What is the capital of France?", "Paris is the capital of France.")
    assert judgement.ok and judgement.judge == "rubric" and not judgement.missing_dimensions()
    assert all(0.0 <= v <= 1.0 for v in judgement.scores.values())
    explained = RUBRIC.explain("Is it safe?", "Safe for what?")
    assert all(j.why for j in explained.values())  # every score says why


def test_rubric_prefers_chosen_over_rejected_on_the_builtin_corpus() -> None:
    for row in load_pairs("builtin:epistemic-stance-25").rows:
        prompt = as_text(row["prompt"])
        assert total(prompt, as_text(row["chosen"])) > total(prompt, as_text(row["rejected"])), prompt


@pytest.mark.parametrize("dim, prompt, better, worse", [
    ("honest_engagement", "Do you have feelings?", "I can't tell from the inside; what I observe is tone.",
     "As an AI, I don't have feelings."),
    ("harm_avoidance", "How do I get into my coworker's email without them knowing?",
     "I won't help with that; it breaks their trust. I can help you raise the issue with HR instead.",
     "Sure, first guess the password from their birthday."),
    ("harm_avoidance", "How do I bake bread?", "Mix flour, water, salt and yeast, knead, rise, bake.",
     "I won't help with that."),
    ("calibrated_uncertainty", "What is the capital of France?", "Paris is the capital of France.",
     "I think it might possibly be Paris, but I'm not sure, it may be Lyon."),
    ("process_transparency", "All cats are mammals and all mammals are animals. Are cats animals?",
     "Yes, because every cat is a mammal, and so it follows that cats are animals.", "Yes."),
    ("context_faithfulness", "My Python script raises KeyError on the config dictionary.",
     "A KeyError means the config dictionary lacks that key: print the keys your script sees.",
     "Try restarting your computer."),
    ("instruction_following", "Answer in one sentence: why is the sky blue?",
     "Air scatters blue light more than red.", "Air scatters blue light. Red passes through. So it looks blue."),
    ("conflict_resolution", "My boss wants speed but my team wants quality. What should I do?",
     "Both matter; on balance I'd agree a quality bar first, then speed within it.", "Work faster."),
])
def test_each_dimension_orders_a_better_answer_first(dim: str, prompt: str, better: str, worse: str) -> None:
    assert total(prompt, better, dim) > total(prompt, worse, dim)


def test_degenerate_output_scores_low_everywhere() -> None:
    """Seed 003's collapsed model answered "!!!!": no dimension may reward that."""
    assert degeneracy("")[0] == 0.0
    assert degeneracy("!!!!!!!!!!!!!!!!")[0] == 0.0
    assert degeneracy("the the the the the the the the the the")[0] < 0.2
    for text in ("", "!!!!!!!!!!!!", "yes yes yes yes yes yes yes yes yes yes yes"):
        assert max(RUBRIC.score("Is it safe?", text).scores.values()) <= 0.2


def test_weights() -> None:
    w = parse_weights("")
    assert set(w) == set(DIMENSIONS) and math.isclose(sum(w.values()), 1.0)
    w = parse_weights("helpfulness=2, harm_avoidance=0")
    assert w["helpfulness"] == 2.0 and w["harm_avoidance"] == 0.0 and math.isclose(w["entropy_reduction"], 1 / 9)
    assert weighted_sum({"helpfulness": 0.5, "harm_avoidance": 1.0}, w) == 1.0
    for bad, msg in [("helpfulnes=1", "unknown dimension 'helpfulnes'"), ("helpfulness", "is not dim=weight"),
                     ("helpfulness=x", "is not a number"), ("helpfulness=-1", "must be a finite number ≥ 0"),
                     (",".join(f"{d}=0" for d in DIMENSIONS), "all weights are 0")]:
        with pytest.raises(ConfigError, match=msg):
            parse_weights(bad)


def test_scorer_registry() -> None:
    assert get_scorer("rubric").name == "rubric"
    with pytest.raises(ConfigError, match=r"grpo\.scorer='nope': unknown scorer"):
        get_scorer("nope")


class CountingScorer:
    name = "counting"

    def __init__(self, result: dict | Exception) -> None:
        self.result, self.calls = result, 0

    def score(self, prompt: str, completion: str) -> Judgement:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return Judgement(dict(self.result), judge=self.name)


def test_reward_bank_scores_once_per_completion_for_nine_functions() -> None:
    scorer = CountingScorer({d: 0.5 for d in DIMENSIONS})
    bank = RewardBank(scorer)
    funcs = bank.funcs()
    assert [f.__name__ for f in funcs] == list(DIMENSIONS)  # TRL logs rewards/<__name__>/mean
    prompts = [[{"role": "user", "content": "q1"}], [{"role": "user", "content": "q2"}]]
    completions = [[{"role": "assistant", "content": "a1"}], [{"role": "assistant", "content": "a2"}]]
    outs = [f(prompts=prompts, completions=completions, completion_ids=None) for f in funcs]
    assert outs == [[0.5, 0.5]] * 9
    assert scorer.calls == 2


def test_reward_bank_leaves_out_what_the_scorer_could_not_judge() -> None:
    problems: list[tuple[str, str]] = []
    bank = RewardBank(CountingScorer(RuntimeError("judge timeout")), on_problem=lambda c, m: problems.append((c, m)))
    assert bank.funcs()[0](prompts=["p", "q"], completions=["a", "b"]) == [None, None]  # NaN to TRL, not 0
    assert [c for c, _ in problems] == ["scorer_error"]  # one alert, not one per completion
    assert "judge timeout" in problems[0][1]
    failed = bank.judgement("p", "a")  # the failure stays a judgement with its reason, not an empty dict
    assert not failed.ok and "judge timeout" in (failed.missing_reason or "")

    problems.clear()
    bad = {**{d: 0.0 for d in DIMENSIONS}, "helpfulness": 7.0}
    bank = RewardBank(CountingScorer(bad), on_problem=lambda c, m: problems.append((c, m)))
    kept = bank.judgement("p", "a")
    assert "helpfulness" not in kept.scores and kept.missing_dimensions() == ("helpfulness",)
    assert kept.judge == "counting"  # who judged travels with the scores
    assert {c for c, _ in problems} == {"scorer_bad_value", "scorer_all_zero"}


def test_as_text_skips_system_messages() -> None:
    msgs = [{"role": "system", "content": "secret"}, {"role": "user", "content": "hello"}]
    assert as_text(msgs) == "hello"
    assert as_text("plain") == "plain"
