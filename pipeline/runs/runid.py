"""Run ids that sort by time and read well: ``20261121-1530-dpo-smollm2``."""

from __future__ import annotations

import re
import time
from pathlib import Path

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str, limit: int = 24) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:limit].strip("-") or "run"


def new_run_id(stage: str, model_label: str, when: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M", time.localtime(when))
    label = f"-{slug(model_label)}" if model_label else ""
    return f"{stamp}-{slug(stage)}{label}"


def claim_run_dir(runs_dir: Path, run_id: str) -> tuple[str, Path]:
    """Create the run folder atomically (mkdir), adding -2, -3 … when the minute is taken."""
    n = 1
    while True:
        rid = run_id if n == 1 else f"{run_id}-{n}"
        path = runs_dir / rid
        try:
            path.mkdir(mode=0o755)  # never group/other-writable, whatever the umask: see runs/trust.py
            return rid, path
        except FileExistsError:
            n += 1
