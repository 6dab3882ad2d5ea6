"""Merge LoRA adapters with PEFT's own ``add_weighted_adapter`` and save the result as a checkpoint.

Worker-only: torch, transformers and peft load inside the functions. The maths is PEFT's (linear, TIES,
DARE, magnitude pruning and their SVD variants); this module only loads the adapters onto one base,
calls it, and writes the merged adapter as ``checkpoints/<name>/`` with metadata.json last, with what
the merge did to the weight changes (``delta.py``): each source's ‖ΔW‖ and how much of the rule's merged
ΔW the saved adapter holds. PEFT's non-SVD methods combine the A and B matrices separately, each with
weight sqrt(weight × the source's lora_alpha / r), which is not a merge of the ΔW = B·A (cross terms
B₁A₂ appear); the ``*_svd`` methods apply the rule to each full ΔW and factor the result back to
``svd_rank`` (0: the sum of the source ranks, the rank a sum of the ΔW can have).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.checkpoints.store import write_metadata
from pipeline.merge.schema import SIGN_ELECTION, USES_DENSITY

MERGED = "merged"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "chat_template.jinja", "vocab.json", "merges.txt", "added_tokens.json")


def combine(model: Any, names: list[str], weights: list[float], method: str, density: float = 1.0,
            majority_sign: str = "total", svd_rank: int = 0, out: str = MERGED) -> None:
    """Add adapter ``out`` to a PeftModel holding adapters ``names``: PEFT's combination, nothing else."""
    kwargs: dict[str, Any] = {"combination_type": method}
    if method in USES_DENSITY:
        kwargs["density"] = density
    if method in SIGN_ELECTION:
        kwargs["majority_sign_method"] = majority_sign
    if method.endswith("_svd") and svd_rank:
        kwargs["svd_rank"] = svd_rank
    model.add_weighted_adapter(adapters=list(names), weights=[float(w) for w in weights], adapter_name=out,
                               **kwargs)


def load_with_adapters(base: Path | str, adapters: list[Path]) -> tuple[Any, list[str]]:
    """The base model with every adapter loaded as ``src0``, ``src1`` … (float32 on CPU)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
    names = [f"src{i}" for i in range(len(adapters))]
    peft_model = PeftModel.from_pretrained(model, str(adapters[0]), adapter_name=names[0])
    for name, path in zip(names[1:], adapters[1:], strict=True):
        peft_model.load_adapter(str(path), adapter_name=name)
    return peft_model, names


def copy_tokenizer(folders: list[Path], dest: Path) -> str | None:
    """The first folder's tokenizer files (a source's: the chat template it was trained with)."""
    for folder in folders:
        if (folder / "tokenizer_config.json").is_file():
            for name in TOKENIZER_FILES:
                if (folder / name).is_file():
                    shutil.copy2(folder / name, dest / name)
            return str(folder)
    return None


def save_adapter(model: Any, adapter: str, dest: Path) -> None:
    """Save one adapter of a PeftModel flat into ``dest`` (PEFT nests non-default names in a subfolder)."""
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".save-") as tmp:
        model.save_pretrained(tmp, selected_adapters=[adapter], safe_serialization=True)
        src = Path(tmp) / adapter if (Path(tmp) / adapter).is_dir() else Path(tmp)
        dest.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.move(str(f), dest / f.name)


def default_svd_rank(model: Any, names: list[str]) -> int:
    """The sum of the sources' ranks: Σ ΔW has at most that rank, so a linear SVD merge loses nothing."""
    return sum(int(model.peft_config[n].r) for n in names)


def delta_report(adapters: list[Path], merged: Path, weights: list[float], method: str, density: float,
                 majority_sign: str) -> dict[str, Any]:
    """Each source's ‖ΔW‖, the merged adapter's, and (deterministic rules) how much of the rule applied to
    the full ΔW the saved adapter holds."""
    from pipeline.merge.delta import Adapter, fidelity

    sources = [Adapter(a) for a in adapters]
    out_adapter = Adapter(merged)
    out: dict[str, Any] = {"source_norms": [round(s.norm(), 6) for s in sources],
                           "merged_norm": round(out_adapter.norm(), 6)}
    if not method.startswith("dare"):
        out["vs_rule_on_delta"] = fidelity(sources, out_adapter, weights, method, density, majority_sign)
    return out


def merge_to_checkpoint(base: Path | str, adapters: list[Path], weights: list[float], method: str,
                        density: float, majority_sign: str, svd_rank: int, seed: int, dest: Path,
                        meta: dict[str, Any]) -> dict[str, Any]:
    """Merge ``adapters`` (on ``base``) into the checkpoint folder ``dest``: built aside, renamed, then
    metadata.json. Returns the metadata written."""
    import torch

    t0 = time.time()
    model, names = load_with_adapters(base, adapters)
    torch.manual_seed(seed)  # DARE's random drops
    if method.endswith("_svd") and not svd_rank:
        svd_rank = default_svd_rank(model, names)
    combine(model, names, weights, method, density, majority_sign, svd_rank)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        save_adapter(model, MERGED, tmp)
        tok = copy_tokenizer([*adapters, Path(str(base))], tmp)
        if dest.exists():  # a resumed run redoes an unfinished merge
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    cfg = model.peft_config[MERGED]
    full = {**meta, "adapter": True, "r": cfg.r, "lora_alpha": cfg.lora_alpha, "tokenizer_from": tok,
            "merge_seconds": round(time.time() - t0, 2),
            "delta": delta_report(adapters, dest, weights, method, density, majority_sign)}
    write_metadata(dest, full)
    return full
