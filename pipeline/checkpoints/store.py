"""Checkpoint folders: ``checkpoints/<name>/`` with metadata.json written last.

A folder without metadata.json is incomplete (the writer died mid-save); one whose metadata does not
parse is corrupt. Both are listed and marked, never hidden. HF Trainer ``checkpoint-N`` folders with
``trainer_state.json`` are read too, so foreign runs show up in the same browser; inside an aba run such a
folder without metadata.json stays incomplete (the Trainer writes its state before aba's metadata), so
resume, ``latest`` and every other pick skip it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.atomic import atomic_write_json
from pipeline.errors import AbaError
from pipeline.runs.layout import CHECKPOINTS_DIR, METADATA, RUN_TOML, STATUS_FILE
from pipeline.safeio import read_bounded

METADATA_MAX_BYTES = 16 << 20  # metadata.json is a few KB; a run folder is input

# complete: metadata.json (or an HF trainer_state.json) read; incomplete: a save that never finished;
# corrupt: its metadata cannot be read.
CheckpointState = Literal["complete", "incomplete", "corrupt"]


@dataclass
class Checkpoint:
    name: str
    path: Path
    state: CheckpointState
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    mtime: float = 0.0

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    @property
    def step(self) -> int | None:
        value = self.meta.get("step")
        return int(value) if isinstance(value, int | float) else None

    def size_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.path):
            for f in files:
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    pass
        return total


def checkpoint_name(step: int) -> str:
    """The one name of a periodic or stop checkpoint: its step, zero-padded so folders sort
    (``checkpoint-000050``). Older runs' names (``checkpoint-010`` by epoch, ``checkpoint-s000050``,
    ``checkpoint-0005``) are still read: the order and the step come from metadata.json."""
    return f"checkpoint-{step:06d}"


def write_metadata(ckpt_dir: Path, meta: dict[str, Any]) -> None:
    """Mark a checkpoint complete: call after every other file of it is written."""
    meta = {"written_at": time.time(), **meta}
    atomic_write_json(Path(ckpt_dir) / METADATA, meta)


# A trainer_state.json of a million logged steps is ~200 MB: a larger file is not one, and is not read whole.
TRAINER_STATE_MAX_BYTES = 256 << 20


def read_trainer_state(path: Path) -> Any:
    """An HF ``trainer_state.json``'s JSON, read at most TRAINER_STATE_MAX_BYTES (a FIFO in its place never
    blocks). OSError when unreadable or larger, ValueError when not JSON, RecursionError when nested too deep."""
    return json.loads(read_bounded(path, TRAINER_STATE_MAX_BYTES).decode("utf-8"))


def _from_trainer_state(path: Path) -> dict[str, Any]:
    state = read_trainer_state(path / "trainer_state.json")
    if not isinstance(state, dict):
        raise ValueError("expected a JSON object")
    meta: dict[str, Any] = {"step": state.get("global_step"), "epoch": state.get("epoch"), "format": "hf-trainer"}
    for rec in reversed(state.get("log_history", [])):
        for key in ("loss", "eval_loss", "rewards/accuracies", "rewards/margins", "learning_rate"):
            if key in rec and key not in meta:
                meta[key] = rec[key]
    if "rewards/accuracies" in meta:
        meta["accuracy"] = meta["rewards/accuracies"]
    return meta


def read_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    meta_path = path / METADATA
    if meta_path.is_file():
        try:
            meta = json.loads(read_bounded(meta_path, METADATA_MAX_BYTES).decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("expected a JSON object")
        except (OSError, ValueError, RecursionError) as exc:  # unreadable, too large, nested too deeply
            return Checkpoint(path.name, path, "corrupt", error=f"{meta_path}: {exc}", mtime=mtime)
        return Checkpoint(path.name, path, "complete", meta, mtime=mtime)
    if (path / "trainer_state.json").is_file():
        try:
            meta = _from_trainer_state(path)
        except (ValueError, OSError, RecursionError) as exc:
            return Checkpoint(path.name, path, "corrupt", error=f"trainer_state.json: {exc}", mtime=mtime)
        if _in_aba_run(path):
            return Checkpoint(path.name, path, "incomplete", meta, mtime=mtime,
                              error="no metadata.json (the trainer state alone: the save did not finish)")
        return Checkpoint(path.name, path, "complete", meta, mtime=mtime)
    return Checkpoint(path.name, path, "incomplete", error="no metadata.json (save interrupted?)", mtime=mtime)


def _in_aba_run(path: Path) -> bool:
    """A checkpoint of an aba run (its checkpoints/ folder, or a folder beside its run.toml), where only
    metadata.json makes it complete; else an HF Trainer output folder opened as a foreign run."""
    parent = path.parent
    return parent.name == CHECKPOINTS_DIR or (parent / RUN_TOML).exists() or (parent / STATUS_FILE).exists()


def _order(ck: Checkpoint) -> tuple[int, int, float]:
    # Periodic checkpoints by step; best and final after them; unknown steps by time.
    special = {"best": 1, "final": 2}.get(ck.name, 0)
    return (special, ck.step if ck.step is not None else -1, ck.mtime)


def list_checkpoints(run_dir: Path) -> list[Checkpoint]:
    run_dir = Path(run_dir)
    roots = [run_dir / CHECKPOINTS_DIR]
    # A foreign HF Trainer output folder keeps checkpoint-N at its top level.
    roots.append(run_dir)
    seen: list[Checkpoint] = []
    for root in roots:
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if not child.is_dir() or child.name.startswith("."):
                continue
            if root == run_dir and not child.name.startswith("checkpoint-"):
                continue
            seen.append(read_checkpoint(child))
    return sorted(seen, key=_order)


def last_complete(run_dir: Path, resumable_only: bool = True) -> Checkpoint | None:
    """Newest complete checkpoint by step; with ``resumable_only``, one that holds trainer state."""
    best: Checkpoint | None = None
    for ck in list_checkpoints(run_dir):
        if not ck.complete or ck.step is None:
            continue
        if resumable_only and not ck.meta.get("resumable", (ck.path / "trainer_state.json").exists()):
            continue
        if best is None or ck.step > (best.step or -1):
            best = ck
    return best


class CheckpointError(AbaError):
    """A checkpoint folder that holds neither a LoRA adapter nor a full model."""


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def checkpoint_kind(ckpt: Path | None) -> str:
    """adapter | full | base (no checkpoint: the base model itself)."""
    if ckpt is None:
        return "base"
    if (ckpt / "adapter_config.json").is_file():
        return "adapter"
    if (ckpt / "config.json").is_file():
        return "full"
    raise CheckpointError(f"{ckpt}: neither a LoRA adapter (adapter_config.json) nor a full model (config.json)")


def has_tokenizer(folder: Path) -> bool:
    return any((folder / f).is_file() for f in TOKENIZER_FILES)
