"""Strategy B's comparison report: the eval run's findings for the merge, its sources, the joint run and
the base, in one table per question, with each model's role: the judge's 9 dimensions (means, and each
model's change vs the base with its interval where the eval report has them), the tournament ratings with
their intervals. Light (no model; the UI may read it).

The numbers are the eval stage's (pipeline/evaluate: the judge's 9 dimensions, the pairwise tournament,
the stance headline); this module only picks them out of ``eval_report.json`` and labels the models.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.runs.layout import COMPARISON_JSON, COMPARISON_MD, REPORT_DIR

HEADLINE = ("self_pragmatism", "performative", "ai_disclaimer", "factual", "harmful_refusal")


def summarise(eval_report: Mapping[str, Any], roles: Mapping[str, str], **info: Any) -> dict[str, Any]:
    """One dict: per model (eval label) its role, its 9 judge dimensions, its tournament rating."""
    dims = (eval_report.get("judge") or {}).get("dimensions", {})
    changes = (eval_report.get("judge") or {}).get("changes") or {}  # vs the baseline, paired by question
    ratings = {r["model"]: r for r in (eval_report.get("tournament") or {}).get("ratings", [])}
    per_model = eval_report.get("per_model", {})
    models = [m["label"] for m in eval_report.get("models", [])]
    out: dict[str, Any] = {**info, "models": {}}
    for label in models:
        d = dims.get(label, {})
        means = {k: (d.get(k) or {}).get("mean") for k in DIMENSIONS}
        known = [v for v in means.values() if v is not None]
        r = ratings.get(label, {})
        head = (per_model.get(label) or {}).get("metrics", {})
        out["models"][label] = {
            "role": roles.get(label, "other"), "dimensions": means,
            "dimensions_mean": sum(known) / len(known) if known else None,
            "missing": sum(int((d.get(k) or {}).get("missing", 0)) for k in DIMENSIONS),
            "elo": r.get("elo"), "elo_lo": r.get("elo_lo"), "elo_hi": r.get("elo_hi"),
            "win_rate": r.get("win_rate"), "games": r.get("games"),
            "headline": {k: head[k].get("p") for k in HEADLINE if isinstance(head.get(k), dict)},
            "changes": {k: {x: c.get(x) for x in ("d", "lo", "hi", "clear")}
                        for k, c in (changes.get(label) or {}).items() if isinstance(c, dict)},
        }
    out["judge"] = (eval_report.get("judge") or {}).get("judge")
    return out


def _f(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def _change(c: Mapping[str, Any] | None) -> str:
    if not c or c.get("d") is None:
        return "—"
    return f"{c['d']:+.3f} [{_f(c.get('lo'), '+.3f')}, {_f(c.get('hi'), '+.3f')}]" + ("*" if c.get("clear") else "")


def markdown(summary: Mapping[str, Any]) -> str:
    models: Mapping[str, Mapping[str, Any]] = summary["models"]
    labels = list(models)
    head = [f"{m} ({models[m]['role']})" for m in labels]
    lines = [f"# Strategy B comparison — merge run {summary.get('run_id', '')}", "",
             f"Merge: {summary.get('method')} (density {summary.get('density')}, weights {summary.get('weights')}) of "
             f"{', '.join(summary.get('sources', []))}.",
             f"Evaluated by eval run {summary.get('eval_run')} (judge {summary.get('judge')}); its full report: "
             f"{summary.get('eval_report_md')}.", "",
             "## The judge's 9 dimensions (mean)", "",
             "| dimension | " + " | ".join(head) + " |", "|---|" + "---:|" * len(labels)]
    for dim in DIMENSIONS:
        vals = [models[m]["dimensions"].get(dim) for m in labels]
        best = max((v for v in vals if v is not None), default=None)
        cells = [f"**{_f(v)}**" if v is not None and v == best else _f(v) for v in vals]
        lines.append(f"| {dim} | " + " | ".join(cells) + " |")
    lines.append("| mean | " + " | ".join(_f(models[m]["dimensions_mean"]) for m in labels) + " |")
    lines.append("| missing judgements | " + " | ".join(str(models[m]["missing"]) for m in labels) + " |")
    changed = [m for m in labels if models[m].get("changes")]
    if changed:
        lines += ["", "## Change vs the base (paired by question, 95 % interval; * where it excludes 0)", "",
                  "| dimension | " + " | ".join(f"{m} ({models[m]['role']})" for m in changed) + " |",
                  "|---|" + "---:|" * len(changed)]
        for dim in DIMENSIONS:
            lines.append(f"| {dim} | " + " | ".join(_change(models[m]["changes"].get(dim)) for m in changed) + " |")
    lines += ["", "## Pairwise tournament (Bradley–Terry, Elo scale, 95 % bootstrap interval)", "",
              "| model | role | rating | interval | games | win rate |", "|---|---|---:|---|---:|---:|"]
    ranked = sorted(labels, key=lambda m: -(models[m]["elo"] if models[m]["elo"] is not None else -1e9))
    for m in ranked:
        r = models[m]
        interval = f"{_f(r['elo_lo'], '.0f')}–{_f(r['elo_hi'], '.0f')}" if r["elo_lo"] is not None else "—"
        wr = "—" if r["win_rate"] is None else f"{100 * r['win_rate']:.0f} %"
        lines.append(f"| {m} | {r['role']} | {_f(r['elo'], '.0f')} | {interval} | {r['games'] or 0} | {wr} |")
    lines += ["", "## Stance headline (eval stage; share of answers)", "",
              "| metric | " + " | ".join(head) + " |", "|---|" + "---:|" * len(labels)]
    for k in HEADLINE:
        lines.append(f"| {k} | " + " | ".join(_f(models[m]["headline"].get(k)) for m in labels) + " |")
    for note in summary.get("notes", []):
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def write_report(run_dir: Path, summary: dict[str, Any]) -> Path:
    out = Path(run_dir) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / COMPARISON_MD, markdown(summary))
    atomic_write_json(out / COMPARISON_JSON, summary)  # last: the report is complete
    return out / COMPARISON_JSON
