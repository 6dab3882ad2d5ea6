"""Judge reliability of the judges that need no network: the rubric heuristics and the embedded model as a
local judge, on the shipped calibration pairs (pipeline/evaluate/reliability.py).

The rubric is measured on all pairs; the embedded model (slow on CPU: four calls a pair) on --local-pairs
of them, spread over the 9 dimensions. Writes benchmarks/results/judge-reliability.json and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_judge_reliability.py [--local-pairs 9] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks.results_file import machine, publish
from pipeline.evaluate import reliability


def _share(m: dict[str, Any] | None) -> str:
    if not m or not m.get("n"):
        return "–"
    return f"{100 * m['p']:.0f} % [{100 * m['lo']:.0f}–{100 * m['hi']:.0f}] ({m['k']}/{m['n']})"


def render(data: dict[str, Any]) -> str:
    lines = ["# Judge reliability on the calibration pairs", "",
             "Calibration pairs differ clearly on one named dimension; a judge should score the better answer "
             "higher on it, and pick it in both orders. 95 % Wilson intervals. Flag: `judge: no signal` below "
             f"{100 * reliability.MIN_ACCURACY:.0f} % or with the interval reaching {100 * reliability.CHANCE:.0f} %, "
             f"or more than {100 * reliability.MAX_INCONSISTENCY:.0f} % of verdicts flipping with the order.", "",
             "| judge | pairs | scores right | pairwise right (both orders) | order-swap inconsistency | "
             "repeat agreement | flag | seconds |", "|---|---|---|---|---|---|---|---|"]
    for r in data["judges"]:
        lines.append(f"| `{r['judge']}` | {r['pairs']} | {_share(r['calibration_score'])} | "
                     f"{_share(r['calibration_compare'])} | {_share(r['order_swap'])} | {_share(r['repeat'])} | "
                     f"{r['flag'] or 'signal'} | {r['seconds']:.0f} |")
    m = data["machine"]
    lines += ["", f"Measured {m['measured_at']} at commit {m['commit']}, {m['cpus']} CPUs, load average "
              f"{m['load_average']['1m']:.1f} (shared machine)."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--local-pairs", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from pipeline.evaluate.judges import RubricJudge
    from pipeline.judge.config import JudgeSection
    from pipeline.judge.factory import make_judge

    pairs = reliability.load_calibration()
    out = []
    t0 = time.perf_counter()
    rel = reliability.measure(RubricJudge(), pairs, fresh=RubricJudge())
    out.append({**rel, "seconds": time.perf_counter() - t0})
    local = make_judge(JudgeSection(cache=False, threads=args.threads))
    twin = make_judge(JudgeSection(cache=False, threads=args.threads))
    t0 = time.perf_counter()
    try:
        rel = reliability.measure(local, reliability.subset(pairs, args.local_pairs), fresh=twin, repeats=3)
    finally:
        local.close()
        twin.close()
    out.append({**rel, "seconds": time.perf_counter() - t0})
    data = {"judges": out, "calibration": "pipeline/evaluate/labelled/judge-calibration.jsonl",
            "machine": machine()}
    publish("judge-reliability", data, render(data))


if __name__ == "__main__":
    main()
