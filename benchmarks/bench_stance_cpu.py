"""`stance-cpu` over several seeds: does DPO+NLL move the embedded model's stance on questions it was not
tuned on, beyond question-level intervals?

Each seed runs the real preset (`aba run --preset stance-cpu` with dpo.seed = eval.seed = S, the DPO
then its chained eval of the embedded model against the run's `best` on `builtin:stance-test`) in its own
runs dir under --work, recording wall times and the load average while it ran. Finished seeds are kept
and not rerun, so the script resumes after an interruption and re-analysing costs nothing. The analysis
reads each eval's answers with the current stance patterns (pipeline.evaluate.rebuild), resamples
questions for the intervals (pipeline.evaluate.clusters) and writes benchmarks/results/stance-cpu.json
and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_cpu.py [--seeds 1 2 3] [--work DIR] [--analyse-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json
from pipeline.runs.events import iter_events
from pipeline.runs.layout import EVAL_REPORT_JSON, EVENTS_FILE

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_WORK = Path.home() / ".cache" / "aba" / "bench" / "stance-cpu"


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while a run goes (the machine is shared)."""

    def __init__(self, every: float = 30.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, args=(every,), daemon=True)
        self._t.start()

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self.samples.append(os.getloadavg()[0])
        return {"mean": sum(self.samples) / len(self.samples), "max": max(self.samples), "n": len(self.samples)}


def _aba(runs: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "aba_tui", "run", "--runs-dir", str(runs), *args],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"aba run {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return out.stdout.strip().splitlines()[0]


def _chained_eval(runs: Path, dpo_id: str) -> str:
    for _off, ev in iter_events(runs / dpo_id / EVENTS_FILE):
        if ev.get("type") == "chain" and ev.get("next_run"):
            return str(ev["next_run"])
    raise RuntimeError(f"{dpo_id}: no chained eval run in its events")


def _wait(runs: Path, run_id: str, timeout: float = 6 * 3600) -> str:
    from pipeline.runs.launcher import wait_for
    from pipeline.runs.status import TERMINAL
    from pipeline.runs.store import RunStore

    return wait_for(RunStore(runs), run_id, set(TERMINAL) | {"lost"}, timeout=timeout)


def run_seed(work: Path, seed: int) -> dict[str, Any]:
    """One seed of the preset, or the record of an earlier complete one."""
    state_file = work / f"seed-{seed}.json"
    if state_file.is_file():
        done: dict[str, Any] = json.loads(state_file.read_text())
        if (Path(done["runs_dir"]) / done["eval_run"] / EVAL_REPORT_JSON).is_file():
            return done
    runs = work / f"runs-seed-{seed}"
    runs.mkdir(parents=True, exist_ok=True)
    load = LoadSampler()
    t0 = time.time()
    seeds = work / f"seed-{seed}.toml"  # --set reaches only the first stage; a config file reaches the chain
    seeds.write_text(f"[dpo]\nseed = {seed}\n\n[eval]\nseed = {seed}\n")
    dpo = _aba(runs, "--preset", "stance-cpu", "--config", str(seeds), "--wait")
    t1 = time.time()
    ev = _chained_eval(runs, dpo)
    state = _wait(runs, ev)
    t2 = time.time()
    if state != "succeeded":
        raise RuntimeError(f"seed {seed}: eval run {ev} ended {state}")
    rec = {"seed": seed, "runs_dir": str(runs), "dpo_run": dpo, "eval_run": ev, "dpo_s": round(t1 - t0, 1),
           "eval_s": round(t2 - t1, 1), "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)),
           "load": load.stop(), "cpus": os.cpu_count()}
    atomic_write_json(state_file, rec)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--analyse-only", action="store_true", help="only re-read the finished seeds")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in args.seeds:
        if args.analyse_only:
            f = args.work / f"seed-{seed}.json"
            if f.is_file():
                records.append(json.loads(f.read_text()))
            continue
        print(f"seed {seed}: running stance-cpu (load {os.getloadavg()[0]:.1f})", flush=True)
        rec = run_seed(args.work, seed)
        print(f"seed {seed}: DPO {rec['dpo_s']:.0f} s, eval {rec['eval_s']:.0f} s, load mean "
              f"{rec['load']['mean']:.1f}", flush=True)
        records.append(rec)
    write_results(records, RESULTS)


def write_results(records: list[dict[str, Any]], out: Path) -> None:
    raise NotImplementedError("analysis: run again with --analyse-only once it is written")


if __name__ == "__main__":
    main()
