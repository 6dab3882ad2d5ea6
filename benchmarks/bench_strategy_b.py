"""Strategy B for real: `aba run --preset strategy-b` (seed 000 §8) as written, on this machine.

Runs the preset in its own runs dir under --work (extra `--set key=value` pass through, and are recorded),
samples the load average while it runs, and reads what the runs wrote: each GRPO branch's wall time,
mean reward and ‖ΔW‖ (best and final adapters, computed from the adapter files), the merge's ‖ΔW‖ and
the share of TIES-of-ΔW its saved adapter holds, and the comparison (each model's 9 judge dimensions,
tournament rating with its 95 % bootstrap interval). Writes benchmarks/results/strategy-b.json and .md.
A finished run under --work is read again, not rerun (--analyse-only never launches).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_strategy_b.py [--work DIR] [--set grpo.max_steps=4] [--analyse-only]
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

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.runs.events import iter_events
from pipeline.runs.layout import (
    BEST,
    BRANCHES_FILE,
    CHECKPOINTS_DIR,
    COMPARISON_JSON,
    EVAL_DIR,
    EVAL_PROBES,
    EVAL_REPORT_JSON,
    EVENTS_FILE,
    FINAL,
    METADATA,
    REPORT_DIR,
    STATUS_FILE,
)
from pipeline.runs.vocabulary import EventType

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NAME = "strategy-b"
DEFAULT_WORK = Path.home() / ".cache" / "aba" / "bench" / NAME


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while the preset runs (the machine is shared), kept
    in ``file`` (appended to across restarts of this script, read by --analyse-only)."""

    def __init__(self, file: Path, every: float = 30.0) -> None:
        self.file = file
        self.samples: list[float] = json.loads(file.read_text()) if file.is_file() else []
        self._stop = threading.Event()
        self._take()
        threading.Thread(target=self._loop, args=(every,), daemon=True).start()

    def _take(self) -> None:
        self.samples.append(round(os.getloadavg()[0], 2))
        atomic_write_json(self.file, self.samples)

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            self._take()

    def stop(self) -> None:
        self._stop.set()


def load_summary(file: Path) -> dict[str, float] | None:
    samples = json.loads(file.read_text()) if file.is_file() else []
    if not samples:
        return None
    return {"mean": round(sum(samples) / len(samples), 2), "max": max(samples), "n": len(samples)}


def commit() -> str:
    """The code measured: git's HEAD, or the COMMIT file of a snapshot made with git archive."""
    if (ROOT / "COMMIT").is_file():
        return (ROOT / "COMMIT").read_text().strip()
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False)
    return out.stdout.strip()


