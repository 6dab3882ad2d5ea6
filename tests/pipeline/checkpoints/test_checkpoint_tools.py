"""Checkpoint browser logic: collect, rank, best, diff, prune plan and prune (real folders)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.checkpoints.browser import (
    available_metrics,
    best_per_run,
    collect,
    diff,
    execute_prune,
    fold_aliases,
    human_bytes,
    measure_sizes,
    plan_prune,
    rank,
    same_as,
)
from pipeline.checkpoints.metrics import lower_is_better
from pipeline.checkpoints.store import write_metadata
from pipeline.config.run import build_config
from pipeline.runs.status import read_status_raw, write_status
from pipeline.runs.store import RunStore


def _ckpt(run: Path, name: str, meta: dict | None, payload: int = 1000, adapter_r: int = 8) -> Path:
    path = run / "checkpoints" / name
    path.mkdir(parents=True)
    (path / "adapter_model.safetensors").write_bytes(b"x" * payload)
    (path / "adapter_config.json").write_text(json.dumps({"r": adapter_r, "lora_alpha": 16}))
    if meta is not None:
        write_metadata(path, meta)
    return path


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    store = RunStore(tmp_path)
    cfg = build_config("dpo", sets=["dpo.beta=0.1"])
    _rid, run = store.create_run(cfg)
    st = read_status_raw(run)
    st.state = "succeeded"
    write_status(run, st)
    _ckpt(run, "checkpoint-0010", {"step": 10, "epoch": 1.0, "loss": 0.60, "rewards/accuracies": 0.5,
                                   "rewards/margins": 0.1})
    _ckpt(run, "checkpoint-0020", {"step": 20, "epoch": 2.0, "loss": 0.20, "rewards/accuracies": 0.9,
                                   "rewards/margins": 1.5, "eval": {"loss": 0.3}}, payload=3000)
    _ckpt(run, "checkpoint-0030", {"step": 30, "epoch": 3.0, "loss": 0.35, "rewards/accuracies": 0.8,
                                   "rewards/margins": 2.5}, adapter_r=16)
    _ckpt(run, "checkpoint-0040", {"step": 40, "epoch": 4.0, "loss": float("nan")})
    _ckpt(run, "checkpoint-0050", None)  # save interrupted: no metadata.json
    bad = _ckpt(run, "checkpoint-0060", None)
    (bad / "metadata.json").write_text("{not json")
    _ckpt(run, "final", {"step": 40, "epoch": 4.0, "loss": float("nan")})
    # An HF Trainer folder at the run's top level: inside an aba run only metadata.json makes it complete.
    hf = run / "checkpoint-7"
    hf.mkdir()
    (hf / "trainer_state.json").write_text(json.dumps({
        "global_step": 7, "epoch": 0.7, "log_history": [{"loss": 0.9, "rewards/margins": 0.05}]}))
    return tmp_path


def test_collect_lists_everything_and_marks_broken(runs: Path) -> None:
    rows = collect(runs)
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"checkpoint-0010", "checkpoint-0020", "checkpoint-0030", "checkpoint-0040",
                            "checkpoint-0050", "checkpoint-0060", "final", "checkpoint-7"}
    assert by_name["checkpoint-0050"].state == "incomplete"
    assert by_name["checkpoint-0060"].state == "corrupt"
    assert by_name["checkpoint-7"].step == 7 and by_name["checkpoint-7"].metric("loss") == 0.9
    assert by_name["checkpoint-7"].state == "incomplete" and "metadata.json" in (by_name["checkpoint-7"].ckpt.error
                                                                                 or "")
    assert by_name["checkpoint-0020"].metric("accuracy") == 0.9  # alias of rewards/accuracies
    assert by_name["checkpoint-0020"].metric("margins") == 1.5
    assert by_name["checkpoint-0020"].metric("eval_loss") == 0.3  # nested eval dict
    assert by_name["checkpoint-0010"].epoch == 1.0
    measure_sizes(rows)
    assert by_name["checkpoint-0020"].size > by_name["checkpoint-0010"].size >= 1000


def test_available_metrics_folds_aliases(runs: Path) -> None:
    metrics = available_metrics(collect(runs))
    assert metrics[:3] == ["loss", "accuracy", "margins"]
    assert "eval_loss" in metrics
    assert "rewards/accuracies" not in metrics


def test_rank_by_direction_nan_and_broken_last(runs: Path) -> None:
    rows = collect(runs)
    by_loss = [r.name for r in rank(rows, "loss")]
    assert by_loss[:3] == ["checkpoint-0020", "checkpoint-0030", "checkpoint-0010"]
    # NaN, incomplete (the HF folder without metadata.json too) and corrupt ones follow; none is dropped.
    assert set(by_loss[3:]) == {"checkpoint-0040", "checkpoint-0050", "checkpoint-0060", "final", "checkpoint-7"}
    by_margin = [r.name for r in rank(rows, "margins")]
    assert by_margin[0] == "checkpoint-0030"
    assert rank(rows, "margins", lower_better=True)[0].name == "checkpoint-0010"
    assert lower_is_better("eval_loss") and not lower_is_better("accuracy")


def test_best_per_run_and_same_step(runs: Path) -> None:
    rows = collect(runs)
    best = best_per_run(rows, "loss")
    run_id = next(r.run_id for r in rows if r.name == "final")
    assert best[run_id].name == "checkpoint-0020"
    final = next(r for r in rows if r.name == "final")
    assert same_as(final, rows) == ["checkpoint-0040"]


def test_diff_metadata_and_configs(runs: Path) -> None:
    rows = {r.name: r for r in collect(runs)}
    lines = diff(rows["checkpoint-0020"], rows["checkpoint-0030"])
    got = {(ln.section, ln.key): (ln.a, ln.b) for ln in lines}
    assert got[("metadata", "loss")] == (0.20, 0.35)
    assert got[("metadata", "eval.loss")] == (0.3, "—")
    assert got[("adapter_config.json", "r")] == (8, 16)
    assert ("adapter_config.json", "lora_alpha") not in got  # equal values are not shown
    assert all(ln.section != "run.toml" for ln in lines)  # same run, same config
    full = diff(rows["checkpoint-0020"], rows["checkpoint-0030"], only_changes=False)
    assert any(ln.section == "run.toml" and ln.key == "dpo.beta" for ln in full)
    broken = diff(rows["checkpoint-0020"], rows["checkpoint-0060"])
    assert any(ln.key == "(error)" for ln in broken)


def test_prune_plan_keeps_best_last_and_aliases(runs: Path) -> None:
    rows = [r for r in collect(runs) if r.name != "checkpoint-7"]
    measure_sizes(rows)
    plan = plan_prune(rows, "loss", keep_best=2)
    kept = {r.name: why for r, why in plan.keep}
    assert set(kept) == {"checkpoint-0020", "checkpoint-0030", "checkpoint-0040", "final"}
    assert "best loss" in kept["checkpoint-0020"] and "last" in kept["checkpoint-0040"]
    deleted = sorted(r.name for r in plan.delete)
    assert deleted == ["checkpoint-0010", "checkpoint-0050", "checkpoint-0060"]
    assert plan.bytes_freed == sum(r.size for r in plan.delete)
    assert any(line.startswith("DELETE checkpoint-0010") for line in plan.describe())


def test_prune_while_running_keeps_incomplete(runs: Path) -> None:
    rows = [r for r in collect(runs) if r.name != "checkpoint-7"]
    for r in rows:
        r.run_state = "running"
    plan = plan_prune(rows, "loss", keep_best=1)
    assert {r.name for r, _ in plan.skipped} == {"checkpoint-0050", "checkpoint-0060"}
    assert sorted(r.name for r in plan.delete) == ["checkpoint-0010", "checkpoint-0030"]


def test_prune_refuses_mixed_runs(runs: Path) -> None:
    rows = collect(runs)
    rows[0].run_id = "another"
    with pytest.raises(ValueError, match="one run at a time"):
        plan_prune(rows, "loss")


def test_execute_prune_frees_space_and_relists(runs: Path) -> None:
    rows = [r for r in collect(runs) if r.name != "checkpoint-7"]
    measure_sizes(rows)
    plan = plan_prune(rows, "loss", keep_best=1)
    expected = plan.bytes_freed
    freed = execute_prune(plan)
    assert freed == expected > 0
    left = {r.name for r in collect(runs)}
    assert left == {"checkpoint-0020", "checkpoint-0040", "final", "checkpoint-7"}
    assert not any(p.name.startswith(".deleting") for p in (rows[0].run_dir / "checkpoints").iterdir())


def test_execute_prune_refuses_paths_outside_the_run(runs: Path, tmp_path: Path) -> None:
    rows = [r for r in collect(runs) if r.name == "checkpoint-0010"]
    plan = plan_prune(rows, "loss", keep_best=0, keep_last=False)
    outside = tmp_path / "elsewhere" / "checkpoint-0010"
    outside.mkdir(parents=True)
    plan.delete[0].ckpt.path = outside
    with pytest.raises(ValueError, match="refusing"):
        execute_prune(plan)
    assert outside.exists()


def test_human_bytes() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(3 * 1024 * 1024) == "3.0 MB"
    assert human_bytes(None) == "…"


def test_hard_linked_best_makes_its_source_free_nothing(runs: Path) -> None:
    from pipeline.checkpoints.browser import disk_usage, freed_bytes

    run = next(p for p in runs.iterdir() if (p / "checkpoints").is_dir())
    src, best = run / "checkpoints" / "checkpoint-0020", run / "checkpoints" / "best"
    best.mkdir()
    linked = 0
    for f in src.iterdir():  # as the training stages make best/final: hard links, own metadata
        if f.name != "metadata.json":
            os.link(f, best / f.name)
            linked += f.stat().st_size
    write_metadata(best, {"step": 20, "loss": 0.2, "source": "checkpoint-0020"})
    rows = [r for r in collect(runs) if r.run_id == run.name and r.name != "checkpoint-7"]
    plan = plan_prune(rows, "loss", keep_best=0, keep_last=False)
    assert "checkpoint-0020" in {r.name for r in plan.delete} and "best" in {r.name for r, _ in plan.keep}
    apparent = sum(r.ckpt.size_bytes() for r in plan.delete)
    expected = plan.bytes_freed
    assert expected == apparent - linked
    # Each hard-linked file counts once on disk: the source's files plus best's own metadata.
    assert disk_usage([src, best]) == _size(src) + (best / "metadata.json").stat().st_size
    assert freed_bytes([src]) == (src / "metadata.json").stat().st_size  # its only unshared file
    assert execute_prune(plan) == expected
    assert (best / "adapter_model.safetensors").read_bytes() == b"x" * 3000  # best keeps the data


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir())


def test_best_and_final_fold_into_the_checkpoint_they_copy(runs: Path, tmp_path: Path) -> None:
    # The fixture's final names no source (an older run): the one complete checkpoint at its step.
    shown, tags = fold_aliases(collect(runs))
    names = sorted(r.name for r in shown)
    assert "final" not in names and len(names) == 7
    (final_of,) = [k for k, v in tags.items() if v == ["final"]]
    assert final_of.endswith("/checkpoint-0040")
    # Aliases that name their source, one whose source was rotated away, and two candidates at a step.
    store = RunStore(tmp_path / "more")
    _rid, run = store.create_run(build_config("sft"))
    _ckpt(run, "checkpoint-000005", {"step": 5, "loss": 0.4})
    _ckpt(run, "checkpoint-000010", {"step": 10, "loss": 0.3})
    _ckpt(run, "final", {"step": 10, "loss": 0.3, "source": "checkpoint-000010"})
    _ckpt(run, "best", {"step": 2, "loss": 0.1, "source": "checkpoint-000002"})  # rotated: stays a row
    shown, tags = fold_aliases(collect(store.root))
    by_key = {r.key: r for r in shown}
    assert sorted(r.name for r in shown) == ["best", "checkpoint-000005", "checkpoint-000010"]
    assert tags[f"{run.name}/checkpoint-000010"] == ["final"] and tags[f"{run.name}/best"] == ["best"]
    assert by_key[f"{run.name}/best"].step == 2
    _ckpt(run, "checkpoint-000010b", {"step": 10, "loss": 0.3})
    (run / "checkpoints" / "final" / "metadata.json").write_text(json.dumps({"step": 10, "loss": 0.3}))
    shown, tags = fold_aliases(collect(store.root))
    assert "final" in {r.name for r in shown}  # two checkpoints at its step: no guess
