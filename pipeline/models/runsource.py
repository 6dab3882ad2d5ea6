"""``model.source = "run:<run_id>[@checkpoint]"``: a parent run's output as the next stage's model (chains).

The parent's chosen checkpoint is ``best``, else ``final``; ``@<name>`` picks another (``@latest``,
``@checkpoint-010``; pipeline.checkpoints.select.pick_checkpoint). A LoRA adapter is merged into its base
model once, into a cache folder (built aside, then renamed); a full-weights checkpoint is used as is.
Light at import (the CLI may import this module); torch/transformers/peft load inside ``merge``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from pipeline.checkpoints.select import pick_checkpoint
from pipeline.checkpoints.store import Checkpoint, read_checkpoint
from pipeline.config.paths import lookup_runs_dir, models_cache_dir
from pipeline.config.runref import RunRef, parse_run_ref
from pipeline.errors import ConfigError, RunNotFound
from pipeline.models.cache import build_once
from pipeline.runs.layout import BEST, CHECKPOINTS_DIR, FINAL, METADATA
from pipeline.runs.store import RunStore

PREFERRED = (BEST, FINAL)


def run_checkpoint(root: Path, ref: str | RunRef, key: str = "model.source") -> tuple[Path, Checkpoint]:
    """``run:<run>[@checkpoint]``, looked up in the runs dir ``root`` → the run folder and the complete
    checkpoint it names."""
    parsed = ref if isinstance(ref, RunRef) else parse_run_ref(ref, key)
    try:
        run_dir = RunStore(root).resolve(parsed.run)
    except RunNotFound:
        raise ConfigError(f"{key}='{parsed}': no such run in {root}") from None
    if parsed.checkpoint is None:
        return run_dir, chosen_checkpoint(run_dir, parsed, key)
    return run_dir, pick_checkpoint(run_dir, parsed.checkpoint, where=f"{key}='{parsed}'")


def chosen_checkpoint(run_dir: Path, ref: RunRef, key: str = "model.source") -> Checkpoint:
    for name in PREFERRED:
        ck = read_checkpoint(run_dir / CHECKPOINTS_DIR / name)
        if ck.complete:
            return ck
    raise ConfigError(f"{key}='{ref}': the run has no complete best or final checkpoint "
                      f"in {run_dir / CHECKPOINTS_DIR} (did it succeed?)")


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

    def build(tmp: Path) -> None:
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
        model = PeftModel.from_pretrained(model, str(ck.path)).merge_and_unload()
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(str(ck.path)).save_pretrained(tmp)  # the template it was trained with

    return build_once(dest, build)  # two workers merging the same checkpoint share one build


def resolve_run_source(ref: str, resolve_base: Callable[[str, Path], Path | str],
                       runs_dir: Path | None = None) -> Path:
    """``run:<id>[@checkpoint]`` in ``runs_dir`` (default: config.paths.lookup_runs_dir) → an HF model folder
    (merged once when the checkpoint is an adapter; its base is resolved in the same runs dir)."""
    root = runs_dir or lookup_runs_dir()
    run_dir, ck = run_checkpoint(root, ref)
    is_adapter = ck.meta.get("adapter", (ck.path / "adapter_config.json").is_file())
    if not is_adapter:
        return ck.path
    return merge(ck, merged_dir(run_dir.name, ck), lambda source: resolve_base(source, root))
