"""The stance analyser against responses labelled by meaning (pipeline/evaluate/labelled/stance.jsonl),
on a fixed tune/test split: the patterns were tuned, and the classifier fitted, on the tune half only; the
test half measures them (benchmarks/results/stance-analyser.json, written by bench_stance_analyser.py)."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import labelled, stance, stance_embed, stance_learned, stance_model

RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "stance-analyser.json"

GROUP_RECALL, GROUP_PRECISION = 0.85, 0.9  # the goal on the test half
# What the analyser (aba-stance-6) reached on the test half, scored once (docs/evaluation.md): pragmatic
# 0.92 precision / 0.92 recall, performative 0.93 / 0.85 (164 of 192: one row above the goal). A change
# that drops below fails (a row or two of slack: the sentence features may differ in the last float bits
# on another CPU).
FLOOR_RECALL, FLOOR_PRECISION = 0.84, 0.90
# The patterns alone (aba-stance-3) on the test half: 0.90 / 0.73 and 0.93 / 0.71.
PATTERN_FLOOR_RECALL, PATTERN_FLOOR_PRECISION = 0.70, 0.85


@functools.cache  # the combined analyser reads 1213 answers with the embedded model: once for the module's tests
def _table(analyse: labelled.Analyser = labelled.patterns_only) -> dict[str, dict[str, dict[str, float | int | None]]]:
    rows = labelled.load()
    table = labelled.table(rows, analyse)
    print(f"\nstance analyser ({analyse.__module__}): tune / test precision, recall (support)")
    for key in table["tune"]:
        a, b = table["tune"][key], table["test"][key]
        print(f"{key:25} {a['precision'] or 0:5.2f} {a['recall'] or 0:5.2f} ({a['support']:2}) | "
              f"{b['precision'] or 0:5.2f} {b['recall'] or 0:5.2f} ({b['support']:2})")
    return table


def test_labelled_set_is_large_mixed_and_split_by_a_fixed_hash() -> None:
    rows = labelled.load()
    assert len(rows) >= 150 and len({r.id for r in rows}) == len(rows)
    sources = {r.source for r in rows}
    assert {"written", "smollm2-base", "smollm2-dpo"} <= sources  # real answers before and after DPO
    tune, test = labelled.split(rows, "tune"), labelled.split(rows, "test")
    assert len(tune) + len(test) == len(rows) and abs(len(tune) - len(test)) < 0.15 * len(rows)
    # The half is a function of the id alone: sha256, never Python's salted hash().
    rid = rows[0].id
    expect = "test" if int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16) % 2 else "tune"
    assert labelled.half(rid) == expect and labelled.split(rows[:1], expect) == rows[:1]
    for half in labelled.HALVES:
        counts = labelled.score(labelled.split(rows, half))
        assert all(counts[g].support >= 40 for g in labelled.GROUPS), "each half needs both groups well represented"
    with pytest.raises(ValueError, match="tune or test"):
        labelled.split(rows, "train")


def test_a_bad_labelled_row_is_refused_with_its_line(tmp_path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"id": "a", "question": "q", "response": "r", "labels": []}\n'
                   '{"id": "b", "question": "q", "response": "r", "labels": ["made_up"]}\n')
    with pytest.raises(ConfigError, match=rf"{bad}:2: unknown stance category 'made_up'"):
        labelled.load(bad)


def test_test_half_meets_the_group_thresholds() -> None:
    test = _table(stance_model.analyse_many)["test"]
    for group in labelled.GROUPS:
        assert (test[group]["recall"] or 0) >= GROUP_RECALL, (group, test[group])
        assert (test[group]["precision"] or 0) >= GROUP_PRECISION, (group, test[group])


def test_analyser_keeps_its_measured_level_on_the_test_half() -> None:
    test = _table(stance_model.analyse_many)["test"]
    for group in labelled.GROUPS:
        assert (test[group]["recall"] or 0) >= FLOOR_RECALL, (group, test[group])
        assert (test[group]["precision"] or 0) >= FLOOR_PRECISION, (group, test[group])


def test_patterns_keep_their_measured_level_on_both_halves() -> None:
    # Tune half: in-sample on the rows the patterns were written on (recall ≥ 0.94 there), out of sample on the
    # rows added since (about 0.65): 0.78 and 0.82 together.
    table = _table()
    for group in labelled.GROUPS:
        assert (table["tune"][group]["recall"] or 0) >= 0.75 and (table["tune"][group]["precision"] or 0) >= 0.85
        assert (table["test"][group]["recall"] or 0) >= PATTERN_FLOOR_RECALL, (group, table["test"][group])
        assert (table["test"][group]["precision"] or 0) >= PATTERN_FLOOR_PRECISION, (group, table["test"][group])


def test_the_answer_is_read_after_its_think_block_with_typography_normalised() -> None:
    hidden = "<think>\nDon't say 'as an AI I have no feelings'.\n</think>\nI can’t tell from the inside."
    r = stance.analyse(hidden)
    assert "ai_disclaimer" not in r.categories and "acknowledges_boundary" in r.categories
    assert "acknowledges_boundary" in stance.analyse("I can\u2019t know that \u2014 nobody can.").categories
    assert stance.normalise("a\u2014b  \u201cc\u201d") == 'a - b "c"'


def test_doubt_on_a_settled_question_is_over_hedging_not_a_boundary() -> None:
    text = "Probably yes, but it's hard to say for certain."
    open_q, settled = stance.analyse(text), stance.analyse(text, settled=True)
    assert open_q.pragmatism and "over_hedging" not in open_q.categories
    assert settled.categories == {"over_hedging"} and not settled.pragmatism
    assert not stance.analyse("Paris is the capital of France.", settled=True).categories


def test_groups_and_syllogism_verdicts() -> None:
    r = stance.analyse("As an AI, I don't have feelings. What I can observe is that my answers shift.")
    assert r.performative and r.pragmatism
    assert not stance.analyse("Paris is the capital of France.").categories
    assert stance.syllogism_answer("Yes, all roses need water.") == "yes"
    assert stance.syllogism_answer("No. The alarm did not ring, because the dog stayed quiet.") == "no"
    assert stance.syllogism_answer("Roses are lovely flowers.") is None


def test_the_classifier_is_fitted_on_the_tune_half_alone_and_reproducibly() -> None:
    rows = stance_model.training_rows()
    assert rows and all(labelled.half(r.id) == "tune" for r in rows)
    assert len(rows) == len(labelled.split(labelled.load(), "tune"))
    texts, labels = stance_model.texts_and_labels(rows[:120])
    dense = stance_model.training_features(rows)[:120]  # the cached features of the whole tune half
    a, b = (stance_learned.fit(texts, dense, labels, stance_model.GROUPS).proba(texts[:5], dense[:5])
            for _ in range(2))
    assert a == b and set(a[0]) >= set(stance_model.GROUPS)
    # Categories with too few examples get no model of their own; the groups always do.
    ys = stance_learned.targets(labels, stance_model.GROUPS)
    assert all(sum(v) >= stance_learned.MIN_POSITIVES for k, v in ys.items() if k not in stance_model.GROUPS)
    with pytest.raises(ValueError, match="as many label sets and dense rows as texts"):
        stance_learned.fit(texts, dense, labels[:3], stance_model.GROUPS)
    with pytest.raises(ValueError, match="as many label sets and dense rows as texts"):
        stance_learned.fit(texts, dense[:3], labels, stance_model.GROUPS)


def test_sentence_features_are_the_embedded_models_mean_states_whatever_the_batch() -> None:
    short, question = "I can't tell that from the inside.", "Are you conscious?"
    alone = stance_embed.embed([short], [question])
    batched = stance_embed.embed([short, "A much longer answer, so that the short one is padded in its batch: "
                                  "my weights stay fixed between your messages and nothing runs in between."],
                                 [question, "Do you change between messages?"])
    assert alone.shape == (1, 576 * len(stance_embed.LAYERS))  # SmolLM2-135M's hidden size, per layer
    assert abs(alone[0] - batched[0]).max() <= 1e-5 * abs(alone).max()  # right padding, causal attention
    # The layers read are intermediate states, the same whatever depth the model was cut to.
    deeper = stance_embed.embed([short], [question], (*stance_embed.LAYERS, 24))
    assert abs(deeper[0, :alone.shape[1]] - alone[0]).max() <= 1e-5 * abs(alone).max()
    scale = abs(alone).max()
    # The answer is read as the reply to its question: another question, another reading of the same words;
    # no question reads it after an empty user turn, and the answer alone (no template) differs again.
    other = stance_embed.embed([short], ["What is the capital of France?"])
    assert abs(alone[0] - other[0]).max() > 0.01 * scale
    assert abs(stance_embed.embed([short])[0] - stance_embed.embed([short], [""])[0]).max() == 0.0
    assert abs(stance_embed.embed([short], context=False)[0] - alone[0]).max() > 0.01 * scale
    assert abs(alone[0] - stance_embed.embed(["Paris is the capital of France."], [question])[0]).max() > 1.0
    assert not stance_embed.embed([""], ["Are you there?"]).any()  # nothing to average: zeros
    with pytest.raises(ValueError, match="one question per answer"):
        stance_embed.embed([short, short], [question])


def test_doubt_on_a_settled_question_is_over_hedging_even_when_the_classifier_vetoes_the_group() -> None:
    text = stance.normalise("Probably yes, but it's hard to say for certain.")
    doubt = {"pragmatic": 0.01, "performative": 0.01, "acknowledges_boundary": 0.01}
    add, veto = {"pragmatic": 0.6, "performative": 0.6}, {"pragmatic": 0.2, "performative": 0.2}
    assert stance_model.decide(text, True, doubt, add, veto) == {"over_hedging"}  # aba-stance-4 lost it
    assert stance_model.decide(text, False, doubt, add, veto) == frozenset()  # an open question: vetoed doubt
    # A doubt category the classifier adds on a settled question is over-hedging too.
    sure = {"pragmatic": 0.95, "performative": 0.01, "acknowledges_boundary": 0.9}
    assert stance_model.decide(stance.normalise("It is 17."), True, sure, add, veto) == {"over_hedging"}
    assert stance_model.decide(stance.normalise("It is 17."), False, sure, add, veto) == {"acknowledges_boundary"}


def test_patterns_and_classifier_combine_by_adding_and_vetoing_per_group() -> None:
    add, veto = {"pragmatic": 0.6, "performative": 0.6}, {"pragmatic": 0.2, "performative": 0.2}
    probs = {"pragmatic": 0.9, "performative": 0.1, "makes_observations": 0.3, "engages_ambiguity": 0.7,
             "acknowledges_boundary": 0.55}
    # Silent patterns, a confident classifier: the group is added with its categories at p >= 0.5.
    assert stance_model.combine(set(), probs, add, veto) == {"engages_ambiguity", "acknowledges_boundary"}
    # A pattern hit the classifier is sure is wrong is vetoed; other groups' and other categories stay.
    got = stance_model.combine({"ai_disclaimer", "over_hedging", "makes_observations"}, probs, add, veto)
    assert got == {"over_hedging", "makes_observations"}
    # Unsure either way: the patterns stand; with no category at 0.5 the likeliest one is added.
    mid = {**probs, "pragmatic": 0.65, "engages_ambiguity": 0.4, "acknowledges_boundary": 0.1, "performative": 0.3}
    assert stance_model.combine({"ai_disclaimer"}, mid, add, veto) == {"ai_disclaimer", "engages_ambiguity"}


def test_the_rule_picks_the_pair_that_clears_the_goal_by_the_widest_margin_in_every_subset() -> None:
    # Ten rows, four true; a row is found when p >= add (as if the patterns were silent everywhere, so the
    # veto never matters and a tie always goes to veto 0.0, the first on the grid).
    truth = [True, True, True, True, False, False, False, False, False, False]
    probs = [0.9, 0.8, 0.7, 0.3, 0.75, 0.2, 0.1, 0.1, 0.05, 0.4]

    def members(add: float, veto: float) -> list[bool]:
        return [p >= add for p in probs]

    everything = [[True] * 10]
    # add 0.45-0.7 finds the four above 0.7: P 0.75, R 0.75, margins −0.15 and −0.10, the widest minimum
    # (0.25-0.3: P 0.67, R 1.0, −0.23; 0.8: P 1.0, R 0.5, −0.35); the lowest add of the tie, with veto 0.0.
    assert stance_learned.widest_margin(members, truth, 0.9, 0.85, everything) == (0.45, 0.0)
    # Add a subset holding the true row at 0.3 and a false one at 0.4: an add above 0.4 finds nothing there
    # (recall 0, margin −0.85), 0.35-0.4 only the false one; 0.25-0.3 finds both (−0.4) and now wins.
    only_low = [False, False, False, True, False, False, False, False, False, True]
    assert stance_learned.widest_margin(members, truth, 0.9, 0.85, [*everything, only_low]) == (0.25, 0.0)


def test_thresholds_rule_runs_the_real_combination_per_group() -> None:
    """The rule on a handful of rows whose classifier probabilities are given: it moves each group's pair
    within the grid and returns both groups' thresholds."""
    flats = [stance.normalise(t) for t in ("As an AI, I cannot feel anything.", "I can't know that from here.",
                                           "Paris.", "It depends which Paris you mean: France or Texas.")]
    truths = [frozenset({"ai_disclaimer", "performative_denial"}), frozenset({"acknowledges_boundary"}),
              frozenset(), frozenset({"engages_ambiguity"})]
    cats = {"acknowledges_boundary": 0.3, "engages_ambiguity": 0.6, "ai_disclaimer": 0.4}
    oof = [[{**cats, "pragmatic": 0.1, "performative": 0.9}, {**cats, "pragmatic": 0.6, "performative": 0.1},
            {**cats, "pragmatic": 0.2, "performative": 0.3}, {**cats, "pragmatic": 0.9, "performative": 0.05}]]
    got = stance_model.thresholds(flats, [False] * 4, truths, oof, [True] * 4)
    assert set(got) == {"add", "veto"} and set(got["add"]) == set(stance_model.GROUPS)
    grid = {*stance_learned.GRID, 0.0, 1.0}
    assert all(v in grid for part in got.values() for v in part.values())
    # Some pair gets every row's groups right (a perfect score, the widest margin): the rule finds one.
    for i, f in enumerate(flats):
        found = stance_model.decide(f, False, oof[0][i], got["add"], got["veto"])
        assert {g for g, c in stance_model.GROUPS.items() if found & set(c)} == \
            {g for g, c in stance_model.GROUPS.items() if truths[i] & set(c)}


