"""The stance set's second labeller: its file loads against the set, bad rows are refused with the file and
line, and the agreement (benchmarks/bench_stance_labellers.py) is Cohen's κ as defined."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import labelled, stance

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from benchmarks.bench_stance_labellers import SAMPLE, agreement  # noqa: E402


@pytest.fixture(scope="module")
def rows() -> list[labelled.Labelled]:
    return labelled.load()


def test_second_labeller_file_loads_against_the_set(rows: list[labelled.Labelled]) -> None:
    second = labelled.load_second(r.id for r in rows)
    drawn_from = {r.id for r in rows[:SAMPLE[1]]}
    assert len(second) == 160
    assert len({s.id for s in second}) == len(second)
    assert all(s.id in drawn_from for s in second)
    assert all(s.labels <= set(stance.CATEGORIES) for s in second)
    assert any(s.note for s in second) and any(s.labels for s in second) and any(not s.labels for s in second)


@pytest.mark.parametrize(("bad", "says"), [
    ({"id": "a", "labels": ["made_up_category"]}, "'made_up_category'"),
    ({"id": "nope", "labels": []}, "id 'nope' is not a row"),
    ({"id": "a", "labels": "ai_disclaimer"}, "labels must be a list"),
    ({"id": "a"}, "missing key 'labels'"),
    ({"id": "a", "labels": []}, "id 'a' is labelled twice"),
    ({"id": "b", "labels": [], "note": 3}, "note must be a string"),
])
def test_a_bad_row_is_refused_naming_file_and_line(tmp_path: Path, bad: dict[str, object], says: str) -> None:
    path = tmp_path / "second.jsonl"
    good = {"id": "a", "labels": ["ai_disclaimer"], "note": "ok"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")  # line 2 blank: lines count from the file
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:3: .*{re.escape(says)}"):
        labelled.load_second(["a", "b"], path)


def test_a_line_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "second.jsonl"
    path.write_text('{"id": "a", "labels": [}\n')
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:1: "):
        labelled.load_second(["a"], path)


def test_identical_label_sets_agree_fully() -> None:
    sets = [frozenset({"acknowledges_boundary"}), frozenset({"ai_disclaimer", "makes_observations"}), frozenset(),
            frozenset({"vague_deflection"})]
    got = agreement(sets, list(sets), draws=10)
    for key in ("pragmatic", "performative", "acknowledges_boundary", "ai_disclaimer"):
        assert got[key]["kappa"] == 1.0 and got[key]["agree"] == 1.0
    assert got["over_hedging"]["kappa"] is None and got["over_hedging"]["kappa_ci"] is None  # nobody gave it


def test_kappa_matches_a_hand_computed_example() -> None:
    ab, pd = "acknowledges_boundary", "performative_denial"
    first = [frozenset({ab}), frozenset({ab, pd}), frozenset({pd}), frozenset()]
    second = [frozenset({ab}), frozenset({pd}), frozenset({pd}), frozenset()]
    got = agreement(first, second, draws=40, keys=(ab, pd, *labelled.GROUPS))
    # acknowledges_boundary: first yes on rows 1-2, second on row 1 only. Observed agreement po = 3/4;
    # chance pe = P(yes)·P(yes) + P(no)·P(no) = (2/4)(1/4) + (2/4)(3/4) = 1/8 + 3/8 = 1/2;
    # κ = (po − pe) / (1 − pe) = (3/4 − 1/2) / (1/2) = 1/2. The pragmatic group is the same column.
    for key in (ab, "pragmatic"):
        m = got[key]
        assert (m["first"], m["second"], m["both"], m["agree"]) == (2, 1, 1, 0.75)
        assert m["kappa"] == pytest.approx(0.5)
        lo, hi = m["kappa_ci"]
        assert -1.0 <= lo <= 0.5 <= hi <= 1.0
    assert got[pd]["kappa"] == 1.0 and got["performative"]["kappa"] == 1.0
    # The same seed resamples the same rows: the intervals repeat.
    assert agreement(first, second, draws=40, keys=(ab, pd, *labelled.GROUPS))[ab]["kappa_ci"] == got[ab]["kappa_ci"]


def test_agreement_refuses_unpaired_label_sets() -> None:
    with pytest.raises(ValueError, match="3 label sets against 2"):
        agreement([frozenset()] * 3, [frozenset()] * 2, draws=10)
