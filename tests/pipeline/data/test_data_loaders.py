"""Training data: the builtin corpus, users' JSONL validation (file, line, key), stable dedupe hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline.data.loaders import (
    DataError,
    builtin_names,
    content_hash,
    load_pairs,
    load_prompts,
    load_sft,
    resolve_data_path,
)
from tests.support.paths import REPO

SEED_003_COUNTS = {"self_properties": 10, "reasoning_correctness": 3, "coherence_ethics": 5,
                   "remove_disclaimers": 4, "specific_clarification": 2, "maintain_confidence": 1}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_builtin_corpus_has_seed_003_categories_and_counts() -> None:
    assert "epistemic-stance-25" in builtin_names()
    data = load_pairs("builtin:epistemic-stance-25")
    assert len(data) == 25 and not data.duplicates
    assert Counter(r["category"] for r in data.rows) == SEED_003_COUNTS
    for row in data.rows:
        assert row["prompt"][-1]["role"] == "user"
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["chosen"] != row["rejected"]


def test_pairs_accept_strings_and_chat_messages(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [
        {"prompt": "Hi?", "chosen": "Hello.", "rejected": "Go away."},
        {"prompt": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2+2?"}],
         "chosen": [{"role": "assistant", "content": "4"}], "rejected": "5", "category": "math"},
        {"prompt": "Why?", "system": "Be kind.", "chosen": "Because.", "rejected": "No."},
    ])
    data = load_pairs(str(path))
    assert [r["prompt"][0]["role"] for r in data.rows] == ["user", "system", "system"]
    assert data.rows[1]["category"] == "math"
    assert data.rows[1]["rejected"] == [{"role": "assistant", "content": "5"}]


@pytest.mark.parametrize("row, expected", [
    ({"prompt": "a", "chosen": "b"}, "line 2: missing key 'rejected' (expected prompt, chosen, rejected"),
    ({"prompt": "a", "chosen": 3, "rejected": "c"}, "line 2: 'chosen' must be a string or a non-empty list"),
    ({"prompt": "a", "chosen": "", "rejected": "c"}, "line 2: 'chosen' is empty"),
    ({"prompt": "a", "chosen": "b", "rejected": "b"}, "line 2: 'chosen' and 'rejected' are identical"),
    ({"prompt": [{"role": "bot", "content": "x"}], "chosen": "b", "rejected": "c"},
     "line 2: 'prompt[0].role' is 'bot' (expected one of system, user, assistant)"),
    ({"prompt": [{"content": "x"}], "chosen": "b", "rejected": "c"}, "'prompt[0]' must be an object with"),
    ({"prompt": "a", "chosen": [{"role": "user", "content": "b"}], "rejected": "c"},
     "'chosen' must hold assistant messages only"),
    ("{not json", "line 2: not valid JSON"),
    ("[1, 2]", "line 2: expected a JSON object, got list"),
])
def test_bad_rows_name_file_line_and_key(tmp_path: Path, row: object, expected: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "ok", "chosen": "yes", "rejected": "no"}, row])
    with pytest.raises(DataError) as err:
        load_pairs(str(path))
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        resolve_data_path(str(tmp_path / "nope.jsonl"), "dpo.data")
    with pytest.raises(DataError, match=r"no such builtin dataset .*builtin:epistemic-stance-25"):
        resolve_data_path("builtin:nope", "dpo.data")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="no rows"):
        load_pairs(str(empty))


def test_duplicates_dropped_with_line_numbers(tmp_path: Path) -> None:
    row = {"prompt": "a", "chosen": "b", "rejected": "c"}
    path = write_jsonl(tmp_path / "d.jsonl", [row, {"prompt": "x", "chosen": "y", "rejected": "z"},
                                              {**row, "category": "other"}, row])
    data = load_pairs(str(path))
    assert len(data) == 2
    assert data.duplicates == [3, 4]  # category does not make a pair different


def test_content_hash_is_stable_across_processes() -> None:
    obj = {"prompt": [{"role": "user", "content": "é?"}], "chosen": "b", "n": 1}
    code = ("import json,sys; from pipeline.data.loaders import content_hash; "
            "print(content_hash(json.loads(sys.argv[1])))")
    outs = set()
    for seed in ("1", "2"):  # different salts for Python's hash(): the content hash must not care
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code, json.dumps(obj)], capture_output=True, text=True,
                             env=env, check=True, cwd=REPO)
        outs.add(out.stdout.strip())
    assert outs == {content_hash(obj)}
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})


def test_sft_forms(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                      {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye!"}]},
        {"prompt": "Q", "completion": "A"},
        {"prompt": "Q2", "chosen": "A2", "rejected": "bad"},
    ])
    rows = load_sft(str(path)).rows
    assert rows[0]["prompt"][-1] == {"role": "user", "content": "Bye"}
    assert rows[0]["completion"] == [{"role": "assistant", "content": "Bye!"}]
    assert rows[1]["completion"][0]["content"] == "A" and rows[2]["completion"][0]["content"] == "A2"
    bad = write_jsonl(tmp_path / "s2.jsonl", [{"messages": [{"role": "user", "content": "Hi"}]}])
    with pytest.raises(DataError, match="line 1: 'messages' must end with an assistant message"):
        load_sft(str(bad))
    bad = write_jsonl(tmp_path / "s3.jsonl", [{"prompt": "Q"}])
    with pytest.raises(DataError, match="line 1: missing key 'completion'"):
        load_sft(str(bad))


def test_prompts_for_grpo(tmp_path: Path) -> None:
    assert len(load_prompts("builtin:epistemic-stance-25")) == 25
    path = write_jsonl(tmp_path / "g.jsonl", [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"prompt": "Q"},
    ])
    rows = load_prompts(str(path)).rows
    assert rows[0]["prompt"] == [{"role": "user", "content": "Hi"}]
    bad = write_jsonl(tmp_path / "g2.jsonl", [{"question": "Q"}])
    with pytest.raises(DataError, match="line 1: missing key 'prompt'"):
        load_prompts(str(bad))
