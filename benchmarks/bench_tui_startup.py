"""Cold start of the control centre to its first frame (budget ≤ 1.5× a minimal Textual app).

Each measurement is a fresh interpreter (cold imports), timed from just before the spawn to the
first frame the app paints (headless driver, recorded runs fixture). Baselines measured in the same
run, alternating with ours: a bare ``python -c pass`` and a minimal Textual app's first frame. Also
reports when the dashboard's other panes are built (just after the first frame), when the runs list
first shows every run (the watcher's first pass, after the first frame) and each process's own CPU
time to its first frame. Bytecode is kept (one warm-up run writes it), as
on an operator's machine. Writes benchmarks/results/tui-startup.json and .md; asserts nothing.

    .venv/bin/python benchmarks/bench_tui_startup.py [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.record
FIXTURE = ROOT / "tests" / "fixtures" / "runs"

MINIMAL = """
import os, time
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello")
    def on_mount(self):
        self.call_after_refresh(self.done)
    def done(self):
        print(f"frame {time.time() - float(os.environ['T0']):.4f}")
        print(f"cpu {time.process_time():.4f}")
        self.exit()
Hello().run(headless=True)
"""

ABA = """
import os, sys, time
from aba_tui.app import AbaApp
from aba_tui.settings import Settings
t0 = float(os.environ["T0"])
class Timed(AbaApp):
    def _after_first_frame(self):
        print(f"frame {time.time() - t0:.4f}")
        print(f"cpu {time.process_time():.4f}")
        self.set_interval(0.01, self.rows_shown)
        return super()._after_first_frame()
    def rows_shown(self):
        from aba_tui.panes.runs import RunsTable
        if self.screen.built and not self._built_seen:
            self._built_seen = True
            print(f"built {time.time() - t0:.4f}")
        if self._built_seen and self.screen.query_one(RunsTable).row_count >= int(sys.argv[2]):
            print(f"rows {time.time() - t0:.4f}")
            self.exit()
    _built_seen = False
Timed(runs_dir=sys.argv[1], settings=Settings()).run(headless=True)
"""


def timed(code: list[str], env: dict[str, str]) -> dict[str, float]:
    env = {**env, "T0": repr(time.time())}
    start = time.perf_counter()
    out = subprocess.run(code, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{code[:3]} failed: {out.stderr[-2000:]}")
    res = {"exit": wall}
    for line in out.stdout.splitlines():
        key, _, val = line.partition(" ")
        if key in ("frame", "built", "rows", "cpu"):
            res[key] = float(val)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    from benchmarks.record import Check, Record

    rec = Record("tui-startup", "Cold start of the control centre to its first frame", reps=args.reps)
    tmp = Path(tempfile.mkdtemp(prefix="aba-bench-start-"))
    try:
        runs = tmp / "runs"
        shutil.copytree(FIXTURE, runs, ignore=shutil.ignore_patterns("*.py"))
        n_runs = sum(1 for p in runs.iterdir() if (p / "status.json").exists())
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg")}
        # Cold means a fresh interpreter, not missing bytecode: an operator's Python keeps its .pyc files.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        timed([py, "-c", MINIMAL], env)  # warm-up: writes the bytecode of both, fills the page cache
        timed([py, "-c", ABA, str(runs), str(n_runs)], env)
        results: dict[str, list[float]] = {"python -c pass": [], "minimal Textual app": [], "aba": [],
                                           "aba, every pane built": [], "aba, runs listed": []}
        cpu: dict[str, list[float]] = {"minimal Textual app": [], "aba": []}
        for _ in range(args.reps):  # interleaved, so load changes hit all three alike
            results["python -c pass"].append(timed([py, "-c", "pass"], env)["exit"])
            m = timed([py, "-c", MINIMAL], env)
            results["minimal Textual app"].append(m["frame"])
            cpu["minimal Textual app"].append(m["cpu"])
            r = timed([py, "-c", ABA, str(runs), str(n_runs)], env)
            results["aba"].append(r["frame"])
            results["aba, every pane built"].append(r["built"])
            results["aba, runs listed"].append(r["rows"])
            cpu["aba"].append(r["cpu"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(results["minimal Textual app"])
    print(f"cold start to first frame, median of {args.reps} fresh interpreters")
    for name, vals in results.items():
        med = statistics.median(vals)
        print(f"  {name:<22} {med * 1000:7.0f} ms   (min {min(vals) * 1000:.0f})   ×{med / base:.2f} of minimal")
    ms = {k: statistics.median(v) * 1000 for k, v in results.items()}
    cpu_ms = {k: statistics.median(v) * 1000 for k, v in cpu.items()}
    rec.finish([
        Check(f"first frame, median of {args.reps}", ms["aba"], ms["minimal Textual app"], "ms",
              "minimal Textual app", budget_ratio=1.5,
              note="wall time from before the spawn to the first frame painted (headless, the recorded runs fixture)"),
        Check("CPU time to the first frame, median", cpu_ms["aba"], cpu_ms["minimal Textual app"], "ms",
              "minimal Textual app", budget_ratio=1.5,
              note="the process's own CPU (user + system): less sensitive to other jobs than the wall time"),
        Check("every pane built, median", ms["aba, every pane built"], ms["minimal Textual app"], "ms",
              "minimal Textual app", note="the first frame has the runs list and the panes' frames; the charts, "
                                          "telemetry, logs, alerts and key bar are built just after it"),
        Check("every run listed, median", ms["aba, runs listed"], ms["minimal Textual app"], "ms",
              "minimal Textual app"),
    ], figures={"wall_s": results, "cpu_s": cpu, "python_pass_ms": ms["python -c pass"], "runs": n_runs})


if __name__ == "__main__":
    main()
