"""A worker's CPU threads: the default pick (pipeline.runs.cpu: every allowed core) against torch's own
default and against one thread (what ``supervisor.threads = 1`` gives).

Each variant runs in a fresh interpreter (OpenMP reads its thread count at start): a small
transformer-sized workload (forward + backward of a 2-layer MLP, 576 wide like SmolLM2-135M, batch 8×192
tokens) timed over ``--steps`` steps, interleaved ``--reps`` times so background load hits both alike.
Baseline: torch's default thread count (it ignores a cgroup CPU quota; the pick does not). Prints the
median step time of each and the ratios, writes benchmarks/results/worker-threads.json and .md; asserts
nothing. On a loaded box fewer threads can win: that is the operator's ``supervisor.threads`` or the
adaptive policy, never the default.

    .venv/bin/python benchmarks/bench_worker_threads.py [--steps 20] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CODE = """
import json, sys, time, torch
steps = int(sys.argv[1])
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(576, 1536), torch.nn.GELU(), torch.nn.Linear(1536, 576))
x = torch.randn(8 * 192, 576)
net(x).sum().backward()
t = time.perf_counter()
for _ in range(steps):
    net.zero_grad()
    net(x).sum().backward()
print(json.dumps({"threads": torch.get_num_threads(), "step_s": (time.perf_counter() - t) / steps}))
"""


def run(steps: int, threads: int | None) -> dict:
    from pipeline.runs.cpu import THREAD_VARS

    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads is not None:
        env.update({k: str(threads) for k in THREAD_VARS})
    out = subprocess.run([sys.executable, "-c", CODE, str(steps)], env=env, capture_output=True, text=True,
                         check=True, timeout=600)
    return json.loads(out.stdout)


def main() -> None:
    from benchmarks.record import Check, Record
    from pipeline.runs.cpu import pick_threads

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    rec = Record("worker-threads", "A worker's CPU threads: the default pick against torch's default", reps=args.reps)
    picked, why = pick_threads(0)
    res: dict[str, list[dict]] = {"torch default": [], "default pick": [], "one thread": []}
    for _ in range(args.reps):
        res["torch default"].append(run(args.steps, None))
        res["default pick"].append(run(args.steps, picked))
        res["one thread"].append(run(args.steps, 1))
    print(f"MLP forward+backward step, {args.steps} steps × {args.reps} reps; pick: {why}")
    med = {}
    for name, rows in res.items():
        med[name] = statistics.median(r["step_s"] for r in rows) * 1000
        print(f"  {name:<15} {rows[0]['threads']} thread(s)   median {med[name]:7.1f} ms a step")
    rec.finish([
        Check(f"step time, default pick ({picked} threads)", med["default pick"], med["torch default"], "ms",
              f"torch's own default ({res['torch default'][0]['threads']} threads)", budget_ratio=1.03,
              note=f"the worker said: {why}"),
        Check("step time, one thread", med["one thread"], med["default pick"], "ms", "the default pick"),
    ], figures={"steps": args.steps, "runs": res})


if __name__ == "__main__":
    main()
