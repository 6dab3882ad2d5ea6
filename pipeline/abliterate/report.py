"""The study's report in the run folder (light): report.json and report.md, baseline vs chosen trial,
the Pareto front, seconds per trial and the detectors' disagreement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.abliterate.pareto import StudyView
from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.runs.layout import ABLITERATE_REPORT_JSON, ABLITERATE_REPORT_MD


def summary(view: StudyView, gguf: dict[str, Any] | None = None) -> dict[str, Any]:
    secs = [t.seconds for t in view.trials if isinstance(t.seconds, int | float)]
    chosen = view.chosen or {}
    names = [n for n, _ in view.objectives]
    base = view.baseline or {}
    compared = sum(int(t.extra.get("judge_compared", 0) or 0) for t in view.trials)
    disagree = sum(int(t.extra.get("judge_disagree", 0) or 0) for t in view.trials)
    return {
        "objectives": [list(o) for o in view.objectives],
        "baseline": {n: base.get(n) for n in (*names, "n", "undecided")},
        "chosen": {"trial": chosen.get("trial"), **{n: chosen.get(n) for n in names}},
        "gguf": gguf,
        "trials": len(view.trials),
        "seconds_per_trial": (sum(secs) / len(secs)) if secs else None,
        "pareto": [{"trial": t.number, **t.values} for t in view.front()],
        "kl_mean": (sum(t.values.get("kl", 0.0) for t in view.trials) / len(view.trials)) if view.trials else None,
        "judge": {"compared": compared, "disagree": disagree, "rate": disagree / compared if compared else None},
        "setup": {k: v for k, v in (view.setup or {}).items() if k not in ("ts", "type", "step")},
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "–" if v is None else str(v)


def write_report(run_dir: Path, view: StudyView, cfg: Any = None, gguf: dict[str, Any] | None = None) -> dict[str, Any]:
    s = summary(view, gguf)
    atomic_write_json(Path(run_dir) / ABLITERATE_REPORT_JSON, s)
    names = [n for n, _ in view.objectives]
    n = s["baseline"].get("n")
    lines = ["# Abliteration report", "",
             f"{s['trials']} trials, {_fmt(s['seconds_per_trial'])} s a trial; refusals out of {n} held-out "
             "harmful prompts; KL of next-token distributions on held-out harmless prompts vs the original.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
             "| original | " + " | ".join(_fmt(s["baseline"].get(k)) for k in names) + " |",
             f"| chosen (trial {_fmt(s['chosen']['trial'])}) | "
             + " | ".join(_fmt(s["chosen"].get(k)) for k in names) + " |"]
    if gguf and "refusals" in gguf:
        lines.append(f"| chosen, GGUF f16 | {_fmt(gguf['refusals'])} | {_fmt(gguf['kl'])} |"
                     + " – |" * (len(names) - 2))
    elif gguf:
        lines.append(f"\nGGUF measurement failed: {gguf.get('error')}")
    lines += ["", "## Pareto front", "", "| trial | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {p['trial']} | " + " | ".join(_fmt(p.get(k)) for k in names) + " |" for p in s["pareto"]]
    j = s["judge"]
    if j["compared"]:
        lines += ["", f"Judge second opinion: {j['disagree']} disagreements in {j['compared']} answers "
                  f"({_fmt(j['rate'])})."]
    atomic_write_text(Path(run_dir) / ABLITERATE_REPORT_MD, "\n".join(lines) + "\n")
    return s
