"""Open a 1 GB / 3M-line events.jsonl and draw the last 10k points (budget ≤ 0.2× a line count, < 50 MB).

Generates the file in a temp dir (deleted at the end), then, each in a fresh interpreter:
- baseline: a plain line count of the same file (1 MiB reads, bytes.count), the cheapest thing that
  touches every byte;
- ours: the control centre's path: the watcher opens the run (reads backwards to the last 10k lines,
  starts the tail there), ingests them into the metric series, prepares the loss chart (window, EMA,
  min/max downsampling) and lays it into braille cells at 120×30 (aba_tui.panes.braille);
then appends a line and polls once (only the new bytes are read), then polls on until the file's history,
read behind the drawn tail in slices, has replaced it (pipeline/monitor/history.py; timed, not budgeted).
Prints wall time and peak RSS growth of each and the ratio, writes benchmarks/results/tui-bigfile.json and
.md (budget: ≤ 0.2× the line count, < 50 MB, both up to the first frame); asserts nothing. Writing 1 GB
takes a while on a shared machine: ``--keep DIR`` keeps the file for the next run.

    .venv/bin/python benchmarks/bench_tui_bigfile.py [--lines 3000000] [--reps 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
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

LINE_COUNT = """
import sys, time
import psutil
t = time.perf_counter()
n = 0
with open(sys.argv[1], "rb") as fh:
    while chunk := fh.read(1 << 20):
        n += chunk.count(b"\\n")
dt = time.perf_counter() - t
print(dt, n, psutil.Process().memory_info().rss)
"""

OURS = """
import sys, threading, time
from pathlib import Path
import psutil
proc = psutil.Process()
rss0 = proc.memory_info().rss
peak = [0]
def sample():  # ru_maxrss is inherited across fork/exec on Linux: sample the RSS instead
    while True:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
from pipeline.monitor.runs_model import RunsModel
from pipeline.runs.store import RunStore
from pipeline.monitor.series import plot_points
from aba_tui.panes.braille import Line, layout
runs = Path(sys.argv[1])
rss1 = proc.memory_info().rss
t = time.perf_counter()
model = RunsModel(RunStore(runs), tail_lines=10_000, full_history_bytes=16 << 20)
model.want({"big"})
model.poll_once()
e = model.entry("big")
pd = plot_points(e.series.series["loss"], 112, smoothing=0.6)
frame = layout(120, 30, "loss", [Line(pd.raw_x, pd.raw_y, "#888888"), Line(pd.smooth_x, pd.smooth_y, "#5AA9E6")])
dt = time.perf_counter() - t
with open(runs / "big" / "events.jsonl", "a") as fh:
    fh.write('{"ts": 1.0, "type": "metrics", "step": 99999999, "loss": 0.5}\\n')
t2 = time.perf_counter()
model.poll_once()
dt2 = time.perf_counter() - t2
time.sleep(0.01)
rss = peak[0]
tail_points, tail_only = len(e.series.series["loss"]), e.series.tail_only
t3 = time.perf_counter()
while e.history is not None:  # the history, a slice a pass, as the app's watcher reads it when idle
    model.poll_once()
dt3 = time.perf_counter() - t3
full = proc.memory_info().rss - rss1
print(dt, rss - rss1, tail_points, tail_only, dt2, e.series.step, len(frame), rss1 - rss0, dt3,
      len(e.series.series["loss"]), full)
