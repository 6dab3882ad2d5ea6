"""The training machinery's pure parts: guards, metric names, save plan, checkpoint manager, backends.

No model here: these run in milliseconds. The end-to-end behaviour is in test_train_e2e.py.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from pipeline.checkpoints.store import last_complete, list_checkpoints, read_checkpoint
from pipeline.errors import ConfigError
from pipeline.train.backends import choose_backend
from pipeline.train.checkpointing import CheckpointManager, SavePlan, step_name
from pipeline.train.guards import Guard, inspect
from pipeline.train.metrics import Throughput, is_summary, map_logs

NAN, INF = float("nan"), float("inf")


# -- guards ----------------------------------------------------------------------------------------
def test_inspect_finds_nan_inf_and_collapse() -> None:
    assert inspect(3, {"loss": 0.69, "grad_norm": 2.0, "accuracy": 0.5}) == []
    codes = [f.code for f in inspect(7, {"loss": NAN, "grad_norm": INF})]
    assert codes == ["nan_loss", "nan_grad_norm"]
    assert inspect(7, {"loss": NAN})[0].message == "NaN loss at step 7"
    assert inspect(2, {"grad_norm": -INF})[0].message == "-inf grad_norm at step 2"
    collapse = inspect(9, {"loss": 0.0, "accuracy": 0.0})
    assert [f.code for f in collapse] == ["loss_collapse"] and "step 9" in collapse[0].message
    # A low loss with a good accuracy is learning, not collapse; GRPO's 0.0 loss has no accuracy.
    assert inspect(9, {"loss": 0.0, "accuracy": 1.0}) == [] and inspect(9, {"loss": 0.0}) == []


def test_guard_stop_policy_names_the_first_bad_step() -> None:
    g = Guard("stop")
    assert g.check(1, {"loss": 0.7}) == [] and g.failure is None
    assert [f.code for f in g.check(2, {"loss": NAN})] == ["nan_loss"]
    assert g.failure == "NaN loss at step 2 (stopped by train.nan_policy=stop)"
    g.check(3, {"loss": NAN})
    assert g.failure.startswith("NaN loss at step 2")  # the first one stays the reason


def test_guard_warn_policy_alerts_once_per_streak() -> None:
    g = Guard("warn")
    alerts = [len(g.check(s, {"loss": v})) for s, v in enumerate([NAN, NAN, NAN, 0.5, NAN], 1)]
    assert alerts == [1, 0, 0, 0, 1]
    assert g.failure is None and g.counts == {"nan_loss": 4}


# -- metric names ----------------------------------------------------------------------------------
def test_map_logs_uses_the_project_vocabulary() -> None:
    dpo = map_logs({"loss": 0.6, "learning_rate": 1e-5, "rewards/accuracies": 0.75, "rewards/margins": 0.2,
                    "grad_norm": 1.5, "epoch": 0.1234567, "logps/chosen": -3.0, "tag": "x", "flag": True})
    assert dpo == {"loss": 0.6, "lr": 1e-5, "accuracy": 0.75, "margins": 0.2, "grad_norm": 1.5,
                   "epoch": 0.1235, "logps/chosen": -3.0}
    sft = map_logs({"loss": 2.0, "mean_token_accuracy": 0.4})
    assert sft["accuracy"] == 0.4
    grpo = map_logs({"reward": 0.6, "rewards/helpfulness/mean": 0.7, "rewards/helpfulness/std": 0.1,
                     "completions/mean_length": 12.0, "kl": 0.01}, ("helpfulness",))
    assert grpo == {"reward": 0.6, "rewards/helpfulness": 0.7, "completion_length": 12.0, "kl": 0.01}
    assert is_summary({"train_runtime": 3.0}) and not is_summary({"loss": 1.0})


def test_throughput_and_eta() -> None:
    t = Throughput(samples_per_step=4, total_steps=10, start_step=0, t0=100.0)
    first = t.update(1, tokens=50, now=102.0)
    assert first == {"samples_per_s": 2.0, "eta_s": 18.0}
    second = t.update(3, tokens=250, now=104.0)
    assert second["samples_per_s"] == 4.0 and second["tokens_per_s"] == 100.0
    assert second["eta_s"] == pytest.approx(7 * 4 / 3, abs=0.1)


# -- save plan --------------------------------------------------------------------------------------
def test_one_checkpoint_name_scheme_by_step() -> None:
    assert step_name(50) == "checkpoint-000050" and step_name(1234567) == "checkpoint-1234567"
    assert sorted(step_name(s) for s in (100, 20, 3)) == [step_name(3), step_name(20), step_name(100)]


def test_save_plan_by_epoch_and_step() -> None:
    plan = SavePlan(every_epochs=10)
    assert plan.due(9.96, 10.0, 250) == "checkpoint-000250"  # due by epoch, named by step
    assert plan.due(10.0, 10.04, 251) is None
    assert plan.due(19.96, 19.9999999, 500) == "checkpoint-000500"  # float drift below the boundary
    assert plan.due(19.9999999, 20.04, 501) is None  # … counts once
    half = SavePlan(every_epochs=0.5)
    assert half.due(0.4, 0.5, 5) == "checkpoint-000005" and half.due(0.9, 1.0, 10) == "checkpoint-000010"
    assert SavePlan(every_epochs=10, every_steps=3).due(0.0, 0.1, 3) == "checkpoint-000003"
    assert SavePlan(every_epochs=10, every_steps=3).due(0.0, 0.1, 4) is None
    assert SavePlan(0.0, 0).due(0.0, 5.0, 100) is None


# -- checkpoint manager (fake HF folders: same files the Trainer writes) -----------------------------
def hf_folder(staging: Path, step: int) -> Path:
    folder = staging / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(os.urandom(64))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (folder / "sub").mkdir()
    (folder / "sub" / "x.bin").write_bytes(b"x")
    return folder


def manager(tmp_path: Path, metric: str = "loss", keep: int = 0) -> CheckpointManager:
    return CheckpointManager(tmp_path / "run" / "checkpoints", tmp_path / "run" / ".trainer",
                             {"stage": "dpo", "config_hash": "abc", "base_model": "/m", "adapter": True},
                             best_metric=metric, keep=keep)


def save(m: CheckpointManager, step: int, losses: list[float], name: str, final: bool = False) -> list[str]:
    for loss in losses:
        m.observe({"loss": loss, "accuracy": 0.5, "lr": 1e-5, "grad_norm": 1.0, "epoch": step / 10})
    written, _meta = m.finalize(hf_folder(m.staging, step), name, "periodic", step, step / 10, final)
    return written


def test_best_is_the_lowest_window_loss_and_final_the_last(tmp_path: Path) -> None:
    m = manager(tmp_path)
    assert save(m, 10, [0.9, 0.7], "checkpoint-001") == ["checkpoint-001", "best"]
    assert save(m, 20, [0.3, 0.5], "checkpoint-002") == ["checkpoint-002", "best"]
    assert save(m, 30, [0.6, 0.6], "checkpoint-003", final=True) == ["checkpoint-003", "final"]
    run = tmp_path / "run"
    best, final = read_checkpoint(run / "checkpoints" / "best"), read_checkpoint(run / "checkpoints" / "final")
    assert best.meta["source"] == "checkpoint-002" and best.meta["loss"] == pytest.approx(0.4)
    assert best.meta["kind"] == "best" and best.meta["step"] == 20
    assert final.meta["source"] == "checkpoint-003" and final.meta["step"] == 30
    meta = read_checkpoint(run / "checkpoints" / "checkpoint-001").meta
    for key in ("epoch", "step", "loss", "accuracy", "lr", "grad_norm", "config_hash", "base_model", "resumable"):
        assert key in meta, key
    assert meta["resumable"] is True and meta["metric"] == "loss" and meta["steps_in_window"] == 2
    # best/final share the weights' inodes: no extra disk (seed 000 filled 41 GB)
    a = run / "checkpoints" / "checkpoint-002" / "adapter_model.safetensors"
    b = run / "checkpoints" / "best" / "adapter_model.safetensors"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert (run / "checkpoints" / "best" / "sub" / "x.bin").is_file()
    assert not list(m.staging.iterdir())  # moved, not copied
    assert last_complete(run).step == 30


def test_higher_is_better_metrics_and_a_resumed_best(tmp_path: Path) -> None:
    m = manager(tmp_path, metric="accuracy")
    for step, acc in ((1, 0.5), (2, 0.9), (3, 0.7)):
        m.observe({"loss": 0.5, "accuracy": acc})
        m.finalize(hf_folder(m.staging, step), step_name(step), "periodic", step, None, False)
    ckpts = tmp_path / "run" / "checkpoints"
    assert read_checkpoint(ckpts / "best").meta["source"] == "checkpoint-000002"
    again = manager(tmp_path, metric="accuracy")  # a resumed run remembers its best so far
    assert again.best_value == pytest.approx(0.9)
    again.observe({"accuracy": 0.8})
    written, _ = again.finalize(hf_folder(again.staging, 4), step_name(4), "periodic", 4, None, False)
    assert "best" not in written


def test_unknown_best_metric_falls_back_to_loss_with_a_note(tmp_path: Path) -> None:
    m = manager(tmp_path, metric="eval_loss")
    written = save(m, 1, [0.5], "checkpoint-001")
    assert "best" in written and m.notes and "eval_loss" in m.notes[0]


def test_rotation_keeps_the_newest_and_never_best_or_final(tmp_path: Path) -> None:
    m = manager(tmp_path, keep=2)
    save(m, 1, [0.1], "checkpoint-001")  # the best of all
    for step in (2, 3, 4):
        save(m, step, [0.5 + step], f"checkpoint-00{step}", final=step == 4)
    names = sorted(c.name for c in list_checkpoints(tmp_path / "run"))
    assert names == ["best", "checkpoint-003", "checkpoint-004", "final"]
    best = read_checkpoint(tmp_path / "run" / "checkpoints" / "best")
    assert best.complete and best.meta["source"] == "checkpoint-001"
    assert (best.path / "adapter_model.safetensors").is_file()  # survives its source's rotation


def test_interrupted_save_leftovers_are_replaced(tmp_path: Path) -> None:
    m = manager(tmp_path)
    stale = m.ckpt_dir / "checkpoint-001"
    stale.mkdir(parents=True)
    (stale / "junk").write_text("half-written")
    assert read_checkpoint(stale).state == "incomplete"
    save(m, 10, [0.5], "checkpoint-001")
    assert read_checkpoint(stale).complete and not (stale / "junk").exists()
    assert not any(p.name.startswith(".") for p in m.ckpt_dir.iterdir())


def test_nan_windows_never_become_best(tmp_path: Path) -> None:
    m = manager(tmp_path)
    save(m, 1, [NAN], "checkpoint-001")
    assert not (m.ckpt_dir / "best").exists()
    assert math.isnan(NAN)


# -- backends ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("requested, cuda, unsloth, bnb, expected", [
    ("auto", False, True, True, "standard"),   # CPU always standard
    ("auto", True, True, True, "unsloth"),
    ("auto", True, False, True, "qlora"),
    ("auto", True, False, False, "standard"),
    ("standard", True, True, True, "standard"),  # seed 000's --use_standard
    ("qlora", True, True, True, "qlora"),
])
def test_backend_choice(requested: str, cuda: bool, unsloth: bool, bnb: bool, expected: str) -> None:
    assert choose_backend(requested, cuda, unsloth, bnb, lora_r=16).name == expected


def test_backend_refusals_say_why() -> None:
    with pytest.raises(ConfigError, match="needs an NVIDIA GPU with CUDA"):
        choose_backend("qlora", False, False, True, 16)
    with pytest.raises(ConfigError, match="unsloth package is not installed"):
        choose_backend("unsloth", True, False, True, 16)
    with pytest.raises(ConfigError, match="bitsandbytes is not installed"):
        choose_backend("qlora", True, False, False, 16)
    with pytest.raises(ConfigError, match="lora_r=0"):
        choose_backend("qlora", True, True, True, 0)
    assert choose_backend("auto", True, True, True, 0).name == "standard"  # full fine-tune
