"""The export stage: real runs through the supervisor, llama.cpp's converter and quantize API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.checkpoints.select import pick_checkpoint
from pipeline.checkpoints.store import write_metadata
from pipeline.errors import ConfigError
from pipeline.export import list_exports, newest_export, normalize_quants, read_export
from pipeline.export.convert import explain_failure
from pipeline.export.source import resolve_export_source
from pipeline.runs.status import read_status
from pipeline.runs.store import RunStore
from tests.support.export import (
    embedded_hf_dir,
    export_meta,
    make_lora_run,
    run_stage,
    shared_baseline,
    shared_dpo_run,
    shared_export,
)


# -- pure parts ---------------------------------------------------------------------------------
def test_normalize_quants() -> None:
    assert normalize_quants(["Q8_0", "q4_k_m", "q8_0", "F16"]) == ["q8_0", "Q4_K_M", "f16"]
    with pytest.raises(ConfigError, match=r"export.quant: unknown quantisation 'q3_k'.*f16, q8_0, Q6_K, Q4_K_M"):
        normalize_quants(["q3_k"])
    with pytest.raises(ConfigError, match="at least one"):
        normalize_quants([])


def test_explain_failure_unknown_tokenizer_and_architecture() -> None:
    log = "WARNING:hf-to-gguf:** chkhsh:  0123456789abcdef0123456789abcdef\nNotImplementedError: BPE " \
          "pre-tokenizer was not recognized - update get_vocab_base_pre()\n"
    msg = explain_failure(log, Path("/m"))
    assert msg.startswith("/m: unknown tokenizer (chkhsh 0123456789abcdef…)")
    assert "scripts/setup.sh" in msg and "tokenizer" in msg
    assert "architecture FooForCausalLM is not supported" in explain_failure(
        "ERROR: Model FooForCausalLM is not supported\n", Path("/m"))
    assert explain_failure("a\nb\nboom\n", Path("/m")).endswith("a | b | boom")


def _ck(run: Path, name: str, meta: dict | None) -> None:
    p = run / "checkpoints" / name
    p.mkdir(parents=True)
    if meta is not None:
        write_metadata(p, meta)


def test_pick_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _ck(run, "checkpoint-0010", {"step": 10, "loss": 0.5})
    _ck(run, "checkpoint-0020", {"step": 20, "loss": 0.2})
    _ck(run, "checkpoint-0030", {"step": 30, "loss": 0.4})
    _ck(run, "checkpoint-0040", None)  # incomplete
    notes: list[str] = []
    assert pick_checkpoint(run, "best", notes).name == "checkpoint-0020"
    assert "by lowest/highest loss" in notes[0]
    assert pick_checkpoint(run, "final").name == "checkpoint-0030"  # newest complete, not the broken one
    assert pick_checkpoint(run, "latest").name == "checkpoint-0030"
    assert pick_checkpoint(run, "checkpoint-0010").name == "checkpoint-0010"
    with pytest.raises(ConfigError, match="that checkpoint is incomplete"):
        pick_checkpoint(run, "checkpoint-0040")
    with pytest.raises(ConfigError, match=r"no such checkpoint.*checkpoint-0010, checkpoint-0020"):
        pick_checkpoint(run, "nope")
    _ck(run, "best", {"step": 10, "loss": 0.5})  # a named best wins over ranking
    assert pick_checkpoint(run, "best").name == "best"
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        pick_checkpoint(tmp_path / "empty", "best")


def test_resolve_export_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.source='run:missing': no run missing"):
        resolve_export_source("run:missing", "best", tmp_path)
    src = resolve_export_source("embedded", "best", tmp_path)
    assert src.checkpoint is None and src.checkpoint_name == "base"
    with pytest.raises(ConfigError, match=r"expected best/final/latest .* or a checkpoint folder"):
        resolve_export_source("embedded", "checkpoint-9", tmp_path)
    ck = tmp_path / "my-adapter"
    ck.mkdir()
    src = resolve_export_source("embedded", str(ck), tmp_path)
    assert src.checkpoint is not None and src.checkpoint.path == ck


def test_list_exports_skips_incomplete_and_orders(store: RunStore) -> None:
    from pipeline.config.run import build_config

    _rid, run = store.create_run(build_config("export"))
    out = run / "exports"
    out.mkdir()
    for i, (name, ok) in enumerate([("a-q8_0", True), ("b-q8_0", False)]):
        (out / f"{name}.gguf").write_bytes(b"GGUF")
        (out / f"{name}.json").write_text(json.dumps({"created_at": 100 + i, "verify": {"ok": ok}}))
    (out / "c-f16.gguf").write_bytes(b"GGUF")  # no .json: incomplete, never offered
    names = [e.name for e in list_exports(store.root)]
    assert names == ["b-q8_0", "a-q8_0"]
    assert newest_export(store.root).name == "a-q8_0"
    assert newest_export(store.root, verified_only=False).name == "b-q8_0"
    assert read_export(out / "c-f16.json") is None


# -- the stage through the real supervisor ------------------------------------------------------
def test_bad_quant_fails_with_clear_reason(store: RunStore) -> None:
    _rid, path, state = run_stage(store, "export", ['export.quant=["q3_k"]'], timeout=60)
    st = read_status(path)
    assert state == "failed"
    assert "export.quant: unknown quantisation 'q3_k'" in (st.reason or "")
    assert not (path / "exports").exists()


def test_missing_checkpoint_fails_with_clear_reason(store: RunStore, tmp_path: Path) -> None:
    from pipeline.config.run import build_config

    src_id, src = store.create_run(build_config("dpo"))
    _ck(src, "checkpoint-0005", {"step": 5, "loss": 0.3})
    _rid, path, state = run_stage(store, "export", [f"model.source=run:{src_id}", "export.checkpoint=step-99"],
                                  timeout=60)
    assert state == "failed"
    assert "no such checkpoint (expected best, final, latest or one of: checkpoint-0005)" in read_status(path).reason


@pytest.mark.slow
def test_dpo_chain_exports_q8_0_that_loads_and_tokenises_like_hf() -> None:
    exp = shared_export()  # a real dpo run (1 step) → its chained export stage
    dpo_run = shared_dpo_run()
    meta = exp.meta
    assert meta["quant"] == "q8_0" and meta["model_source"] == f"run:{dpo_run}"
    assert meta["source"]["run"] == dpo_run and meta["source"]["checkpoint"] == "best"
    assert meta["kind"] == "adapter" and exp.gguf.name == f"{exp.gguf.stem}.gguf"
    assert exp.verified, meta["verify"]
    assert {c["name"] for c in meta["verify"]["checks"]} == {"load", "tokenize", "chat_template", "eos",
                                                            "generate"}
    import hashlib

    assert hashlib.sha256(exp.gguf.read_bytes()).hexdigest() == meta["sha256"]
    assert meta["size_bytes"] == exp.gguf.stat().st_size
    # An independent check here, on strings the verifier did not use.
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(embedded_hf_dir()))
    llm = Llama(model_path=str(exp.gguf), n_ctx=256, verbose=False, vocab_only=True)
    for s in ("Tokenisation check: naïve café, 42 apples!", "  leading spaces\nand\r\nCRLF"):
        assert llm.tokenize(s.encode(), add_bos=False) == tok.encode(s, add_special_tokens=False)
    assert llm.metadata.get("tokenizer.chat_template", "").strip() == tok.chat_template.strip()
    events = [json.loads(x) for x in (exp.gguf.parent.parent / "events.jsonl").read_text().splitlines()]
    phases = [e["phase"] for e in events if e["type"] == "export"]
    assert phases == ["merge", "convert", "quantize", "verify"]
    assert not (exp.gguf.parent.parent / "work").exists()  # the merged folder and f16 intermediate are gone


@pytest.mark.slow
def test_export_run_checkpoint_merges_lora(store: RunStore) -> None:
    import numpy as np
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    src_id, src = make_lora_run(store, {10: 0.6, 20: 0.1})
    # Verification of an adapter export is covered by the dpo chain test; here the merge itself.
    _rid, path, state = run_stage(store, "export", [f"model.source=run:{src_id}", "export.checkpoint=best",
                                                   'export.quant=["f16"]', "export.verify=false"])
    assert state == "succeeded", (path / "stderr.log").read_text()[-2000:]
    (meta,) = export_meta(path)
    assert meta["kind"] == "adapter" and meta["source"]["checkpoint"] == "checkpoint-0020"
    assert meta["source"]["run"] == src_id and meta["verify"] is None
    assert meta["name"] == f"{src_id}-checkpoint-0020-f16"  # named after the run it holds
    # The exported v_proj of layer 0 is the base weight plus the adapter's scaled B @ A.
    base = load_file(str(embedded_hf_dir() / "model.safetensors"))["model.layers.0.self_attn.v_proj.weight"]
    ad = load_file(str(src / "checkpoints" / "checkpoint-0020" / "adapter_model.safetensors"))
    a = next(v for k, v in ad.items() if "layers.0.self_attn.v_proj.lora_A" in k)
    b = next(v for k, v in ad.items() if "layers.0.self_attn.v_proj.lora_B" in k)
    expected = base + (8 / 4) * (b @ a)
    reader = GGUFReader(str(path / "exports" / meta["file"]))
    tensor = next(t for t in reader.tensors if t.name == "blk.0.attn_v.weight")
    got = np.asarray(tensor.data, dtype=np.float32).reshape(expected.shape)
    assert np.abs(got - expected).max() < 2e-3
    assert np.abs(got - base).max() > 1e-2  # the adapter really changed it


@pytest.mark.slow
def test_unknown_tokenizer_gets_actionable_error(store: RunStore, tmp_path: Path) -> None:
    model = tmp_path / "odd-tokenizer"
    shutil.copytree(embedded_hf_dir(), model)
    tj = json.loads((model / "tokenizer.json").read_text())
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Punctuation", "behavior": "Isolated"}, tj["pre_tokenizer"]]}
    (model / "tokenizer.json").write_text(json.dumps(tj))
    _rid, path, state = run_stage(store, "export", [f"model.source={model}"])
    reason = read_status(path).reason or ""
    assert state == "failed"
    assert f"{model}: unknown tokenizer (chkhsh" in reason
    assert "re-run scripts/setup.sh" in reason
    assert not list((path / "exports").glob("*.gguf"))  # nothing half-written


@pytest.mark.slow
def test_verify_catches_template_and_tokenizer_mismatch(tmp_path: Path) -> None:
    from pipeline.export.verify import verify_gguf

    gguf = shared_baseline()
    tokdir = tmp_path / "tok"
    tokdir.mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(embedded_hf_dir() / f, tokdir / f)
    assert verify_gguf(gguf, tokdir).ok
    (tokdir / "chat_template.jinja").write_text(
        "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}### assistant:")
    tj = json.loads((tokdir / "tokenizer.json").read_text())
    # Punctuation split off before the byte-level BPE: "I've" no longer tokenises as in the GGUF.
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Punctuation", "behavior": "Isolated"}, tj["pre_tokenizer"]]}
    (tokdir / "tokenizer.json").write_text(json.dumps(tj))
    v = verify_gguf(gguf, tokdir)
    failed = {c.name for c in v.checks if not c.ok}
    assert failed == {"tokenize", "chat_template"}
    assert any(f.startswith("tokenize: ") and "I've been" in f for f in v.failures())


@pytest.mark.slow
def test_stop_mid_conversion_then_resume(store: RunStore) -> None:
    import time

    from pipeline.config.run import build_config
    from pipeline.runs import launcher
    from pipeline.runs.status import TERMINAL

    run_id, path = launcher.launch(store, build_config("export", sets=['export.quant=["q8_0"]',
                                                                       "export.verify=false"]))
    deadline = time.time() + 120
    while time.time() < deadline:  # the base needs no merge: conversion starts right after
        text = (path / "events.jsonl").read_text() if (path / "events.jsonl").exists() else ""
        if '"phase": "merge"' in text:
            break
        time.sleep(0.05)
    launcher.stop(store, run_id)
    assert launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=120) == "stopped"
    leftovers = [p.name for p in (path / "exports").iterdir() if p.suffix in (".gguf", ".part", ".json")]
    assert leftovers == []  # nothing half-written is left looking like an export
    launcher.resume(store, run_id)
    assert launcher.wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=300) == "succeeded"
    (meta,) = export_meta(path)
    assert meta["kind"] == "base" and meta["size_bytes"] == (path / "exports" / meta["file"]).stat().st_size
    assert read_status(path).attempt == 2


def test_exports_are_named_after_what_they_hold(tmp_path: Path) -> None:
    from pipeline.checkpoints.store import read_checkpoint
    from pipeline.export.source import ExportSource
    from pipeline.stages.export import export_stem

    ck = tmp_path / "checkpoints" / "best"
    ck.mkdir(parents=True)
    ckpt = read_checkpoint(ck)
    a = ExportSource("embedded", ckpt, "20261205-1319-dpo-smollm2", tmp_path)
    b = ExportSource("embedded", ckpt, "20261205-1400-dpo-smollm2", tmp_path)
    assert export_stem(a, "smollm2") == "20261205-1319-dpo-smollm2-best"
    assert export_stem(a, "smollm2") != export_stem(b, "smollm2")  # two runs' bests never collide
    assert export_stem(ExportSource("embedded", None), "smollm2") == "smollm2"
    assert export_stem(ExportSource("/m/qwen", ckpt), "qwen 7b") == "qwen-7b-best"
