"""Run summaries for the details view and the comparison: config against the stage's defaults, best
metrics by their direction, the supervisor's peaks, notes and tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config.run import build_config
from pipeline.errors import ConfigError
from pipeline.monitor.summary import compare, summarize
from pipeline.runs.notes import parse_tags, read_notes, write_notes
from pipeline.runs.store import RunStore


def _run(store: RunStore, sets: list[str], events: list[dict]) -> Path:
    _rid, path = store.create_run(build_config("grpo", sets=sets))
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + "{torn line")
    return path


def test_summary_marks_what_differs_from_the_defaults_and_takes_the_best_by_direction(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    path = _run(store, ["grpo.beta=0.04", "grpo.num_generations=8"], [
        {"type": "metrics", "step": 1, "loss": 0.2, "reward": 0.1, "kl": 0.5, "samples_per_s": 9.0},
        {"type": "metrics", "step": 2, "loss": 0.1, "reward": 0.7, "kl": 0.2, "eval_loss": float("nan")},
        {"type": "metrics", "step": 3, "loss": 0.3, "reward": 0.4, "kl": 0.9},
        {"type": "resources", "peak_rss_bytes": 5, "peak_cpu_pct": 1.0, "final": False},
        {"type": "resources", "peak_rss_bytes": 7, "peak_cpu_pct": 2.0, "final": True},
    ])
    s = summarize(path)
    assert s.stage == "grpo" and s.step == 3 and s.state == "queued"
    assert s.best == {"loss": 0.1, "reward": 0.7, "kl": 0.2, "samples_per_s": 9.0}  # NaN is no best
    assert s.last["loss"] == 0.3 and s.peaks is not None and s.peaks["peak_rss_bytes"] == 7
    changed = s.changed()
    assert changed["grpo.beta"] == 0.04 and changed["grpo.num_generations"] == 8
    assert "grpo.learning_rate" not in changed and "stage" not in s.config


def test_compare_keeps_the_differing_parameters_and_the_meaningful_metrics(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    runs = [summarize(_run(store, [f"grpo.beta={b}"], [{"type": "metrics", "step": 1, "loss": b, "reward": r,
                                                        "lr": 1e-5, "samples_per_s": 3.0}]))
            for b, r in ((0.01, 0.5), (0.02, 0.4))]
    c = compare(runs)
    assert c.params == ["grpo.beta"]
    assert c.metrics == ["loss", "reward"]  # lr and throughput have no "best"
    assert c.value(runs[1], "grpo.beta") == 0.02 and c.value(runs[0], "reward") == 0.5


def test_notes_and_tags_round_trip_and_refuse_what_is_not_a_tag(tmp_path: Path) -> None:
    assert parse_tags(" #baseline, lr-sweep  baseline v1.2+ok ") == ["baseline", "lr-sweep", "v1.2+ok"]
    with pytest.raises(ConfigError, match=r"tag 'a/b': expected a word"):
        parse_tags("ok a/b")
    assert read_notes(tmp_path).tags == []  # no file: an empty note
    write_notes(tmp_path, "  try lower beta \n", ["x"])
    n = read_notes(tmp_path)
    assert n.note == "try lower beta" and n.tags == ["x"] and n.updated_at
    (tmp_path / "notes.json").write_text("[1, 2]")
    assert read_notes(tmp_path).note == ""
