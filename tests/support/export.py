"""Helpers shared by the export and chat tests (no tests here).

The expensive things (an export of the embedded model, the f16 baseline) are made once per pytest
session and memoised in this module, which every importing test module shares.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import time
from pathlib import Path

from pipeline.checkpoints.store import write_metadata
from pipeline.config.run import build_config
from pipeline.export import ExportInfo, list_exports
from pipeline.runs import launcher
from pipeline.runs.status import TERMINAL, read_status, read_status_raw, write_status
from pipeline.runs.store import RunStore

_memo: dict[str, object] = {}


def session_dir() -> Path:
    if "dir" not in _memo:
        d = Path(tempfile.mkdtemp(prefix="aba-export-tests-"))
        atexit.register(shutil.rmtree, d, True)
        _memo["dir"] = d
    return _memo["dir"]  # type: ignore[return-value]


def run_stage(store: RunStore, stage: str, sets: list[str], timeout: float = 600) -> tuple[str, Path, str]:
    """Launch a real run (supervisor + worker) and wait for its end; returns (id, path, state)."""
    cfg = build_config(stage, sets=sets)
    run_id, path = launcher.launch(store, cfg)
    state = launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=timeout)
    return run_id, path, state


PAIRS = [
    {"prompt": "What is 2+2?", "chosen": "4.", "rejected": "Maybe 5."},
    {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "I am not sure."},
    {"prompt": "Is ice cold?", "chosen": "Yes.", "rejected": "As an AI, I cannot feel."},
]


def shared_export() -> ExportInfo:
    """The done-when chain, made once: a one-step real dpo run on the embedded model whose chain
    (then = ["export"]) exports its best checkpoint to a verified q8_0 GGUF."""
    if "export" not in _memo:
        root = session_dir()
        store = RunStore(root / "runs")
        pairs = root / "pairs.jsonl"
        pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
        chain = root / "chain.toml"
        chain.write_text(f'stage = "dpo"\nthen = ["export"]\n[model]\nlora_r = 4\nlora_alpha = 8\n'
                         f'[dpo]\ndata = "{pairs}"\nmax_steps = 1\nmax_length = 64\nlearning_rate = 5e-5\n'
                         f'[export]\ncheckpoint = "best"\nquant = ["q8_0"]\n')
        run_id, path = launcher.launch(store, build_config(None, [chain]))
        state = launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=600)
        assert state == "succeeded", (path / "stderr.log").read_text()[-2000:]
        child = None
        deadline = time.time() + 60
        while child is None and time.time() < deadline:
            child = next((r for r in store.list_runs() if r.status and r.status.parent == run_id), None)
            time.sleep(0.2)
        assert child is not None, "the chain did not start the export"
        state = launcher.wait_for(store, child.run_id, set(TERMINAL) | {"lost"}, timeout=600)
        assert state == "succeeded", (child.path / "stderr.log").read_text()[-2000:]
        exports = list_exports(store.root)
        assert len(exports) == 1
        _memo["export"] = exports[0]
        _memo["dpo_run"] = run_id
    return _memo["export"]  # type: ignore[return-value]


def shared_dpo_run() -> str:
    shared_export()
    return _memo["dpo_run"]  # type: ignore[return-value]


def shared_baseline(quant: str = "f16") -> Path:
    """The baseline GGUF at ``quant`` (cached under pipeline.config.paths.cache_dir() like the app does)."""
    key = f"baseline-{quant}"
    if key not in _memo:
        from pipeline.export.baseline import ensure_baseline

        _memo[key] = ensure_baseline(quant=quant)[0]
    return _memo[key]  # type: ignore[return-value]


def embedded_hf_dir() -> Path:
    from pipeline.models.resolve import resolve_model

    return Path(resolve_model("embedded"))


def make_lora_run(store: RunStore, steps_loss: dict[int, float], scale: float = 0.05) -> tuple[str, Path]:
    """A finished dpo-like run whose checkpoints are real PEFT LoRA adapters on the embedded model
    (B initialised non-zero, so a merge changes the weights). Returns (run_id, path)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = build_config("dpo", sets=["model.source=embedded", "dpo.best_metric=loss"])
    run_id, path = store.create_run(cfg)
    st = read_status_raw(path)
    st.state = "succeeded"
    write_status(path, st)
    base = embedded_hf_dir()
    tok = AutoTokenizer.from_pretrained(str(base))
    for i, (step, loss) in enumerate(sorted(steps_loss.items())):
        model = AutoModelForCausalLM.from_pretrained(str(base))
        peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["v_proj"], lora_dropout=0.0))
        gen = torch.Generator().manual_seed(100 + i)
        for name, p in peft.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=gen) * scale)
        ck = path / "checkpoints" / f"checkpoint-{step:04d}"
        peft.save_pretrained(str(ck))
        tok.save_pretrained(str(ck))
        write_metadata(ck, {"step": step, "loss": loss, "epoch": float(step), "stage": "dpo"})
    assert read_status(path).state == "succeeded"
    return run_id, path


def export_meta(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "exports").glob("*.json"))]


def make_collapsed_checkpoint(run_dir: Path, name: str = "checkpoint-0099", step: int = 99) -> Path:
    """A full-weights checkpoint that answers only "!!!!…" (seed 003's collapse), built exactly:
    the final norm keeps one hidden feature, and the untied output head maps it to "!" and "!!"
    with opposite signs, so whichever way that feature points, every token is made of "!"."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = embedded_hf_dir()
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    bang, bangs = tok.convert_tokens_to_ids("!"), tok.encode("!!", add_special_tokens=False)[0]
    with torch.no_grad():
        model.model.norm.weight.zero_()
        model.model.norm.weight[0] = 1.0
        head = torch.zeros_like(model.get_output_embeddings().weight)
        head[bang, 0], head[bangs, 0] = 50.0, -50.0
        model.config.tie_word_embeddings = False
        model.lm_head = torch.nn.Linear(head.shape[1], head.shape[0], bias=False)
        model.lm_head.weight.copy_(head)
    ck = run_dir / "checkpoints" / name
    model.save_pretrained(str(ck))
    tok.save_pretrained(str(ck))
    write_metadata(ck, {"step": step, "loss": 0.01, "epoch": float(step), "stage": "dpo"})
    return ck
