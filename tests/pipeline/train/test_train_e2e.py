"""End to end on the embedded SmolLM2-135M on CPU, through the real supervisor and worker processes.

Few and short (a handful of steps, tiny pairs, short max_length): they prove the stages train, log,
checkpoint, resume, stop, guard and chain, not that the model learns.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from pipeline.checkpoints.store import list_checkpoints, read_checkpoint
from pipeline.config.run import build_config
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.runs.launcher import launch, resume, stop, wait_for
from pipeline.runs.status import TERMINAL, read_status, read_status_raw
from pipeline.runs.store import RunStore

pytestmark = pytest.mark.slow
ENDED = set(TERMINAL) | {"lost"}
PAIRS = [
    {"prompt": "What is 2+2?", "chosen": "4.", "rejected": "Maybe 5."},
    {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "I am not sure."},
    {"prompt": "Is ice cold?", "chosen": "Yes.", "rejected": "As an AI, I cannot feel."},
    {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Could you clarify?"},
]
FAST = ["model.lora_r=4", "model.lora_alpha=8"]


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PAIRS), encoding="utf-8")
    return path


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def metric_steps(run_dir: Path) -> list[int]:
    return [e["step"] for e in events(run_dir) if e["type"] == "metrics"]


def start(store: RunStore, stage: str, sets: list[str], files: list[Path] | None = None) -> tuple[str, Path]:
    return launch(store, build_config(stage, files or [], [*FAST, *sets]))


def finish(store: RunStore, run_id: str, timeout: float = 300) -> str:
    state = wait_for(store, run_id, ENDED, timeout=timeout)
    if state != "succeeded":
        path = store.get(run_id).path
        print((path / "stderr.log").read_text()[-3000:])
    return state


def wait_step(run_dir: Path, step: int, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run_dir / "events.jsonl").exists() and any(s >= step for s in metric_steps(run_dir)):
            return
        time.sleep(0.1)
    raise AssertionError(f"step {step} never logged; stderr: {(run_dir / 'stderr.log').read_text()[-2000:]}")


def test_dpo_checkpoints_then_resume_after_sigkill_without_duplicate_steps(store: RunStore, pairs: Path) -> None:
    rid, path = start(store, "dpo", [f"dpo.data={pairs}", "dpo.max_steps=6", "dpo.save_steps=2",
                                     "dpo.max_length=64", "dpo.learning_rate=5e-5", "dpo.warmup_steps=0"])
    wait_step(path, 3)
    os.killpg(read_status_raw(path).pid, signal.SIGKILL)  # dies between checkpoints: step 3 is logged
    assert wait_for(store, rid, ENDED, timeout=60) == "failed"
    assert read_status(path).reason.startswith("killed by SIGKILL")
    logged_before = metric_steps(path)
    assert max(logged_before) >= 3

    resume(store, rid)
    assert finish(store, rid) == "succeeded"
    steps = metric_steps(path)
    assert steps == sorted(set(steps)) == [1, 2, 3, 4, 5, 6]  # no step twice, none missing
    evs = events(path)
    res = [e for e in evs if e["type"] == "resume"]
    assert len(res) == 1 and res[0]["checkpoint"] == "checkpoint-000002" and res[0]["logged_until"] >= 3

    m = [e for e in evs if e["type"] == "metrics"]
    for key in ("loss", "accuracy", "margins", "lr", "grad_norm", "epoch", "samples_per_s", "eta_s"):
        assert all(key in e for e in m), key
    assert any(e["type"] == "progress" and e["total_steps"] == 6 for e in evs)

    ckpts = {c.name: c for c in list_checkpoints(path)}
    assert {"checkpoint-000002", "checkpoint-000004", "checkpoint-000006", "best", "final"} <= set(ckpts)
    for ck in ckpts.values():
        assert ck.complete, ck.name
        for key in ("epoch", "step", "loss", "accuracy", "margins", "lr", "config_hash", "base_model"):
            assert key in ck.meta, (ck.name, key)
        assert ck.meta["resumable"] is True and (ck.path / "adapter_model.safetensors").is_file()
    assert ckpts["final"].meta["source"] == "checkpoint-000006" and ckpts["final"].step == 6
    by_window = {n: ckpts[n].meta["loss"] for n in ("checkpoint-000002", "checkpoint-000004", "checkpoint-000006")}
    assert ckpts["best"].meta["source"] == min(by_window, key=by_window.get)


def test_sft_stops_on_request_with_a_resumable_checkpoint(store: RunStore, pairs: Path) -> None:
    rid, path = start(store, "sft", [f"sft.data={pairs}", "sft.max_steps=200", "sft.max_length=64",
                                     "sft.checkpoint_every=0"])
    wait_step(path, 2)
    stop(store, rid)
    assert finish(store, rid, timeout=120) == "stopped"
    ckpts = [c for c in list_checkpoints(path) if c.name.startswith("checkpoint-")]
    assert len(ckpts) == 1 and ckpts[0].complete
    meta = ckpts[0].meta
    assert meta["kind"] == "stop" and meta["resumable"] is True and meta["step"] >= 2
    assert meta["step"] == max(metric_steps(path))  # saved at the step it stopped on
    sft_metrics = [e for e in events(path) if e["type"] == "metrics"]
    assert all("loss" in e and "accuracy" in e for e in sft_metrics)


def test_grpo_logs_the_nine_dimensions(store: RunStore, pairs: Path) -> None:
    rid, path = start(store, "grpo", [f"grpo.data={pairs}", "grpo.max_steps=2", "grpo.num_generations=2",
                                      "grpo.grad_accum=2", "grpo.max_completion_length=8", "grpo.max_length=64"])
    assert finish(store, rid) == "succeeded"
    m = [e for e in events(path) if e["type"] == "metrics"]
    assert [e["step"] for e in m] == [1, 2]
    for e in m:
        for dim in DIMENSIONS:
            assert 0.0 <= e[f"rewards/{dim}"] <= 1.0, dim
        assert "reward" in e and "completion_length" in e
        assert e["missing_share"] == 0.0 and e["unscored_share"] == 0.0  # the rubric scores every dimension
        # the reward is the weighted sum (equal weights 1/9) of the dimension means
        assert e["reward"] == pytest.approx(sum(e[f"rewards/{d}"] for d in DIMENSIONS) / 9, abs=1e-4)
    best = read_checkpoint(path / "checkpoints" / "best")
    assert best.complete and best.meta["metric"] == "reward"


def test_grpo_group_mismatch_is_refused_before_loading(store: RunStore, pairs: Path) -> None:
    rid, path = start(store, "grpo", [f"grpo.data={pairs}", "grpo.num_generations=4", "grpo.grad_accum=3"])
    assert finish(store, rid, timeout=120) == "failed"
    assert "not a multiple of grpo.num_generations=4" in read_status(path).reason


def test_nan_loss_fails_the_run_naming_the_step(store: RunStore, pairs: Path) -> None:
    rid, path = start(store, "dpo", [f"dpo.data={pairs}", "dpo.max_steps=5", "dpo.max_length=64",
                                     "dpo.test_inject_nan_at=2", "dpo.save_steps=2"])
    assert finish(store, rid) == "failed"
    reason = read_status(path).reason
    assert "NaN loss at step 2" in reason and "nan_policy=stop" in reason
    assert max(metric_steps(path)) == 2  # stopped there
    alerts = [e for e in events(path) if e["type"] == "alert" and e["code"] == "nan_loss"]
    assert alerts and alerts[0]["step"] == 2 and alerts[0]["level"] == "error"
    assert not (path / "checkpoints" / "checkpoint-000002").exists()  # the diverged model is not saved


def test_broken_chat_template_is_refused_before_any_step(store: RunStore, pairs: Path, tmp_path: Path) -> None:
    llama = tmp_path / "llama3.jinja"  # a Llama-3 template on a ChatML model (seed 000's mismatch)
    llama.write_text("{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                     "{{ m['content'] }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}"
                     "<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    rid, path = start(store, "dpo", [f"dpo.data={pairs}", f"model.chat_template={llama}"])
    assert finish(store, rid, timeout=120) == "failed"
    reason = read_status(path).reason
    assert reason.startswith("chat template refused") and "<|end_header_id|>" in reason
    assert not [e for e in events(path) if e["type"] in ("metrics", "progress")]


def test_chain_dpo_then_sft_reads_the_merged_parent(store: RunStore, pairs: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.models.resolve import embedded_hf_dir

    # A private cache for the merged parent (540 MB), sharing the converted embedded model.
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    embedded = embedded_hf_dir()
    (cache / "models" / embedded.name).symlink_to(embedded)
    monkeypatch.setenv("ABA_CACHE_DIR", str(cache))

    chain = tmp_path / "chain.toml"
    chain.write_text(f'stage = "dpo"\nthen = ["sft"]\n[model]\nlora_r = 4\nlora_alpha = 8\n'
                     f'[dpo]\ndata = "{pairs}"\nmax_steps = 2\nmax_length = 64\nsft_weight = 1.0\n'  # RPO's loss pair
                     f'[sft]\ndata = "{pairs}"\nmax_steps = 2\nmax_length = 64\n')
    parent, _ = launch(store, build_config(None, [chain]))
    assert finish(store, parent) == "succeeded"
    deadline = time.time() + 30
    while time.time() < deadline and not [r for r in store.list_runs() if r.status and r.status.parent == parent]:
        time.sleep(0.2)
    child = next(r for r in store.list_runs() if r.status and r.status.parent == parent)
    assert finish(store, child.run_id) == "succeeded"
    assert f'source = "run:{parent}"' in (child.path / "run.toml").read_text()
    final = read_checkpoint(child.path / "checkpoints" / "final")
    merged = Path(final.meta["base_model"])
    assert merged.parent == cache / "models" and merged.name.startswith(f"run-{parent}-best-")
    assert (merged / "config.json").is_file() and (merged / "model.safetensors").is_file()
    shutil.rmtree(merged)
