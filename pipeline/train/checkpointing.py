"""Periodic, stop, best and final checkpoints, each with metadata.json written last.

The HF Trainer writes its usual ``checkpoint-N`` (weights or adapter, optimizer, scheduler, RNG,
trainer_state.json) into a hidden staging folder; we move it under ``checkpoints/<name>`` with one
rename and then write metadata.json, so a reader never sees a half-written checkpoint as complete.
``best`` and ``final`` are hard-linked copies (no extra disk; seed 000 filled 41 GB) with metadata of
their own naming their source, so ``best`` survives the rotation of periodic checkpoints.

Names: ``checkpoint-000050`` (the step, zero-padded) for every periodic and stop checkpoint, whether
saved by steps or by epochs (the epoch is in its metadata), and ``best``, ``final``.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.metrics import lower_is_better
from pipeline.checkpoints.store import checkpoint_name, read_checkpoint, write_metadata
from pipeline.runs.layout import BEST, DELETING_PREFIX, FINAL, METADATA

ALIASES = (BEST, FINAL)
# Metrics averaged over the steps since the previous checkpoint (seed 003 ranked by epoch-average loss).
WINDOW_KEYS = ("loss", "accuracy", "margins", "reward", "kl", "completion_length")
LAST_KEYS = ("lr", "grad_norm", "epoch")


def step_name(step: int) -> str:
    return checkpoint_name(step)


@dataclass
class SavePlan:
    """When a periodic checkpoint is due: every N steps, else every N epochs (0: only final)."""

    every_epochs: float = 0.0
    every_steps: int = 0

    def due(self, prev_epoch: float, epoch: float, step: int) -> str | None:
        if self.every_steps > 0:
            return step_name(step) if step % self.every_steps == 0 else None
        if self.every_epochs <= 0:
            return None
        eps = 1e-6
        before = math.floor(prev_epoch / self.every_epochs + eps)
        now = math.floor(epoch / self.every_epochs + eps)
        return step_name(step) if now > before else None


def link_tree(src: Path, dst: Path, skip: tuple[str, ...] = (METADATA,)) -> None:
    """Copy a folder as hard links (falling back to a real copy where links are not possible)."""
    for root, _dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if rel == Path(".") and name in skip:
                continue
            s, d = Path(root) / name, dst / rel / name
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def remove_checkpoint(path: Path) -> None:
    """Rename to a dot-name first: a reader never sees a half-deleted folder as a checkpoint."""
    if not path.exists():
        return
    doomed = path.with_name(f"{DELETING_PREFIX}{path.name}-{os.getpid()}")
    os.replace(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def point_alias(ckpt_dir: Path, alias: str, src: Path, meta: dict[str, Any]) -> None:
    """``ckpt_dir/<alias>`` (best, final) becomes a hard-linked copy of ``src`` whose metadata names it,
    built aside and renamed into place (metadata last), so a reader sees the old alias or the new one."""
    tmp = ckpt_dir / f".{alias}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    link_tree(src, tmp)
    write_metadata(tmp, {**meta, "name": alias, "kind": alias, "source": src.name})
    remove_checkpoint(ckpt_dir / alias)
    os.replace(tmp, ckpt_dir / alias)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class CheckpointManager:
    ckpt_dir: Path
    staging: Path
    base_meta: dict[str, Any]  # stage, run_id, config_hash, base_model, adapter, …
    best_metric: str = "loss"
    keep: int = 0  # periodic checkpoints kept besides best/final (0: all)
    window: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    best_value: float | None = None
    last_saved_step: int | None = None
    notes: list[str] = field(default_factory=list)  # messages for the stage to alert

    def __post_init__(self) -> None:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        best = read_checkpoint(self.ckpt_dir / BEST)
        if best.complete and _finite(best.meta.get("metric_value")) and best.meta.get("metric") == self.best_metric:
            self.best_value = float(best.meta["metric_value"])  # a resumed run keeps its best so far

    @property
    def lower_better(self) -> bool:
        return lower_is_better(self.best_metric)

    def observe(self, metrics: dict[str, Any]) -> None:
        for key, value in metrics.items():
            if key in LAST_KEYS:
                self.last[key] = value
            if (key in WINDOW_KEYS or key.startswith(("rewards/", "eval_")) or key == self.best_metric) \
                    and _finite(value):
                self.window.setdefault(key, []).append(float(value))

    def window_means(self) -> dict[str, float]:
        return {k: round(sum(v) / len(v), 6) for k, v in self.window.items() if v}

    def metadata(self, name: str, kind: str, step: int, epoch: float | None) -> dict[str, Any]:
        means = self.window_means()
        meta: dict[str, Any] = {**self.base_meta, "name": name, "kind": kind, "step": step,
                                "epoch": round(epoch, 4) if epoch is not None else None}
        meta.update({k: v for k, v in self.last.items() if k != "epoch"})
        meta.update(means)
        meta["steps_in_window"] = max((len(v) for v in self.window.values()), default=0)
        metric = self.best_metric
        if metric not in means and "loss" in means:
            if not any(metric in n for n in self.notes):
                self.notes.append(f"best_metric {metric!r} was never logged; best is chosen by loss")
            metric = "loss"
        meta["metric"] = metric
        meta["metric_value"] = means.get(metric)
        return meta

    def _better(self, value: float, metric: str) -> bool:
        if self.best_value is None:
            return True
        lower = lower_is_better(metric)
        return value < self.best_value if lower else value > self.best_value

    def finalize(self, hf_folder: Path, name: str, kind: str, step: int, epoch: float | None,
                 final: bool) -> tuple[list[str], dict[str, Any]]:
        """Move HF's folder to checkpoints/<name>, write metadata, update final/best, rotate."""
        dst = self.ckpt_dir / name
        remove_checkpoint(dst)  # a leftover of an interrupted save, or a re-run after resume
        os.replace(hf_folder, dst)
        meta = self.metadata(name, kind, step, epoch)
        meta["resumable"] = (dst / "trainer_state.json").is_file()
        write_metadata(dst, meta)
        written = [name]
        if final and name != FINAL:
            point_alias(self.ckpt_dir, FINAL, dst, meta)
            written.append(FINAL)
        value, metric = meta.get("metric_value"), meta["metric"]
        if value is not None and _finite(value) and self._better(float(value), metric):
            point_alias(self.ckpt_dir, BEST, dst, meta)
            self.best_value = float(value)
            written.append(BEST)
        self.last_saved_step = step
        self.window.clear()
        self.rotate()
        return written, meta

    def rotate(self) -> list[str]:
        """Keep the newest ``keep`` periodic/stop checkpoints; best and final are never touched."""
        if self.keep <= 0:
            return []
        periodic = []
        for child in self.ckpt_dir.iterdir():
            if child.is_dir() and not child.name.startswith(".") and child.name not in ALIASES:
                ck = read_checkpoint(child)
                if ck.complete and ck.step is not None:
                    periodic.append(ck)
        periodic.sort(key=lambda c: c.step or 0)
        doomed = periodic[: max(0, len(periodic) - self.keep)]
        for ck in doomed:
            remove_checkpoint(ck.path)
        return [c.name for c in doomed]
