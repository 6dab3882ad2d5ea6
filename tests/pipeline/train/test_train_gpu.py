"""Seed 000's GPU smoke test on the embedded model: 10 SFT + 10 GRPO steps, 4 generations, 4-bit.

Skipped without CUDA (CI is CPU-only); run on a GPU box with ``pytest -m gpu tests/pipeline/train/test_train_gpu.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from pipeline.checkpoints.store import read_checkpoint
from pipeline.config.run import build_config, preset_path
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.runs.launcher import launch, wait_for
from pipeline.runs.status import TERMINAL
from pipeline.runs.store import RunStore


def _cuda() -> bool:
    if shutil.which("nvidia-smi") is None:  # no driver: skip without importing torch
        return False
    probe = "import torch; print(torch.cuda.is_available())"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    return out.stdout.strip() == "True"


pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not _cuda(), reason="needs an NVIDIA GPU with CUDA")]


def test_seed000_smoke_on_the_embedded_model(store: RunStore) -> None:
    cfg = build_config(None, [preset_path("seed000-smoke")], ["model.source=embedded"])
    parent, ppath = launch(store, cfg)
    ended = set(TERMINAL) | {"lost"}
    assert wait_for(store, parent, ended, timeout=1800) == "succeeded", (ppath / "stderr.log").read_text()[-3000:]
    deadline = time.time() + 60
    child = None
    while child is None and time.time() < deadline:
        child = next((r for r in store.list_runs() if r.status and r.status.parent == parent), None)
        time.sleep(0.5)
    assert child is not None
    assert wait_for(store, child.run_id, ended, timeout=1800) == "succeeded", \
        (child.path / "stderr.log").read_text()[-3000:]
    for run_dir, stage in ((ppath, "sft"), (child.path, "grpo")):
        final = read_checkpoint(run_dir / "checkpoints" / "final")
        assert final.complete and final.step == 10, stage
        assert final.meta["backend"] in ("unsloth", "qlora"), final.meta["backend"]
    metrics = [json.loads(line) for line in (child.path / "events.jsonl").read_text().splitlines()]
    metrics = [e for e in metrics if e.get("type") == "metrics"]
    assert len(metrics) == 10
    assert all(f"rewards/{d}" in e for e in metrics for d in DIMENSIONS)
