"""How long the README's two set-up commands take on a fresh machine (budget: the first under 6 min).

Runs ``bash scripts/setup.sh`` into a new venv and a new cache (``ABA_VENV``, ``ABA_CACHE_DIR``; pip's
own cache off), so everything is downloaded and llama-cpp-python is built as on a fresh machine; then
``bash scripts/setup.sh --test`` on top (what the test command adds), then the first command again (a
second run only checks its stamps). Baseline, in the same run: ``pip download`` of torch's pinned CPU
build into an empty folder, the largest single download (the network's share of the set-up). System
packages (apt) already on this machine are not removed: on a machine without tmux, Slurm and munge the
``--test`` step takes longer by their install. Writes benchmarks/results/setup.json and .md; asserts nothing.

    .venv/bin/python benchmarks/bench_setup.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.record


def timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    t = time.perf_counter()
    with log.open("ab") as out:
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, default=None, help="keep the new venv, cache and log in this folder")
    args = ap.parse_args()
    from benchmarks.record import Check, Record

    rec = Record("setup", "The README's set-up commands on a fresh venv and cache")
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="aba-bench-setup-"))
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "setup.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"ABA_VENV": str(tmp / "venv"), "ABA_CACHE_DIR": str(tmp / "cache"), "PIP_NO_CACHE_DIR": "1"})
    python = shutil.which("python3") or sys.executable
    try:
        torch_dl = timed([python, "-m", "pip", "download", "-q", "--no-deps", "-c", "constraints.txt", "-d",
                          str(tmp / "dl"), "torch==2.13.0"], env, log)
        app = timed(["bash", "scripts/setup.sh"], env, log)
        test = timed(["bash", "scripts/setup.sh", "--test"], env, log)
        again = timed(["bash", "scripts/setup.sh"], env, log)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rec.finish([
        Check("bash scripts/setup.sh, fresh venv and cache", app, torch_dl, "s", "pip download of torch alone",
              budget_value=360.0, note="budget: under 6 minutes; llama-cpp-python is built on every allowed core "
                                       "while pip installs the rest"),
        Check("bash scripts/setup.sh --test, after it", test, None, "s", "—",
              note="the dev extra; tmux, Slurm and munge only where apt finds them missing"),
        Check("bash scripts/setup.sh again (stamps checked)", again, None, "s", "—", budget_value=10.0),
    ], figures={"cores": os.cpu_count(), "python": python})


if __name__ == "__main__":
    main()
