"""``model.source = "run:<run_id>[@checkpoint]"``: a parent run's output as the next stage's model (chains).

The parent's chosen checkpoint is ``best``, else ``final``; ``@<name>`` picks another (``@latest``,
``@checkpoint-010``; pipeline.export.select.pick_checkpoint). A LoRA adapter is merged into its base
model once, into a cache folder (built aside, then renamed); a full-weights checkpoint is used as is.
Light at import (the CLI may import this module); torch/transformers/peft load inside ``merge``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from pipeline.checkpoints.select import pick_checkpoint
from pipeline.checkpoints.store import Checkpoint, read_checkpoint
from pipeline.config.paths import models_cache_dir
from pipeline.errors import ConfigError, RunNotFound
from pipeline.runs.layout import CHECKPOINTS_DIR, METADATA
from pipeline.runs.store import RunStore, default_runs_dir

PREFERRED = ("best", "final")


def split_ref(ref: str) -> tuple[str, str | None]:
    """``<run>@<checkpoint>`` → (run, checkpoint); without ``@`` the checkpoint is None (best, else final)."""
    run, sep, ck = ref.partition("@")
    return run, (ck or None) if sep else None


def run_checkpoint(root: Path, ref: str, key: str = "model.source") -> tuple[Path, Checkpoint]:
    """``<run>[@checkpoint]`` (no ``run:`` prefix) → the run folder and the complete checkpoint it names."""
    run, which = split_ref(ref)
    try:
        run_dir = RunStore(root).resolve(run)
    except RunNotFound:
        raise ConfigError(f"{key}='run:{ref}': no such run in {root}") from None
    if which is None:
        return run_dir, chosen_checkpoint(run_dir, ref)
    return run_dir, pick_checkpoint(run_dir, which, where=f"{key}='run:{ref}'")


def runs_root() -> Path:
    """The runs dir the chain lives in: the worker's own run folder's parent, else the default."""
    own = os.environ.get("ABA_RUN_DIR")
    return Path(own).parent if own else default_runs_dir()


def chosen_checkpoint(run_dir: Path, ref: str) -> Checkpoint:
    for name in PREFERRED:
        ck = read_checkpoint(run_dir / CHECKPOINTS_DIR / name)
        if ck.complete:
            return ck
    raise ConfigError(f"model.source='run:{ref}': the run has no complete best or final checkpoint "
                      f"in {run_dir / 'checkpoints'} (did it succeed?)")


def _digest(folder: Path) -> str:
    # Adapter weights + metadata identify the content: a re-trained run gets a new cache entry.
    h = hashlib.sha256()
    for name in ("adapter_model.safetensors", "adapter_model.bin", METADATA):
        p = folder / name
        if p.is_file():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def merged_dir(run_id: str, ck: Checkpoint) -> Path:
    return models_cache_dir() / f"run-{run_id}-{ck.name}-{_digest(ck.path)}"


def merge(ck: Checkpoint, dest: Path, resolve_base: Callable[[str], Path | str]) -> Path:
    """Merge a LoRA checkpoint into its base and save a float HF folder at ``dest`` (atomic);
    ``resolve_base`` turns the base's model source into a folder (passed in: the resolver calls us)."""
    if (dest / "config.json").exists():
        return dest
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = ck.meta.get("base_model")
    if not base or not Path(str(base)).exists():  # the cached base was cleared: resolve it again
        base = resolve_base(str(ck.meta.get("model_source") or base))
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
        model = PeftModel.from_pretrained(model, str(ck.path)).merge_and_unload()
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(ck.path)).save_pretrained(tmp)  # the template it was trained with
        try:
            os.replace(tmp, dest)
        except OSError:  # another worker merged the same checkpoint meanwhile
            if not (dest / "config.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def resolve_run_source(ref: str, resolve_base: Callable[[str], Path | str]) -> Path:
    """``run:<ref>`` → an HF model folder (merged once when the checkpoint is an adapter)."""
    run_dir, ck = run_checkpoint(runs_root(), ref)
    is_adapter = ck.meta.get("adapter", (ck.path / "adapter_config.json").is_file())
    if not is_adapter:
        return ck.path
    return merge(ck, merged_dir(run_dir.name, ck), resolve_base)
