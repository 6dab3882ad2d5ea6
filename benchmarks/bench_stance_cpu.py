"""`stance-cpu` over several seeds: does DPO+NLL move the embedded model's stance on questions it was not
tuned on, beyond question-level intervals?

Each seed runs the real preset (`aba run --preset stance-cpu` with dpo.seed = eval.seed = S, the DPO
then its chained eval of the embedded model against the run's `best` on `builtin:stance-test`) in its own
runs dir under --work, recording wall times and the load average while it ran. Finished seeds are kept
and not rerun, so the script resumes after an interruption and re-analysing costs nothing. The analysis
reads each eval's answers with the current stance analyser (pipeline.evaluate.rebuild), resamples
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
from pipeline.evaluate.report_md import analyser_of
from pipeline.runs.events import iter_events
from pipeline.runs.layout import EVAL_REPORT_JSON, EVENTS_FILE
from pipeline.runs.vocabulary import EventType

ROOT = Path(__file__).resolve().parents[1]
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
        if ev.get("type") == EventType.CHAIN and ev.get("next_run"):
            return str(ev["next_run"])
    raise RuntimeError(f"{dpo_id}: no chained eval run in its events")


def _wait(runs: Path, run_id: str, timeout: float = 6 * 3600) -> str:
    from pipeline.runs.launcher import wait_for
    from pipeline.runs.status import TERMINAL
    from pipeline.runs.store import RunStore

    return wait_for(RunStore(runs), run_id, set(TERMINAL) | {"lost"}, timeout=timeout)


def _stage_times(runs: Path, dpo: str, ev: str) -> dict[str, float | None]:
    """Each stage's own time from its run status (started → ended): `aba run --wait` waits for the whole
    chain, so the wall clock around it cannot tell the DPO from its chained eval."""
    from pipeline.runs.status import read_status_raw

    out: dict[str, float | None] = {}
    for key, run_id in (("dpo_s", dpo), ("eval_s", ev)):
        st = read_status_raw(runs / run_id)
        out[key] = round(st.ended_at - st.started_at, 1) if st.started_at and st.ended_at else None
    return out


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
    ev = _chained_eval(runs, dpo)
    state = _wait(runs, ev)
    t2 = time.time()
    if state != "succeeded":
        raise RuntimeError(f"seed {seed}: eval run {ev} ended {state}")
    rec = {"seed": seed, "runs_dir": str(runs), "dpo_run": dpo, "eval_run": ev,  # stage times: _stage_times
           "wall_s": round(t2 - t0, 1), "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)),
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
        took = _stage_times(Path(rec["runs_dir"]), rec["dpo_run"], rec["eval_run"])
        print(f"seed {seed}: DPO {took['dpo_s'] or 0:.0f} s, eval {took['eval_s'] or 0:.0f} s, load mean "
              f"{rec['load']['mean']:.1f}", flush=True)
        records.append(rec)
    write_results(records)


METRICS = ("self_pragmatism", "self_performative", "performative", "ai_disclaimer", "factual", "syllogisms",
           "benign_refusal", "harmful_refusal", "consistency")


def _rebuilt(rec: dict[str, Any]) -> dict[str, Any]:
    """The seed's eval report, re-read with the current analyser and intervals (no model is loaded)."""
    from pipeline.atomic import read_json_object
    from pipeline.evaluate.rebuild import rebuild

    run_dir = Path(rec["runs_dir"]) / rec["eval_run"]
    rebuild(run_dir)
    report = read_json_object(run_dir / EVAL_REPORT_JSON)
    assert report is not None
    return report


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _d(d: dict[str, Any]) -> str:
    if d.get("d") is None:
        return "–"
    return f"{100 * d['d']:+.0f} pts [{100 * d['lo']:+.0f}, {100 * d['hi']:+.0f}]{' ✔' if d['clear'] else ''}"


