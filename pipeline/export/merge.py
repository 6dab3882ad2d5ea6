"""Load a checkpoint as one plain HF model: a LoRA adapter merged into its base (merge_and_unload),
a full checkpoint as is. Worker-only: imports torch, transformers and peft inside the functions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pipeline.export.convert import ExportError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def checkpoint_kind(ckpt: Path | None) -> str:
    """adapter | full | base (no checkpoint: the base model itself)."""
    if ckpt is None:
        return "base"
    if (ckpt / "adapter_config.json").is_file():
        return "adapter"
    if (ckpt / "config.json").is_file():
        return "full"
    raise ExportError(f"{ckpt}: neither a LoRA adapter (adapter_config.json) nor a full model (config.json)")


def has_tokenizer(folder: Path) -> bool:
    return any((folder / f).is_file() for f in TOKENIZER_FILES)


def load_merged(base: Path | str, ckpt: Path | None) -> tuple[Any, Any, str]:
    """(model, tokenizer, kind) ready for inference or saving; the tokenizer comes from the
    checkpoint when it carries one (its chat template is the one training used)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kind = checkpoint_kind(ckpt)
    src = ckpt if kind == "full" and ckpt is not None else base
    try:
        model = AutoModelForCausalLM.from_pretrained(str(src), dtype="auto")
    except OSError as exc:
        raise ExportError(f"{src}: cannot load the model ({exc})") from None
    if model.dtype == torch.float16 and not torch.cuda.is_available():
        model = model.float()  # fp16 matmuls are slow or missing on CPU
    if kind == "adapter":
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(ckpt)).merge_and_unload()
    tok_src = ckpt if ckpt is not None and has_tokenizer(ckpt) else base
    tokenizer = AutoTokenizer.from_pretrained(str(tok_src))
    return model, tokenizer, kind


def merge_to_folder(base: Path | str, ckpt: Path | None, out: Path) -> str:
    """Write a plain HF folder for the converter; returns the checkpoint kind."""
    model, tokenizer, kind = load_merged(base, ckpt)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return kind
