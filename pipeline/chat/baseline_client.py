"""The client side of ``python -m pipeline.export.baseline`` (the f16 GGUF of the embedded model, made
once): runs it, reads its one JSON result line, and returns a typed result.

A subprocess, not an import: the conversion loads torch and transformers, which the UI never does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import AbaError

MODULE = "pipeline.export.baseline"


class BaselineError(AbaError):
    """The conversion failed or said nothing readable."""


@dataclass(frozen=True)
class Baseline:
    path: Path
    created: bool  # False: it was already there


def prepare_baseline(module: str = MODULE, timeout: float | None = None, quant: str = "f16") -> Baseline:
    """Blocking (call it from a worker thread); BaselineError saying what went wrong."""
    try:
        proc = subprocess.run([sys.executable, "-m", module, "--quant", quant], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BaselineError(f"baseline: {exc}") from exc
    lines = proc.stdout.strip().splitlines()
    try:
        msg = json.loads(lines[-1])
    except (ValueError, IndexError):
        msg = None
    if isinstance(msg, dict) and isinstance(msg.get("path"), str):
        return Baseline(Path(msg["path"]), bool(msg.get("created")))
    if isinstance(msg, dict) and msg.get("error"):
        raise BaselineError(f"baseline: {msg['error']}")
    raise BaselineError(f"baseline: exit {proc.returncode}: {proc.stderr.strip()[-300:] or 'no output'}")
