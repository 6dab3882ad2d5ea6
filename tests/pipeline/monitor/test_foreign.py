"""pipeline.monitor.foreign: HF trainer_state.json, checkpoint folders, seed 003 logs and any numeric JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.monitor.foreign import LINE, ForeignError, detect, guess_x
from pipeline.monitor.series import RunSeries

LOG_HISTORY = [
    {"epoch": 0.1, "step": 5, "loss": 0.69, "learning_rate": 1e-5, "rewards/accuracies": 0.5, "grad_norm": 1.2},
    {"epoch": 0.2, "step": 10, "loss": 0.61, "learning_rate": 9e-6, "rewards/accuracies": 0.6},
    {"epoch": 0.2, "step": 10, "eval_loss": 0.65, "eval_runtime": 1.0},
    {"epoch": 0.3, "step": 15, "loss": 0.52, "learning_rate": 8e-6, "rewards/accuracies": 0.8},
    {"train_runtime": 100.0, "train_loss": 0.6, "step": 15, "epoch": 0.3},
]


def _trainer_state(folder: Path, history: list[dict], step: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "trainer_state.json"
    p.write_text(json.dumps({"global_step": step, "max_steps": 30, "epoch": 0.3, "log_history": history}))
    return p


def test_hf_output_dir_reads_the_newest_checkpoint_history(tmp_path: Path):
    out = tmp_path / "dpo-out"
    _trainer_state(out / "checkpoint-10", LOG_HISTORY[:3], 10)
    _trainer_state(out / "checkpoint-15", LOG_HISTORY, 15)
    r = detect(out)
    assert r.kind == "hf-trainer" and r.label == "dpo-out"
    events, reset = r.poll()
    assert reset
    rs = RunSeries()
    rs.ingest(events)
    assert list(rs.series["loss"].xs) == [5, 10, 15]
    assert [round(v, 2) for v in rs.series["accuracy"].ys] == [0.5, 0.6, 0.8]  # rewards/accuracies renamed
    assert list(rs.series["eval_loss"].xs) == [10]
    assert rs.total_steps == 30 and "lr" in rs.series
    assert r.poll() == ([], False)  # unchanged file: nothing re-read
    _trainer_state(out / "checkpoint-20", [*LOG_HISTORY, {"step": 20, "loss": 0.4}], 20)
    events, reset = r.poll()
    assert reset and events[-1]["loss"] == 0.4


def test_trainer_state_file_directly(tmp_path: Path):
    p = _trainer_state(tmp_path / "x", LOG_HISTORY, 15)
    r = detect(p)
    events, _ = r.poll()
    assert [e.get("loss") for e in events if e.get("type") == "metrics"][:2] == [0.69, 0.61]


def test_a_trainer_state_past_the_size_limit_is_refused_naming_the_file_and_never_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import pipeline.checkpoints.store as ckpt_store
    from pipeline.checkpoints.store import read_checkpoint

    out = tmp_path / "dpo-out"
    p = _trainer_state(out / "checkpoint-15", LOG_HISTORY, 15)
    r = detect(out)
    monkeypatch.setattr(ckpt_store, "TRAINER_STATE_MAX_BYTES", p.stat().st_size - 1)
    with pytest.raises(ForeignError, match=r"checkpoint-15/trainer_state.json: not a readable trainer_state.json "
                       r".*larger"):
        r.poll()
    ck = read_checkpoint(out / "checkpoint-15")
    assert ck.state == "corrupt" and "larger than" in (ck.error or "")
    monkeypatch.setattr(ckpt_store, "TRAINER_STATE_MAX_BYTES", p.stat().st_size)
    events, _ = detect(out).poll()
    assert [e.get("loss") for e in events if e.get("type") == "metrics"][:2] == [0.69, 0.61]


def test_seed_003_training_log_and_checkpoints(tmp_path: Path):
    model = tmp_path / "fine_tuned_model"
    (model / "logs").mkdir(parents=True)
    log = model / "logs" / "training_log_20250101_120000.jsonl"
    log.write_text("".join(json.dumps({"epoch": e, "avg_loss": 1.0 / e, "avg_accuracy": min(1, e / 10),
                                       "timestamp": 1700000000 + e}) + "\n" for e in range(1, 6)))
    r = detect(model)
    assert r.kind == "seed-jsonl" and r.path == log
    events, _ = r.poll()
    rs = RunSeries()
    rs.ingest(events)
    assert list(rs.series["loss"].xs) == [1, 2, 3, 4, 5]
    assert rs.series["accuracy"].ys[-1] == pytest.approx(0.5)
    with open(log, "a") as fh:
        fh.write(json.dumps({"epoch": 6, "avg_loss": 0.1}) + "\n" + '{"epoch": 7, "avg_')
    more, reset = r.poll()
    assert not reset and [e["step"] for e in more] == [6]

    ck_only = tmp_path / "only-checkpoints"
    for e in (10, 20):
        d = ck_only / "checkpoints" / f"checkpoint-{e:03d}"
        d.mkdir(parents=True)
        (d / "metadata.json").write_text(json.dumps({"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + e / 100}))
    (ck_only / "checkpoints" / "checkpoint-030").mkdir()  # incomplete: skipped
    r = detect(ck_only)
    assert r.kind == "checkpoints"
    events, _ = r.poll()
    assert [(e["step"], e["loss"]) for e in events] == [(10, 0.1), (20, 0.05)]


def test_any_jsonl_x_guess_and_pick(tmp_path: Path):
    p = tmp_path / "metrics.jsonl"
    rows = [{"it": i, "wall": 100.0 - i, "score": {"mean": i / 10, "max": i}, "tag": "a"} for i in range(20)]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows) + "garbage\n")
    r = detect(p)
    assert r.kind == "jsonl" and r.x_field == "it"  # first never-decreasing integer field
    assert r.fields == ["it", "wall", "score/mean", "score/max"]
    events, _ = r.poll()
    assert len(events) == 20 and r.malformed == 1
    assert events[3] == {"type": "metrics", "step": 3, "wall": 97.0, "score/mean": 0.3, "score/max": 3}
    r2 = detect(p, x_field="wall")
    assert not r2.monotonic
    assert r2.poll()[0][0]["step"] == 100.0
    r3 = detect(p, x_field=LINE)
    assert [e["step"] for e in r3.poll()[0][:3]] == [1, 2, 3]
    with pytest.raises(ForeignError, match="x field 'tag' is not a numeric field"):
        detect(p, x_field="tag")
    assert guess_x([{"a": 0.5}, {"a": 0.25}], ["a"]) == LINE


def test_bad_paths_get_one_clear_message(tmp_path: Path):
    with pytest.raises(ForeignError, match="no such file or folder"):
        detect(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ForeignError, match="nothing to read"):
        detect(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ForeignError, match="unknown file type"):
        detect(tmp_path / "notes.txt")
    (tmp_path / "words.jsonl").write_text('{"a": "x"}\n')
    with pytest.raises(ForeignError, match="no numeric field"):
        detect(tmp_path / "words.jsonl")
    (tmp_path / "text.jsonl").write_text("hello\nworld\n")
    with pytest.raises(ForeignError, match="no JSON object"):
        detect(tmp_path / "text.jsonl")
