"""The merge stage: refusals before any run folder, the report's arithmetic, and (slow) a real merge
of two adapters on the embedded model through the supervisor, accepted by export and chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.checkpoints.browser import CkptRow, merge_note
from pipeline.checkpoints.store import read_checkpoint, write_metadata
from pipeline.config.run import RunConfig, build_config
from pipeline.errors import ConfigError
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.merge.plan import branch_weights, plan_branches
from pipeline.merge.report import markdown, summarise
from pipeline.merge.schema import MergeSection
from pipeline.rewards.weights import parse_weights
from pipeline.runs.store import RunStore
from tests.support.cli import aba


def fake_source(store: RunStore, base: str = "embedded", r: int = 4,
                targets: tuple[str, ...] = ("q_proj", "v_proj")) -> str:
    """A finished GRPO run whose best checkpoint holds an adapter config (enough for every preflight)."""
    cfg = build_config("grpo", sets=[f"model.lora_r={r}"], check_paths=False)
    cfg.sections["model"].source = base
    run_id, path = store.create_run(cfg)
    ck = path / "checkpoints" / "best"
    ck.mkdir(parents=True)
    (ck / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": r, "lora_alpha": 2 * r, "target_modules": list(targets),
         "base_model_name_or_path": f"/models/{base}"}))
    write_metadata(ck, {"step": 2, "stage": "grpo", "model_source": base, "adapter": True})
    return run_id


def refused(store: RunStore, *sets: str) -> str:
    before = set(store.run_ids())
    p = aba("run", "merge", *(a for s in sets for a in ("--set", s)), runs_dir=store.root)
    assert p.returncode == 2, p.stdout + p.stderr
    assert set(store.run_ids()) == before  # no run folder for a refused merge
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


def test_bad_input_gets_one_line_and_no_run_folder(store: RunStore) -> None:
    a, b = fake_source(store), fake_source(store)
    other = fake_source(store, base="/srv/models/qwen")
    pair = f'merge.sources=["run:{a}", "run:{b}"]'
    msg = refused(store, f'merge.sources=["run:{a}", "run:{other}"]')
    assert "different base models" in msg and "'embedded'" in msg and "/srv/models/qwen" in msg
    assert "merge.method='slerp'" in refused(store, pair, "merge.method=slerp")
    for bad in ("0", "1.5", "-0.2"):
        msg = refused(store, pair, f"merge.density={bad}")
        assert f"merge.density={float(bad)}: expected a number in (0, 1]" in msg
    r8 = fake_source(store, r=8)
    ranks = f'merge.sources=["run:{a}", "run:{r8}"]'  # the default ties_svd re-factorises; plain ties cannot
    assert "different LoRA ranks (r=4 vs r=8)" in refused(store, ranks, "merge.method=ties")
    mlp = fake_source(store, targets=("gate_proj",))
    assert "adapt different modules" in refused(store, f'merge.sources=["run:{a}", "run:{mlp}"]')
    assert "1 weight(s) for 2 adapters" in refused(store, pair, 'merge.weights=["1"]')
    assert "no such checkpoint" in refused(store, f'merge.sources=["run:{a}@checkpoint-010", "run:{b}"]')
    assert "merge.train: 'entropy'" in refused(store, 'merge.train=["entropy", "calibrated_uncertainty"]')


def test_a_mismatched_rank_is_fine_for_svd_methods(store: RunStore) -> None:
    from pipeline.merge.sources import check_merge

    a, r8 = fake_source(store, r=4), fake_source(store, r=8)
    cfg = build_config("merge", sets=[f'merge.sources=["run:{a}", "run:{r8}"]', "merge.method=ties_svd"])
    check_merge(cfg, cfg.sections["merge"], store.root)  # no error: SVD re-factorises to one rank
    cfg.sections["merge"].method = "ties"
    with pytest.raises(ConfigError, match="needs equal ranks"):
        check_merge(cfg, cfg.sections["merge"], store.root)


def test_branch_weights_put_all_weight_on_one_dimension() -> None:
    w = parse_weights(branch_weights("entropy_reduction"))
    assert w["entropy_reduction"] == 1 and sum(w.values()) == 1
    assert parse_weights(branch_weights("equal")) == pytest.approx({d: 1 / 9 for d in DIMENSIONS})
    sec = MergeSection(train=["entropy_reduction", "calibrated_uncertainty"], joint="equal")
    assert [(b.label, b.role) for b in plan_branches(sec)] == [
        ("entropy", "source"), ("calibrated", "source"), ("joint", "joint")]
    with pytest.raises(ConfigError, match="unknown dimension 'wit'"):
        branch_weights("wit=1")


def test_the_summary_labels_each_model_of_the_eval_report_with_its_role() -> None:
    dims = {d: {"mean": 0.5, "missing": 0} for d in DIMENSIONS}
    eval_report = {  # the shape pipeline/evaluate writes (eval_report.json)
        "models": [{"label": "base"}, {"label": "m@final"}, {"label": "e@best"}, {"label": "j@best"}],
        "per_model": {"m@final": {"metrics": {"self_pragmatism": {"p": 0.25, "n": 4}}}},
        "judge": {"judge": "rubric", "dimensions": {
            "base": {**dims, "helpfulness": {"mean": None, "missing": 3}},
            "m@final": {**dims, "entropy_reduction": {"mean": 0.9, "missing": 0}},
            "e@best": dims, "j@best": dims},
            "changes": {"m@final": {"entropy_reduction": {"d": 0.4, "lo": 0.1, "hi": 0.7, "clear": True},
                                    "helpfulness": {"d": None, "lo": None, "hi": None, "clear": False}}}},
        "tournament": {"ratings": [{"model": "m@final", "elo": 1040.0, "elo_lo": 990.0, "elo_hi": 1090.0,
                                    "games": 6, "win_rate": 0.66}]},
    }
    roles = {"base": "base", "m@final": "merged", "e@best": "source: entropy", "j@best": "joint (Strategy A)"}
    s = summarise(eval_report, roles, run_id="m", method="ties", density=0.5, weights=[1.0, 1.0], sources=["e@best"])
    m = s["models"]
    assert [m[k]["role"] for k in m] == ["base", "merged", "source: entropy", "joint (Strategy A)"]
    assert m["base"]["dimensions"]["helpfulness"] is None and m["base"]["missing"] == 3  # missing stays missing
    assert m["base"]["dimensions_mean"] == pytest.approx(0.5)
    assert m["m@final"]["dimensions_mean"] == pytest.approx((0.9 + 8 * 0.5) / 9)
    assert m["m@final"]["elo"] == 1040.0 and m["j@best"]["elo"] is None
    assert m["m@final"]["headline"] == {"self_pragmatism": 0.25}
    md = markdown(s)
    assert "| entropy_reduction | 0.500 | **0.900** | 0.500 | 0.500 |" in md
    assert "| m@final | merged | 1040 | 990–1090 | 6 | 66 % |" in md
    # Each dimension's change vs the base with its interval, for the models the eval compared with it.
    assert m["m@final"]["changes"]["entropy_reduction"] == {"d": 0.4, "lo": 0.1, "hi": 0.7, "clear": True}
    assert "| entropy_reduction | +0.400 [+0.100, +0.700]* |" in md and "| helpfulness | — |" in md


def test_the_browser_names_a_merged_checkpoints_sources(tmp_path: Path) -> None:
    ck = tmp_path / "run" / "checkpoints" / "final"
    ck.mkdir(parents=True)
    write_metadata(ck, {"stage": "merge", "merge": {"method": "ties", "density": 0.5, "weights": [1.0, 1.0]},
                        "merged_from": [{"run": "r1-entropy", "checkpoint": "best"},
                                        {"run": "r2-calibrated", "checkpoint": "checkpoint-s000004"}]})
    note = merge_note(CkptRow("run", tmp_path / "run", read_checkpoint(ck)))
    assert note == "ties d=0.5 of r1-entropy@best ×1, r2-calibrated@checkpoint-s000004 ×1"


# -- end to end on the embedded model ----------------------------------------------------------------
def adapter_runs(store: RunStore) -> tuple[str, str]:
    """Two runs whose best checkpoints are real random LoRA adapters on the embedded model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from pipeline.models.resolve import resolve_model

    base = resolve_model("embedded")
    torch.manual_seed(1)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                      task_type="CAUSAL_LM")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)), lora, adapter_name="first")
    model.add_adapter("second", lora)
    ids = []
    for k, name in enumerate(("first", "second")):
        run_id, path = store.create_run(build_config("grpo", check_paths=False))
        ck = path / "checkpoints" / "best"
        ck.parent.mkdir(parents=True)
        model.save_pretrained(path / ".save", selected_adapters=[name])
        (path / ".save" / name).rename(ck)  # PEFT nests an adapter not named "default"
        write_metadata(ck, {"step": 1, "stage": "grpo", "model_source": "embedded", "base_model": str(base),
                            "adapter": True, "metric": "reward", "metric_value": 0.1 * k})
        ids.append(run_id)
    return ids[0], ids[1]


