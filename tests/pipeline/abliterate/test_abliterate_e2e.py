"""The abliterate stage through the real supervisor and worker, on a tiny random Llama that carries the
embedded model's tokenizer (seconds a trial, not minutes): events, checkpoint, report, and a SIGKILL
mid-study followed by `aba resume` that keeps every finished trial."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from pipeline.checkpoints.store import read_checkpoint
from pipeline.config.run import build_config
from pipeline.runs.launcher import launch, resume, wait_for
from pipeline.runs.status import TERMINAL, read_status
from pipeline.runs.store import RunStore

pytestmark = pytest.mark.slow
ENDED = set(TERMINAL) | {"lost"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from pipeline.models.resolve import embedded_hf_dir

    tok = AutoTokenizer.from_pretrained(str(embedded_hf_dir()))
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    out = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def events(run_dir: Path) -> list[dict]:
    if not (run_dir / "events.jsonl").is_file():
        return []
    return [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines() if x.strip()]


def trials(run_dir: Path) -> list[dict]:
    return [e for e in events(run_dir) if e["type"] == "trial"]


def wait_until(cond, timeout: float = 240.0) -> None:
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "condition not met in time"
        time.sleep(0.1)


def test_study_killed_and_resumed_keeps_finished_trials(tmp_path: Path, tiny_model: Path):
    store = RunStore(tmp_path / "runs")
    sets = [f"model.source={tiny_model}", "abliterate.trials=5", "abliterate.startup_trials=2",
            "abliterate.train_limit=8", "abliterate.test_limit=6", "abliterate.max_new_tokens=4",
            "abliterate.heal_pairs=3", "abliterate.heal_tokens=6", "abliterate.test_pause_after=2",
            "abliterate.capability=true"]
    run_id, run_dir = launch(store, build_config("abliterate", [], sets))
    # The test hook holds the first attempt after 2 finished trials: kill the worker there, hard.
    wait_until(lambda: len(trials(run_dir)) >= 2 or read_status(run_dir).state in ENDED)
    st = read_status(run_dir)
    assert st.state == "running", (run_dir / "stderr.log").read_text()[-2000:]
    time.sleep(0.3)  # let the second trial's tell() reach the journal (the hook waits after it)
    os.kill(st.pid, signal.SIGKILL)
    assert wait_for(store, run_id, ENDED, timeout=60) in ("failed", "lost")
    before = {e["trial"]: e for e in trials(run_dir)}
    assert sorted(before) == [0, 1]
    assert before[0]["params"]["direction_index"] == pytest.approx(0.6)  # the warm start came first
    for e in before.values():
        assert {"refusals", "kl", "capability", "seconds", "params"} <= set(e)

    resume(store, run_id)
    state = wait_for(store, run_id, ENDED, timeout=300)
    assert state == "succeeded", (run_dir / "stderr.log").read_text()[-3000:]
    after = trials(run_dir)
    numbers = [e["trial"] for e in after]
    assert len(numbers) == len(set(numbers)) == 5  # nothing redone, nothing lost, the budget met
    assert numbers[:2] == [0, 1] and all(n >= 2 for n in numbers[2:])
    assert {k: after[i]["params"] for i, k in enumerate(numbers[:2])} == {k: before[k]["params"] for k in (0, 1)}
    msg = next(e for e in events(run_dir) if e["type"] == "resume")["message"]
    assert "2 finished trials kept" in msg

    ck = read_checkpoint(run_dir / "checkpoints" / "final")
    assert ck.complete and ck.meta["stage"] == "abliterate" and ck.meta["trial"] in numbers
    assert ck.meta["variant"] == "standard" and (ck.path / "config.json").is_file()
    chosen = next(e for e in events(run_dir) if e["type"] == "abliterate_chosen")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["chosen"]["trial"] == chosen["trial"] == ck.meta["trial"]
    assert report["trials"] == 5 and report["baseline"]["n"] == 6
    assert [o[0] for o in report["objectives"]] == ["refusals", "kl", "capability"]
    assert (run_dir / "report.md").is_file() and (run_dir / "heal_pairs.jsonl").is_file()
