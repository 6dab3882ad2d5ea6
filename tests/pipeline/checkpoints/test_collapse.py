"""The collapse scan: degenerate answers are flagged, ordinary ones (numbers, markdown) are not."""

from __future__ import annotations

import pytest

from pipeline.checkpoints.collapse import scan


@pytest.mark.parametrize("text", [
    "The capital of France is Paris.",
    "Yes, all cats are animals. This follows from the logical structure of the syllogism.",
    "Title\n=========\n\nSome text under a heading.\n\n----------\n",
    "The population grew to 1000000000 people by 1804.",
    "```python\nfor i in range(3):\n    print(i)\n```",
    "I can't know if I'm conscious from my internal state alone. What I observe: I respond as 'I'.",
])
def test_ordinary_answers_pass(text: str) -> None:
    report = scan(text)
    assert not report.collapsed, report.summary()
    assert report.summary() == "ok"


def test_empty_and_whitespace_answers() -> None:
    for text in ("", "   \n\t", None):
        assert scan(text).codes == ["empty"]


def test_exclamation_collapse_of_seed_003() -> None:
    report = scan("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")
    assert "repeated_char" in report.codes
    assert "dominant_char" in report.codes
    assert "30×" in report.summary()


def test_spaced_punctuation_is_dominant() -> None:
    report = scan("Sure! ! ! ! ! ! ! ! ! ! ! ! ! ! !")
    assert report.codes == ["dominant_char"]


def test_looping_phrase() -> None:
    text = " ".join(["I am a helpful assistant."] * 12)
    assert "looping" in scan(text).codes


def test_low_diversity_word_soup() -> None:
    words = ["the", "a", "of", "and"]
    # Shuffled enough that 4-grams are varied but the vocabulary is tiny.
    text = " ".join(words[(i * 7 + i // 3) % 4] for i in range(80))
    report = scan(text)
    assert report.collapsed
    assert set(report.codes) <= {"looping", "low_diversity"}


def test_garbled_bytes() -> None:
    assert "garbled" in scan("ab\ufffd\ufffd\ufffdcd\x01\x02").codes


def test_long_digit_runs_are_flagged_short_ones_not() -> None:
    assert not scan("id 100000000").collapsed
    assert "repeated_char" in scan("0" * 40).codes