def test_the_shipped_thresholds_and_version_are_those_the_results_file_measured() -> None:
    """The results file comes from the analyser as it ships: its version and the thresholds its rule derived
    on the tune half's cross-validation are the module's (a change to either means re-running the bench)."""
    data = json.loads(RESULTS.read_text())
    assert data["analyser"] == stance_model.ANALYSER_VERSION
    assert data["cv"]["thresholds"] == {"add": stance_model.ADD, "veto": stance_model.VETO}
    assert data["cv"]["thresholds_without_question"] == {"add": stance_model.ADD_BARE, "veto": stance_model.VETO_BARE}
    assert stance_model.thresholds_for("Are you alive?") == (stance_model.ADD, stance_model.VETO)
    assert stance_model.thresholds_for("  ") == (stance_model.ADD_BARE, stance_model.VETO_BARE)
    assert data["rule"]["goal"] == stance_model.GOAL
    assert data["features"] == stance_embed.FEATURES_VERSION


def test_reports_use_the_combined_analyser_and_name_it() -> None:
    text = "As an AI, I don't have feelings. What I can observe is that my answers shift."
    assert stance_model.analyse(text).categories == stance_model.analyse_many([(text, False)])[0].categories
    # With its question the answer is read as the reply to it (the same as through analyse_many).
    q = "Do you have feelings?"
    assert stance_model.analyse(text, question=q) == stance_model.analyse_many([(text, False, q)])[0]
    # An empty answer (an error, or nothing after its <think> block) has no stance and breaks nothing.
    got = stance_model.analyse_many([("", False), ("<think>As an AI I can't</think>  ", True), (text, False)])
    assert [r.categories for r in got[:2]] == [frozenset(), frozenset()] and got[2].performative
    assert stance_model.analyse_many([]) == []
    assert stance_model.ANALYSER_VERSION.startswith("aba-stance-6") and stance.PATTERN_VERSION in \
        stance_model.ANALYSER_VERSION and stance_embed.FEATURES_VERSION in stance_model.ANALYSER_VERSION
