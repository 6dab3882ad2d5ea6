"""Presets: each file's name is the name `aba run --preset` takes, `aba presets` says what each one runs and
on what data, and seed 000's GPU chain refuses on a machine that lacks its pieces, naming all of them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.config.run import PRESET_ALIASES, build_config, chain_child, list_presets, preset_path, read_toml
from pipeline.errors import ConfigError
from tests.support.cli import aba


def test_every_preset_is_named_after_its_file_and_old_names_still_work() -> None:
    for name, path in list_presets().items():
        assert read_toml(path)["name"] == name == path.stem, path
    for old, new in PRESET_ALIASES.items():
        assert preset_path(old) == preset_path(new) and old not in list_presets()
    with pytest.raises(ConfigError, match="no such preset"):
        preset_path("seed000-typo")


def test_aba_presets_shows_each_chain_and_where_its_data_comes_from() -> None:
    out = aba("presets")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    heads = {ln.split()[0]: ln for ln in lines if ln and not ln.startswith(" ")}
    assert set(heads) == set(list_presets())
    assert "datagen → sft → grpo → eval → export" in heads["seed000"] and "requires gpu" in heads["seed000"]
    assert "datagen → sft → grpo → eval → export" in heads["seed000-cpu"] and "requires" not in heads["seed000-cpu"]
    data = {name: lines[lines.index(head) + 2] for name, head in heads.items()}
    assert all(d.strip().startswith("data: ") for d in data.values())
    assert "written by gemini gemini-3.1-pro-preview" in data["seed000"] and "safety=100" in data["seed000"]
    assert "written by local (embedded model)" in data["seed000-cpu"] and "builtin:seed000-test" in data["seed000-cpu"]
    assert "builtin:epistemic-stance-25" in data["demo"]


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Gemini key, an empty Hugging Face cache, a hub that refuses connections (nothing listens on the
    port), and this machine's own PATH (no nvidia-smi here: a real absence, not a fake)."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the GPU is not missing here")
    return tmp_path / "runs"


def test_seed000_without_gpu_key_or_model_refuses_before_creating_anything_naming_each(
        bare_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = aba("run", "--preset", "seed000", runs_dir=bare_machine)
    err = out.stderr.strip()
    assert out.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("aba: seed000 cannot start here; 4 things are missing: (1) GPU: no NVIDIA GPU")
    assert "(2) key: datagen.backend=gemini: no API key in the environment" in err
    assert "(3) key: judge.backend=gemini: no API key" in err
    assert "(4) model files: model.source='mlabonne/Qwen3-8B-abliterated'" in err  # the hub check's words
    assert "http://127.0.0.1:9 cannot be reached" in err
    assert not bare_machine.exists()  # nothing created: no runs dir, no run folder

    # With a key and the model in the cache, only the GPU is missing, said alone.
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaFAKE-seed000-preflight-key-42")
    snap = Path(str(bare_machine.parent / "hf")) / "models--mlabonne--Qwen3-8B-abliterated" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    out = aba("run", "--preset", "seed000", runs_dir=bare_machine)
    assert out.returncode == 2 and out.stderr.strip() == (
        "aba: GPU: no NVIDIA GPU (nvidia-smi is not on PATH); this config requires = [\"gpu\"]"), out.stderr
    assert "AIzaFAKE" not in out.stderr and not bare_machine.exists()


def test_seed000_chain_hands_each_stage_its_data_and_model_and_export_reads_the_grpo_model() -> None:
    """datagen → sft → grpo → eval → export: the datagen run feeds sft and grpo their data, grpo trains on the
    SFT model, the eval compares the GRPO model with the base, and the export after the eval exports the
    model the eval read (an eval writes a report, not a model)."""
    for name in ("seed000", "seed000-cpu"):
        cfg = build_config(None, [preset_path(name)], check_paths=False)
        base = cfg.sections["model"].source
        sft = chain_child(cfg, "20260101-0000-datagen-x")
        assert sft is not None and sft.sections["sft"].data == "run:20260101-0000-datagen-x"
        assert sft.sections["model"].source == base and sft.requires == cfg.requires
        grpo = chain_child(sft, "20260101-0001-sft-x")
        assert grpo is not None and grpo.sections["model"].source == "run:20260101-0001-sft-x"
        assert grpo.sections["grpo"].data == "run:20260101-0000-datagen-x"
        gs = grpo.sections["grpo"]
        assert (gs.scorer, gs.reward_weights, gs.num_generations) == ("judge", "", 4)
        ev = chain_child(grpo, "20260101-0002-grpo-x")
        assert ev is not None and ev.stage == "eval" and ev.sections["model"].source == "run:20260101-0002-grpo-x"
        assert ev.sections["eval"].baseline == base
        export = chain_child(ev, "20260101-0003-eval-x")
        assert export is not None and export.stage == "export"
        assert export.sections["model"].source == "run:20260101-0002-grpo-x"  # not the eval run
        assert chain_child(export, "20260101-0004-export-x") is None
    gpu = build_config(None, [preset_path("seed000")], check_paths=False)
    sft, grpo = gpu.sections["sft"], gpu.sections["grpo"]
    assert (sft.learning_rate, sft.epochs, sft.max_length, sft.gradient_checkpointing) == (2e-4, 3.0, 2048, True)
    assert (grpo.max_completion_length, grpo.batch_size, grpo.grad_accum) == (1024, 1, 8)
    assert gpu.sections["datagen"].sft_thoughts == "think" and gpu.sections["datagen"].traces == 6