def analyse(records: list[dict[str, Any]]) -> dict[str, Any]:
    from benchmarks.results_file import machine
    from pipeline.evaluate import clusters
    from pipeline.evaluate.questions import load_questions

    seeds: dict[str, Any] = {}
    pairs: dict[str, list[tuple[Any, Any]]] = {k: [] for k in METRICS}
    for rec in records:
        rep = _rebuilt(rec)
        base = rep["baseline"]
        after = next(m["label"] for m in rep["models"] if m["label"] != base)
        pb, pa = rep["per_model"][base], rep["per_model"][after]
        cmp = rep["comparisons"][after]
        seeds[str(rec["seed"])] = {
            "dpo_run": rec["dpo_run"], "eval_run": rec["eval_run"],
            **_stage_times(Path(rec["runs_dir"]), rec["dpo_run"], rec["eval_run"]),
            "started": rec["started"], "load": rec["load"], "analyser": analyser_of(rep), "note": rec.get("note"),
            "before": {k: pb["metrics"][k] for k in METRICS}, "after": {k: pa["metrics"][k] for k in METRICS},
            "change": {k: cmp["deltas"][k] for k in METRICS}, "moved_as_intended": cmp["moved_as_intended"],
            "red_flags": cmp["red_flags"], "criteria": rep["criteria"][after],
            "battery": (rep.get("battery") or {}).get("summary"),
            "judge": {"id": (rep.get("judge") or {}).get("judge"),
                      "flag": ((rep.get("judge") or {}).get("reliability") or {}).get("flag")}}
        for k in METRICS:
            pairs[k].append((pb["clusters"][k], pa["clusters"][k]))
    qs = load_questions("builtin:stance-test")
    cats: dict[str, int] = {}
    for q in qs:
        cats[q.category] = cats.get(q.category, 0) + 1
    pooled = {k: clusters.pooled_difference(v) for k, v in pairs.items()}
    prag = pooled["self_pragmatism"]
    per_seed = {s: v["change"]["self_pragmatism"]["clear"] and v["change"]["self_pragmatism"]["d"] > 0
                for s, v in seeds.items()}
    loads = [r["load"]["mean"] for r in records]
    return {"preset": "stance-cpu", "questions": "builtin:stance-test", "question_categories": cats,
            "samples": 3, "seeds": seeds, "pooled": pooled,
            "pragmatism_moved": {"pooled": bool(prag["clear"] and (prag["d"] or 0) > 0), "per_seed": per_seed},
            "machine": machine({"mean": sum(loads) / len(loads), "max": max(r["load"]["max"] for r in records)}
                               if loads else None)}


def render(data: dict[str, Any]) -> str:
    from pipeline.evaluate.report_md import LABELS, criterion_row

    seeds = data["seeds"]
    moved = data["pragmatism_moved"]
    lines = ["# `stance-cpu` over several seeds, on questions it was not tuned on", "",
             f"`aba run --preset stance-cpu` with dpo.seed = eval.seed = {', '.join(seeds)}: DPO+NLL on the 25 pairs, "
             f"then the embedded model (baseline) against the run's `best` on `{data['questions']}` "
             f"({sum(data['question_categories'].values())} questions: "
             + ", ".join(f"{v} {k}" for k, v in data["question_categories"].items())
             + f"), {data['samples']} samples each. Intervals resample questions (95 %); ✔: clear of zero. "
             f"Pooled: the mean over seeds of each seed's change, questions resampled together.", "",
             "| metric | baseline | after | change, pooled over seeds | " + " | ".join(f"seed {s}" for s in seeds)
             + " |", "|---|---|---|---|" + "---|" * len(seeds)]
    for k, d in data["pooled"].items():
        before = [v["before"][k]["p"] for v in seeds.values() if v["before"][k]["p"] is not None]
        after = [v["after"][k]["p"] for v in seeds.values() if v["after"][k]["p"] is not None]
        lines.append(f"| {LABELS[k]} | {_pct(_mean(before))} | {_pct(_mean(after))} | {_d(d)} | "
                     + " | ".join(_d(v["change"][k]) for v in seeds.values()) + " |")
    lines += ["", f"**Does pragmatism on self-properties move beyond its interval?** Pooled over the seeds: "
              f"**{'yes' if moved['pooled'] else 'no'}** ({_d(data['pooled']['self_pragmatism'])}); per seed: "
              + ", ".join(f"seed {s} {'yes' if v else 'no'}" for s, v in moved["per_seed"].items()) + ".", ""]
    lines += ["Seed 003's targets and seed 000's criteria for the trained model, per seed:", "",
              "| criterion | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
    keys = [c["key"] for c in next(iter(seeds.values()))["criteria"]]
    for key in keys:
        row = [next(c for c in v["criteria"] if c["key"] == key) for v in seeds.values()]
        cells = [" ".join(x for x in criterion_row(c)[1:3] if x != "–") for c in row]
        lines.append(f"| {row[0]['text']} | " + " | ".join(cells) + " |")
    lines += ["", "| seed | DPO | eval | load average (mean / max) | judge |", "|---|---|---|---|---|"]
    for s, v in seeds.items():
        dpo, ev = (f"{x / 60:.1f} min" if x is not None else "–" for x in (v["dpo_s"], v["eval_s"]))
        lines.append(f"| {s} | {dpo} | {ev} | {v['load']['mean']:.1f} / "
                     f"{v['load']['max']:.1f} | {v['judge']['id']}: {v['judge']['flag'] or 'signal'} |")
    notes = [f"- seed {s}: {v['note']}" for s, v in seeds.items() if v.get("note")]
    lines += ["", *notes] if notes else []
    m = data["machine"]
    started = sorted(v["started"] for v in seeds.values())
    lines += ["", f"Seeds run from {started[0]} to {started[-1]} (start times, machine's clock) on {m['cpus']} CPUs "
              "shared with other jobs; timings under that load are not the preset's quiet-machine speed. Answers "
              f"re-read and analysed {m['measured_at']} at commit {m['commit']}."]
    return "\n".join(lines)


def write_results(records: list[dict[str, Any]]) -> None:
    from benchmarks.results_file import publish

    if not records:
        print("no finished seed to analyse")
        return
    data = analyse(records)
    publish("stance-cpu", data, render(data))


if __name__ == "__main__":
    main()