@pytest.mark.slow
def test_merge_stage_writes_a_checkpoint_that_chains_and_exports_accept(store: RunStore) -> None:
    from safetensors.torch import load_file

    from pipeline.export.source import resolve_export_source
    from pipeline.runs.launcher import launch, wait_for

    a, b = adapter_runs(store)
    cfg: RunConfig = build_config("merge", sets=[f'merge.sources=["run:{a}@best", "run:{b}"]', "merge.method=ties",
                                                 "merge.density=0.5", "merge.compare=false"])
    from pipeline.train.preflight import preflight_chain

    preflight_chain(cfg, store.root)
    rid, path = launch(store, cfg)
    state = wait_for(store, rid, {"succeeded", "failed", "oom", "stopped", "lost"}, timeout=300)
    assert state == "succeeded", (path / "stderr.log").read_text()[-3000:]
    ck = read_checkpoint(path / "checkpoints" / "final")
    assert ck.complete and ck.meta["merge"]["method"] == "ties" and ck.meta["merge"]["weights"] == [1.0, 1.0]
    assert [s["run"] for s in ck.meta["merged_from"]] == [a, b]
    merged = load_file(str(ck.path / "adapter_model.safetensors"))
    src = load_file(str(store.root / a / "checkpoints" / "best" / "adapter_model.safetensors"))
    assert set(merged) == set(src)  # same modules, same layout
    key = next(k for k in merged if "lora_A" in k)
    nonzero = float((merged[key] != 0).float().mean())
    assert 0.4 < nonzero < 0.9  # density 0.5 on each source, union of the kept values
    assert (ck.path / "tokenizer_config.json").is_file()
    # export reads the merge run like any training run: its base plus the merged adapter
    src_export = resolve_export_source(f"run:{rid}", "best", store.root)
    assert src_export.base_source == "embedded" and src_export.checkpoint.name == "final"
