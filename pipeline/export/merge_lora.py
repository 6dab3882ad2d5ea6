"""A LoRA checkpoint merged into its base (PEFT's merge_and_unload) as one plain HF model, a full checkpoint
as is: what export converts to GGUF. (Combining adapters, TIES and kin, is pipeline.merge.) Worker-only:
imports torch, transformers and peft inside the functions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pipeline.checkpoints.store import checkpoint_kind, has_tokenizer
from pipeline.export.convert import ExportError


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
