"""Concept cones on/off (seed 004 priority 3): the two arms and their comparison. The runner
(``Abliteration.run_arms``) gives each arm the same trial budget in one worker — one direction, then
``compare_cones`` cone directions — with its own directions and study under ``abliterate/<arm>/``, trial
events tagged ``arm``; this module (light, no torch) names the arms and writes comparison.json and
comparison.md: best KL at the lowest refusals, mean KL, seconds per trial and memory per arm."""

from __future__ import annotations

import resource
from typing import Any

from pipeline.abliterate.pareto import Trial, read_study
from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.runs.layout import COMPARISON_JSON, COMPARISON_MD

ARM_STEP = 10_000  # arm i's trial events use steps i·10000 + trial + 1 (unique, increasing)


def arms(n_cones: int) -> list[tuple[str, int]]:
    return [("cones-off", 0), (f"cones-{n_cones}", n_cones)]


def arm_summary(trials: list[Trial]) -> dict[str, Any]:
    if not trials:
        return {"trials": 0}
    low = min(t.values["refusals"] for t in trials)
    at_low = [t for t in trials if t.values["refusals"] == low]
    best = min(at_low, key=lambda t: t.values["kl"])
    secs = [t.seconds for t in trials if isinstance(t.seconds, int | float)]
    return {"trials": len(trials), "lowest_refusals": low, "best_kl_at_lowest": best.values["kl"],
            "best_trial": best.number, "kl_mean": sum(t.values["kl"] for t in trials) / len(trials),
            "seconds_per_trial": sum(secs) / len(secs) if secs else None}


def rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def write_comparison(run_dir: Any, memory: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    view = read_study(run_dir)
    by_arm: dict[str, list[Trial]] = {}
    for t in view.trials:
        by_arm.setdefault(t.arm, []).append(t)
    out = {arm: {**arm_summary(ts), **((memory or {}).get(arm, {}))} for arm, ts in by_arm.items()}
    base = view.baseline or {}
    result = {"baseline": {"refusals": base.get("refusals"), "n": base.get("n")}, "arms": out}
    atomic_write_json(run_dir / COMPARISON_JSON, result)
    cols = ("trials", "lowest_refusals", "best_kl_at_lowest", "kl_mean", "seconds_per_trial", "peak_rss_mb",
            "peak_rss_growth_mb", "directions_mb")
    lines = ["# Concept cones on/off", "", f"Original model: {base.get('refusals')}/{base.get('n')} refusals.", "",
             "| arm | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for arm, row in out.items():
        lines.append(f"| {arm} | " + " | ".join(_fmt(row.get(c)) for c in cols) + " |")
    lines += ["", "peak_rss_mb is the process's peak so far (the second arm includes the first);",
              "peak_rss_growth_mb is how much the arm raised it."]
    atomic_write_text(run_dir / COMPARISON_MD, "\n".join(lines) + "\n")
    return result


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else "–" if v is None else str(v)
