"""Write a benchmark's results file: benchmarks/results/<name>.json and the .md generated from it.

Every file records where and when it was measured (time, git commit, CPUs, the load average while the
script ran), so a figure in the docs can always be traced to the run that produced it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def machine(load: dict[str, float] | None = None) -> dict[str, Any]:
    """When and where: UTC time, git commit, CPUs and the load average (``load``: sampled during the run)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=RESULTS.parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit,
            "cpus": os.cpu_count(), "load_average": load or dict(zip(("1m", "5m", "15m"), os.getloadavg(),
                                                                      strict=True))}


def write(name: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """benchmarks/results/<name>.json (the data) and <name>.md (generated from it), atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    js, md = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
    atomic_write_json(js, data)
    atomic_write_text(md, markdown if markdown.endswith("\n") else markdown + "\n")
    return js, md


def publish(name: str, data: dict[str, Any], markdown: str) -> None:
    """``write`` the results file, then print its markdown and where both files went."""
    js, md = write(name, data, markdown)
    print(markdown)
    print(f"\nwrote {js} and {md}")
