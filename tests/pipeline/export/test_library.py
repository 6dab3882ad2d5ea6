"""The chat's model library: exports, baselines and the checkpoints not exported yet; an export run
started for a checkpoint is waited on and gives its GGUF, or the run's reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.atomic import atomic_write_json
from pipeline.chat.serve import file_type_name
from pipeline.checkpoints.store import write_metadata
from pipeline.config.paths import CACHE_DIR_ENV
from pipeline.config.run import build_config
from pipeline.export.library import ExportWaitError, library, wait_for_export
from pipeline.runs.status import read_status_raw, write_status
from pipeline.runs.store import RunStore


def _ck(run: Path, name: str, meta: dict) -> None:
    (run / "checkpoints" / name).mkdir(parents=True)
    write_metadata(run / "checkpoints" / name, meta)


def _export(store: RunStore, source_run: str, checkpoint: str, state: str = "succeeded") -> tuple[str, Path]:
    rid, path = store.create_run(build_config("export"))
    st = read_status_raw(path)
    st.state, st.reason = state, (None if state == "succeeded" else "export verification failed: x.gguf: eos")
    write_status(path, st)
    if state == "succeeded":
        (path / "exports").mkdir()
        (path / "exports" / f"{source_run}-{checkpoint}-q8_0.gguf").write_bytes(b"GGUF" + b"\0" * 64)
        atomic_write_json(path / "exports" / f"{source_run}-{checkpoint}-q8_0.json",
                          {"quant": "q8_0", "size_bytes": 68, "created_at": 5.0, "verify": {"ok": True},
                           "source": {"run": source_run, "checkpoint": checkpoint, "base_source": "embedded"}})
    return rid, path


def test_the_library_lists_exports_baselines_and_what_is_left_to_export(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    (tmp_path / "cache" / "gguf").mkdir(parents=True)
    (tmp_path / "cache" / "gguf" / "SmolLM2-135M-Instruct-f16.gguf").write_bytes(b"GGUF")
    atomic_write_json(tmp_path / "cache" / "gguf" / "SmolLM2-135M-Instruct-f16.json",
                      {"quant": "f16", "model_source": "embedded", "verify": {"ok": True}})
    store = RunStore(tmp_path / "runs")
    rid, run = store.create_run(build_config("dpo"))
    _ck(run, "checkpoint-000010", {"step": 10})
    _ck(run, "checkpoint-000020", {"step": 20})
    _ck(run, "best", {"step": 20, "source": "checkpoint-000020"})
    _export(store, rid, "best")  # exported through its alias: the checkpoint it copies is exported too
    entries = library(store.root)
    kinds = [(e.kind, e.label.split("/")[-1]) for e in entries]
    assert kinds == [("export", f"{rid}-best-q8_0"), ("baseline", "SmolLM2-135M-Instruct-f16"),
                     ("checkpoint", f"{rid}@checkpoint-000010")]
    export, baseline, todo = entries
    assert export.quant == "q8_0" and export.verified and export.base == "embedded" and export.path is not None
    assert baseline.quant == "f16" and baseline.path is not None
    assert todo.path is None and todo.run_id == rid and todo.checkpoint == "checkpoint-000010"
    assert todo.base == "embedded"  # the run's model.source, as written


def test_waiting_on_an_export_run_gives_its_gguf_or_its_reason(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    ok, path = _export(store, "r", "checkpoint-000010")
    assert wait_for_export(store.root, ok, timeout=5).name == "r-checkpoint-000010-q8_0.gguf"
    bad, _ = _export(store, "r", "checkpoint-000020", state="failed")
    with pytest.raises(ExportWaitError, match="ended failed: export verification failed"):
        wait_for_export(store.root, bad, timeout=5)
    running, rpath = store.create_run(build_config("export"))
    st = read_status_raw(rpath)
    st.state = "running"
    write_status(rpath, st)
    with pytest.raises(ExportWaitError, match="still"):
        wait_for_export(store.root, running, timeout=0.3, poll_s=0.1)
    assert json.loads((path / "exports" / "r-checkpoint-000010-q8_0.json").read_text())["quant"] == "q8_0"


def test_gguf_file_types_name_their_quantisation() -> None:
    assert [file_type_name(v) for v in ("1", 7, "15", 3, "99", None)] == ["f16", "q8_0", "Q4_K_M", "Q4_1", None, None]


def test_a_checkpoint_picked_in_the_library_is_exported_by_a_real_export_run(tmp_path: Path) -> None:
    from pipeline.export.library import export_checkpoint
    from pipeline.runs.store import load_run_config

    store = RunStore(tmp_path / "runs")
    rid, run = store.create_run(build_config("dpo"))
    _ck(run, "checkpoint-000010", {"step": 10})  # metadata only: no weights, so the export fails
    export_id = export_checkpoint(store.root, rid, "checkpoint-000010", "Q4_K_M")
    cfg = load_run_config(store.path(export_id))
    assert cfg.stage == "export" and cfg.sections["model"].source == f"run:{rid}"
    assert cfg.sections["export"].checkpoint == "checkpoint-000010" and cfg.sections["export"].quant == ["Q4_K_M"]
    with pytest.raises(ExportWaitError, match=f"export run {export_id} ended failed: .*checkpoint-000010"):
        wait_for_export(store.root, export_id, timeout=300, poll_s=0.2)
