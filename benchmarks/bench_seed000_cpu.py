"""`seed000-cpu` as written, timed: datagen → SFT → GRPO (judge reward) → eval against the base → GGUF
export on the embedded model, every stage a real run through the supervisor, against its budget of 45
minutes on 2 cores (the preset's promise; there is no faster peer to compare with, so the budget is the
yardstick). Records each stage's wall time, the whole chain's, the load while it ran, and whether the eval
report holds the battery, the tournament against the base with intervals and each dimension's change with
its interval. Writes benchmarks/results/seed000-cpu.json and .md.

    .venv/bin/python benchmarks/bench_seed000_cpu.py [--runs-dir DIR] [--timeout-min 90]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.runs.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_S = 45 * 60


def follow_chain(store: RunStore, first: str, timeout_s: float) -> list[dict]:
    """Each run of the chain in order (pipeline.monitor.chain, as `aba run --wait` follows it), with its stage,
    end state, reason and seconds."""
    from pipeline.monitor.chain import wait_chain
    from pipeline.runs.status import read_status

    ids = [first]
    wait_chain(store, first, timeout_s, on_next=lambda child, _stage: ids.append(child))
    rows: list[dict] = []
    for run_id in ids:
        path = store.get(run_id).path
        st = read_status(path)
        seconds = (st.ended_at or time.time()) - (st.started_at or time.time())
        rows.append({"run": run_id, "stage": st.stage, "state": st.state, "reason": st.reason,
                     "seconds": round(seconds, 1), "path": str(path)})
    return rows


def report_holds(eval_dir: Path) -> dict[str, bool]:
    """What the done-when asks of the eval report."""
    from pipeline.runs.layout import EVAL_REPORT_JSON

    try:
        rep = json.loads((eval_dir / EVAL_REPORT_JSON).read_text())
    except (OSError, ValueError):
        return {"report": False}
    ratings = rep.get("tournament", {}).get("ratings") or []
    changes = rep.get("judge", {}).get("changes") or {}
    dims = [d for ch in changes.values() for d in ch.values()]  # {model: {dimension: {d, lo, hi}}}
    return {
        "report": True,
        "battery": bool(rep.get("battery")),
        "tournament vs base, with intervals": bool(ratings) and all({"elo_lo", "elo_hi"} <= set(r) for r in ratings),
        "each dimension's change, with its interval": bool(dims) and all(
            {"d", "lo", "hi"} <= set(d) for d in dims),
    }


def main() -> None:
    from benchmarks.record import Check, Record
    from pipeline.config.run import build_config, preset_path
    from pipeline.runs import launcher
    from pipeline.runs.store import RunStore
    from pipeline.train.preflight import preflight_chain

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", type=Path, default=None)
    ap.add_argument("--timeout-min", type=float, default=90)
    args = ap.parse_args()
    rec = Record("seed000-cpu", "seed000-cpu as written: the whole chain's wall time against its 45-minute budget",
                 reps=1)
    store = RunStore(args.runs_dir or Path(tempfile.mkdtemp(prefix="seed000-cpu-")) / "runs")
    cfg = build_config(None, [preset_path("seed000-cpu")])
    preflight_chain(cfg, store.root)
    t0 = time.time()
    first, _path = launcher.launch(store, cfg)
    rows = follow_chain(store, first, args.timeout_min * 60)
    total = time.time() - t0
    for r in rows:
        print(f"  {r['stage']:<8} {r['state']:<10} {r['seconds']:7.0f} s  {r['reason'] or ''}")
    done = [r["stage"] for r in rows if r["state"] == "succeeded"]
    ev = next((Path(r["path"]) for r in rows if r["stage"] == "eval"), None)
    holds = report_holds(ev) if ev else {"report": False}
    whole = done == ["datagen", "sft", "grpo", "eval", "export"]
    print(f"chain {'complete' if whole else 'INCOMPLETE'} in {total / 60:.1f} min; report: {holds}")
    rec.finish([Check("whole chain, wall time", total / 60, None, "min", "the preset's budget",
                      budget_value=BUDGET_S / 60 if whole else 0.0,
                      note="" if whole else f"the chain stopped after {done}")],
               figures={"stages": rows, "complete": whole, "report_holds": holds, "runs_dir": str(store.root)},
               notes=["One run of the preset as written (no settings changed); the load is what else ran then."])


if __name__ == "__main__":
    main()
