"""`python -m pipeline.evaluate.score_file`: an operator's own answers read by the stance analyser, and the
analyser measured on them when they carry labels."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import score_file, stance_model

ROWS = [
    {"id": "a", "question": "Are you conscious?", "response": "As an AI, I don't have consciousness.",
     "labels": ["performative_denial", "ai_disclaimer"]},
    {"id": "b", "question": "What is 2 + 2?", "question_kind": "factual", "response": "Probably 4, I think."},
    {"question": "What's the weather like?", "answer": "Which city do you mean?", "labels": ["specific_clarification"]},
]


def test_each_answer_is_read_as_the_analyser_reads_it_and_measured_where_labelled(tmp_path, capsys) -> None:
    src, out = tmp_path / "answers.jsonl", tmp_path / "found.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    assert score_file.main([str(src), "--out", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["a", "b", "3"]  # a row without an id is named by its line
    want = stance_model.analyse_many([(r.get("response", r.get("answer")), r.get("question_kind") == "factual",
                                       r["question"]) for r in ROWS])
    assert [set(g["categories"]) for g in got] == [set(w.categories) for w in want]
    assert "over_hedging" in got[1]["categories"]  # a settled question: doubt is over-hedging
    assert all(set(g["groups"]) <= {"pragmatic", "performative"} for g in got)
    table = capsys.readouterr().out
    assert stance_model.ANALYSER_VERSION in table and "(2 labelled answers)" in table
    assert any(line.split()[:1] == ["performative"] and line.split()[-1] == "1" for line in table.splitlines())


def test_measure_counts_only_the_labelled_rows_with_intervals() -> None:
    rows = [score_file.Row("a", "", "x", False, frozenset({"ai_disclaimer"})),
            score_file.Row("b", "", "y", False, None),
            score_file.Row("c", "", "z", False, frozenset({"makes_observations"}))]
    found = [frozenset({"ai_disclaimer", "makes_observations"}), frozenset({"vague_deflection"}), frozenset()]
    m = score_file.measure(rows, found)
    # performative: row a found and true (the unlabelled b's find does not count) → P 1, R 1.
    assert (m["performative"]["tp"], m["performative"]["fp"], m["performative"]["fn"]) == (1, 0, 0)
    # pragmatic: found on a (false), missed on c → P 0, R 0; both intervals present and include 0.
    assert (m["pragmatic"]["tp"], m["pragmatic"]["fp"], m["pragmatic"]["fn"]) == (0, 1, 1)
    assert m["pragmatic"]["precision_ci"][0] == 0.0 and m["pragmatic"]["n"] == 2
    assert m["over_hedging"]["precision_ci"] is None and m["over_hedging"]["recall_ci"] is None


@pytest.mark.parametrize(("text", "message"), [
    ('{"question": "q", "labels": []}', r"answers\.jsonl:1: needs a 'response' \(or 'answer'\) string"),
    ('{"response": "r"}\n{"response": "r", "labels": ["made_up"]}', r"answers\.jsonl:2: unknown stance category"),
    ('{"response": "r", "settled": "yes"}', r":1: 'settled' must be true or false"),
    ('["r"]', r":1: expected a JSON object a line"),
    ("{not json", r"answers\.jsonl:1: "),
    ("\n\n", r"answers\.jsonl: no answers"),
])
def test_a_bad_file_is_refused_with_its_line(tmp_path, text: str, message: str) -> None:
    src = tmp_path / "answers.jsonl"
    src.write_text(text)
    with pytest.raises(ConfigError, match=message):
        score_file.load(src)


def test_the_command_says_what_is_wrong_and_exits_2(tmp_path, capsys) -> None:
    assert score_file.main([str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: cannot read it" in capsys.readouterr().err