"""


def generate(path: Path, lines: int) -> None:
    # ~340 bytes a line (1 GB at 3M lines) like a TRL DPO log, written in 64k-line blocks.
    head = json.dumps({"ts": 1.0, "type": "progress", "step": 0, "total_steps": lines}) + "\n"
    tmpl = ('{{"ts": {ts:.3f}, "type": "metrics", "step": {s}, "loss": {loss:.6f}, "accuracy": {acc:.4f}, '
            '"lr": 1e-05, "grad_norm": {g:.4f}, "margins": {m:.4f}, "epoch": {ep:.4f}, "rewards/chosen": {rc:.5f}, '
            '"rewards/rejected": {rr:.5f}, "kl": 0.0123, "samples_per_s": 12.5, "tokens_per_s": 3150.0, '
            '"logps/chosen": -{lc:.4f}, "logps/rejected": -{lr:.4f}, "eta_s": {eta:.1f}}}\n')
    with open(path, "w") as fh:
        fh.write(head)
        block = []
        for s in range(1, lines + 1):
            block.append(tmpl.format(ts=1.7e9 + s, s=s, loss=1.0 / (1 + s * 1e-5), acc=0.5 + (s % 100) / 250,
                                     g=1.0 + (s % 7) / 10, m=(s % 50) / 10, ep=s / 25, rc=0.1 * (s % 9),
                                     rr=-0.1 * (s % 11), lc=40 + s % 13, lr=45 + s % 17, eta=float(lines - s)))
            if len(block) == 65536:
                fh.write("".join(block))
                block.clear()
        fh.write("".join(block))


def run(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout.split()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=3_000_000)
    ap.add_argument("--reps", type=int, default=3, help="alternated runs of the line count and ours")
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the generated file in this folder")
    args = ap.parse_args()
    from benchmarks.record import Check, Record

    rec = Record("tui-bigfile", "Open a 1 GB / 3M-line events.jsonl and draw the last 10k points", reps=args.reps)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="aba-bench-big-"))
    run_dir = tmp / "runs" / "big"
    run_dir.mkdir(parents=True, exist_ok=True)
    events = run_dir / "events.jsonl"
    try:
        (run_dir / "status.json").write_text(json.dumps({"run_id": "big", "stage": "dpo", "state": "succeeded",
                                                         "host": "bench", "started_at": 1.7e9}))
        if not events.exists() or args.keep is None:
            t = time.perf_counter()
            generate(events, args.lines)
            print(f"generated {events.stat().st_size / 2**30:.2f} GB, {args.lines:,} lines in "
                  f"{time.perf_counter() - t:.0f} s")
        os.sync()
        base: list[float] = []
        ours: list[float] = []
        grew: list[float] = []
        appended: list[float] = []
        filled: list[float] = []
        full_mb: list[float] = []
        for _ in range(args.reps):  # alternated: a busy stretch of the machine hits both
            base_t, base_n, _base_rss = run(LINE_COUNT, str(events))
            (t, rss, npts, tail_only, t_append, last_step, _frame, import_rss, t_fill, full_pts,
             full_rss) = run(OURS, str(tmp / "runs"))
            base.append(float(base_t) * 1000)
            ours.append(float(t) * 1000)
            grew.append(int(rss) / 2**20)
            appended.append(float(t_append) * 1000)
            filled.append(float(t_fill))
            full_mb.append(int(full_rss) / 2**20)
            print(f"line count {base[-1]:7.0f} ms   ours {ours[-1]:7.0f} ms (+{grew[-1]:.0f} MB over the "
                  f"{int(import_rss) / 2**20:.0f} MB of the imports; {int(npts):,} loss points; tail only: "
                  f"{tail_only}; an appended line read in {appended[-1]:.1f} ms, last step {last_step}; the history "
                  f"behind it read in {filled[-1]:.1f} s: {int(full_pts):,} loss points, +{full_mb[-1]:.0f} MB)",
                  flush=True)
        size = events.stat().st_size
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rec.finish([
        Check(f"open, last 10k points, drawn; median of {args.reps}", statistics.median(ours), statistics.median(base),
              "ms", "a plain line count of the file", budget_ratio=0.2,
              note="ours: the runs model opens the run (reads back to the last 10k lines), ingests them, prepares "
                   "the loss chart and lays it into braille cells at 120×30; each in a fresh interpreter"),
        Check("memory it takes, most of the runs", max(grew), None, "MB", "—", budget_value=50.0),
        Check("an appended line read by the next poll, median", statistics.median(appended), None, "ms", "—"),
        Check("the whole history read behind the drawn tail, median", statistics.median(filled) * 1000,
              statistics.median(base), "ms", "a plain line count of the file",
              note="after the first frame, in 2 MiB slices, one a watcher pass; then the series is a full read's"),
        Check("memory once the history is read, most of the runs", max(full_mb), None, "MB", "—"),
    ], figures={"lines": int(base_n), "bytes": size, "line_count_ms": base, "ours_ms": ours, "rss_growth_mb": grew,
                "history_s": filled, "history_rss_mb": full_mb})


if __name__ == "__main__":
    main()