def launch(runs: Path, sets: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["--preset", NAME, *[a for s in sets for a in ("--set", s)]]
    out = subprocess.run([sys.executable, "-m", "aba_tui", "run", "--runs-dir", str(runs), *args],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"aba run {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return out.stdout.strip().splitlines()[0]


def merge_run(work: Path, sets: list[str], analyse_only: bool) -> Path:
    """The merge run under work/runs: an earlier one (resumed if it had not ended), or a new one."""
    from pipeline.runs.launcher import wait_for
    from pipeline.runs.status import TERMINAL, read_status
    from pipeline.runs.store import RunStore

    runs = work / "runs"
    store = RunStore(runs)
    done = [r for r in store.list_runs() if read_status(r.path).stage == "merge"]
    if done:
        path = done[-1].path
    elif analyse_only:
        raise SystemExit(f"--analyse-only: no strategy-b merge run under {runs}")
    else:
        runs.mkdir(parents=True, exist_ok=True)
        atomic_write_json(work / "run.json", {"sets": sets, "commit": commit()})  # read by --analyse-only
        path = store.get(launch(runs, sets)).path
    if read_status(path).state not in TERMINAL and not analyse_only:
        sampler = LoadSampler(work / "load.json")
        wait_for(store, path.name, set(TERMINAL) | {"lost"}, timeout=12 * 3600)
        sampler.stop()
    return path


def _wall(path: Path) -> float | None:
    st = json.loads((path / STATUS_FILE).read_text())
    return round(st["ended_at"] - st["started_at"], 1) if st.get("ended_at") and st.get("started_at") else None


def _metrics(path: Path) -> list[dict[str, Any]]:
    return [ev for _off, ev in iter_events(path / EVENTS_FILE)
            if ev.get("type") == EventType.METRICS and "reward" in ev]


def branch_facts(runs: Path, branches: dict[str, Any]) -> dict[str, Any]:
    from pipeline.merge.delta import Adapter

    out: dict[str, Any] = {}
    for label, b in branches.items():
        path = runs / b["run_id"]
        if b.get("role") == "eval" or not (path / CHECKPOINTS_DIR).is_dir():
            out[label] = {"run": b["run_id"], "role": b.get("role"), "wall_s": _wall(path)}
            continue
        steps = _metrics(path)
        norms = {ck: round(Adapter(path / CHECKPOINTS_DIR / ck).norm(), 6) for ck in (BEST, FINAL)
                 if (path / CHECKPOINTS_DIR / ck / "adapter_config.json").is_file()}
        best_meta = json.loads((path / CHECKPOINTS_DIR / BEST / METADATA).read_text())
        out[label] = {"run": b["run_id"], "role": b.get("role"), "weights": b.get("weights"), "wall_s": _wall(path),
                      "steps": len(steps), "reward_first": steps[0]["reward"] if steps else None,
                      "reward_last": steps[-1]["reward"] if steps else None,
                      # a group whose completions all got one reward has no advantage, hence no gradient
                      "steps_with_reward_spread": sum(float(e.get("reward_std") or 0.0) > 0 for e in steps),
                      "best_step": best_meta.get("step"), "delta_norm": norms}
    return out


def same_as_base(eval_run: Path, base: str) -> dict[str, Any]:
    """Per model: on how many questions its answer is, character for character, the base model's (greedy
    answers of an adapter too small to change them say nothing about its training)."""
    answers: dict[str, dict[str, str]] = {}
    with (eval_run / EVAL_DIR / EVAL_PROBES).open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            answers.setdefault(row["model"], {})[f"{row['qid']}#{row.get('sample', 0)}"] = row.get("answer") or ""
    ref = answers.get(base, {})
    return {m: {"same": sum(ref.get(k) == a for k, a in got.items()), "n": len(got)}
            for m, got in answers.items() if m != base}


def analyse(path: Path, work: Path) -> dict[str, Any]:
    runs = path.parent
    launched = json.loads((work / "run.json").read_text()) if (work / "run.json").is_file() else {}
    sets = launched.get("sets", [])
    branches = json.loads((path / BRANCHES_FILE).read_text())
    meta = json.loads((path / CHECKPOINTS_DIR / FINAL / METADATA).read_text())
    comparison = json.loads((path / REPORT_DIR / COMPARISON_JSON).read_text())
    eval_run = runs / branches["compare"]["run_id"]
    eval_report = json.loads((eval_run / EVAL_REPORT_JSON).read_text())
    models = comparison["models"]
    by_role = {m["role"]: (label, m) for label, m in models.items()}
    merged, joint, base = by_role.get("merged"), by_role.get("joint (Strategy A)"), by_role.get("base")
    return {
        "benchmark": NAME, "command": f"aba run --preset {NAME}" + "".join(f" --set {s}" for s in sets),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(json.loads(
            (path / STATUS_FILE).read_text()).get("ended_at") or time.time())),
        "commit": launched.get("commit", ""), "cpus": os.cpu_count(),
        "load_1m_while_running": load_summary(work / "load.json"), "merge_run": path.name,
        "wall_s": {"merge_run_total": _wall(path), **{k: v["wall_s"] for k, v in branch_facts(runs, branches).items()}},
        "branches": branch_facts(runs, branches),
        "merge": {"method": meta["merge"]["method"], "density": meta["merge"]["density"], "r": meta["r"],
                  "seconds": meta.get("merge_seconds"), **meta.get("delta", {})},
        "judge": comparison.get("judge"), "judge_reliability": (eval_report.get("judge") or {}).get("reliability"),
        "models": {label: {k: m.get(k) for k in ("role", "dimensions", "dimensions_mean", "missing", "elo", "elo_lo",
                                                   "elo_hi", "win_rate", "games")} for label, m in models.items()},
        "answers_same_as_base": same_as_base(eval_run, base[0]) if base else {},
        "verdict": verdict(merged, joint, base),
        "seeds": {"grpo": "the preset's (seed 0)", "eval": "eval.seed 0"},
    }


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not (a["elo_lo"] > b["elo_hi"] or b["elo_lo"] > a["elo_hi"])


def verdict(merged: tuple[str, dict[str, Any]] | None, joint: tuple[str, dict[str, Any]] | None,
            base: tuple[str, dict[str, Any]] | None) -> str:
    """Which wins the tournament, said only where the 95 % rating intervals do not overlap."""
    if merged is None or joint is None or any(m[1].get("elo_lo") is None for m in (merged, joint)):
        return "no tournament intervals: nothing to say"
    parts = []
    if _overlap(merged[1], joint[1]):
        parts.append("the merge (Strategy B) and the joint run (Strategy A) cannot be told apart at this size: "
                     "their 95 % rating intervals overlap")
    else:
        win = "Strategy B's merge" if merged[1]["elo"] > joint[1]["elo"] else "Strategy A's joint run"
        parts.append(f"{win} wins the tournament: the 95 % rating intervals do not overlap")
    if base is not None and base[1].get("elo_lo") is not None:
        for name, m in (("merge", merged), ("joint run", joint)):
            parts.append(f"the {name} vs the base: " + ("intervals overlap" if _overlap(m[1], base[1]) else
                         ("above" if m[1]["elo"] > base[1]["elo"] else "below") + ", intervals apart"))
    return "; ".join(parts)


def _f(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def markdown(r: dict[str, Any]) -> str:
    load = r["load_1m_while_running"] or {}
    lines = [f"# {NAME}: seed 000 Strategy B on the embedded model", "",
             f"`{r['command']}` (commit {r['commit']}) — merge run {r['merge_run']}, "
             f"measured {r['measured_at']} on {r['cpus']} CPUs, "
             f"1-minute load average while it ran: mean {load.get('mean', '—')}, max {load.get('max', '—')} "
             f"({load.get('n', 0)} samples; other work shared the machine). Seeds: {r['seeds']}.", "",
             "## Branches (GRPO, one run each)", "",
             "| branch | role | wall | steps (with reward spread) | reward first → last | best step | ‖ΔW‖ best "
             "| ‖ΔW‖ final |", "|---|---|---:|---:|---|---:|---:|---:|"]
    for label, b in r["branches"].items():
        if b.get("role") == "eval":
            continue
        n = b.get("delta_norm", {})
        lines.append(f"| {label} | {b['role']} | {_f(b['wall_s'], '.0f')} s | "
                     f"{b['steps']} ({b['steps_with_reward_spread']}) | "
                     f"{_f(b['reward_first'])} → {_f(b['reward_last'])} | {b['best_step']} | "
                     f"{_f(n.get(BEST), '.4f')} | {_f(n.get(FINAL), '.4f')} |")
    m = r["merge"]
    kept = (m.get("vs_rule_on_delta") or {}).get("kept")
    lines += ["", f"Merge: {m['method']} (density {m['density']}, rank {m['r']}) in {_f(m.get('seconds'), '.1f')} s; "
              f"sources' ‖ΔW‖ {m.get('source_norms')}, merged ‖ΔW‖ {_f(m.get('merged_norm'), '.4f')}; "
              f"the saved rank-{m['r']} adapter holds {_f(kept, '.4f')} of TIES applied to the full ΔW.", "",
              f"## Comparison (judge {r['judge']})", "",
              "| model | role | mean of 9 dims | missing | rating | 95 % interval | win rate |",
              "|---|---|---:|---:|---:|---|---:|"]
    for label, x in r["models"].items():
        wr = "—" if x["win_rate"] is None else f"{100 * x['win_rate']:.0f} %"
        lines.append(f"| {label} | {x['role']} | {_f(x['dimensions_mean'])} | {x['missing']} | {_f(x['elo'], '.0f')} "
                     f"| {_f(x['elo_lo'], '.0f')}–{_f(x['elo_hi'], '.0f')} | {wr} |")
    same = r.get("answers_same_as_base") or {}
    if same:
        parts = [f"{label} ({r['models'].get(label, {}).get('role', '?')}) {x['same']}/{x['n']}"
                 for label, x in same.items()]
        lines += ["", "Answers identical to the base model's: " + ", ".join(parts) + "."]
    lines += ["", f"**Verdict**: {r['verdict']}."]
    if r.get("judge_reliability"):
        lines += ["", f"Judge reliability (eval stage): {json.dumps(r['judge_reliability'])[:600]}"]
    lines += ["", f"Wall times (s): {json.dumps(r['wall_s'])}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--analyse-only", action="store_true")
    args = ap.parse_args()
    path = merge_run(args.work, args.sets, args.analyse_only)
    from pipeline.runs.status import read_status

    st = read_status(path)
    if st.state != "succeeded":
        raise SystemExit(f"{path.name}: {st.state} ({st.reason})")
    res = analyse(path, args.work)
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / f"{NAME}.json", res)
    atomic_write_text(RESULTS / f"{NAME}.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
