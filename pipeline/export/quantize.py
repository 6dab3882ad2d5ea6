"""Quantise a GGUF through llama.cpp's quantize API (llama_cpp.llama_model_quantize). Worker-only."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.export import QUANTS
from pipeline.export.convert import ExportError
from pipeline.runs.cpu import usable_cores


def quantize(src: Path, dst: Path, quant: str, threads: int | None = None) -> Path:
    """``src`` (f16 GGUF) → ``dst`` in ``quant``; written to a temp name and renamed on success."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.nthread = threads or usable_cores()
    tmp = dst.with_name(f".{dst.name}.part")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ExportError(f"{src}: llama.cpp could not quantise it to {quant} (llama_model_quantize returned {rc})")
    os.replace(tmp, dst)
    return dst
