"""The comparison report's arithmetic and text: per-dimension means, a pairwise tournament, Markdown.

Light (the UI may read reports): no model here. Scores come in as ``{model: [per-prompt {dim: score}]}``;
a dimension a scorer could not judge is absent, never 0, and means count only what was scored.
The tournament plays every pair of models on every prompt (the higher overall score wins, equal scores
are a draw and count for neither) and ranks them with a Bradley–Terry fit (choix's ILSR).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.rewards.dimensions import DIMENSIONS

REPORT_DIR = "report"
REPORT_JSON = "comparison.json"
REPORT_MD = "comparison.md"

Scores = Mapping[str, Sequence[Mapping[str, float]]]


def dimension_means(scores: Scores) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for model, rows in scores.items():
        means: dict[str, float | None] = {}
        for dim in DIMENSIONS:
            vals = [r[dim] for r in rows if dim in r and math.isfinite(r[dim])]
            means[dim] = sum(vals) / len(vals) if vals else None
        known = [v for v in means.values() if v is not None]
        means["overall"] = sum(known) / len(known) if known else None
        out[model] = means
    return out


def overall(row: Mapping[str, float]) -> float | None:
    vals = [row[d] for d in DIMENSIONS if d in row and math.isfinite(row[d])]
    return sum(vals) / len(vals) if vals else None


def tournament(scores: Scores) -> dict[str, Any]:
    """Every pair on every prompt; wins[a][b] = prompts where a beat b; Bradley–Terry strengths."""
    models = list(scores)
    n_prompts = min((len(v) for v in scores.values()), default=0)
    wins = {a: {b: 0 for b in models if b != a} for a in models}
    games: list[tuple[int, int]] = []
    draws = 0
    for p in range(n_prompts):
        for i, j in itertools.combinations(range(len(models)), 2):
            si, sj = overall(scores[models[i]][p]), overall(scores[models[j]][p])
            if si is None or sj is None or abs(si - sj) < 1e-9:
                draws += 1
                continue
            w, lo = (i, j) if si > sj else (j, i)
            wins[models[w]][models[lo]] += 1
            games.append((w, lo))
    strengths = _bradley_terry(len(models), games)
    ranking = sorted(models, key=lambda m: -strengths[models.index(m)])
    return {"models": models, "prompts": n_prompts, "wins": wins, "draws": draws,
            "strength": {m: round(strengths[k], 4) for k, m in enumerate(models)}, "ranking": ranking,
            "method": "per prompt, the higher mean of the 9 dimensions wins; Bradley-Terry (choix ILSR)"}


def _bradley_terry(n: int, games: list[tuple[int, int]]) -> list[float]:
    if n < 2 or not games:
        return [0.0] * n
    import choix

    # A small prior keeps the fit finite when one model wins every game.
    return [float(x) for x in choix.ilsr_pairwise(n, games, alpha=0.01)]


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def markdown(report: Mapping[str, Any]) -> str:
    means: Mapping[str, Mapping[str, float | None]] = report["means"]
    models = list(means)
    roles: Mapping[str, str] = report.get("roles", {})
    lines = [f"# Strategy B comparison — merge run {report.get('run_id', '')}", "",
             f"Merge: {report.get('method')} (density {report.get('density')}, weights {report.get('weights')}) "
             f"of {', '.join(report.get('sources', []))}.",
             f"Scorer: {report.get('scorer')} on {report.get('prompts')} prompt(s) from {report.get('data')}, "
             f"{report.get('max_new_tokens')} new tokens, greedy.", ""]
    lines.append("| dimension | " + " | ".join(f"{m} ({roles.get(m, '')})" for m in models) + " |")
    lines.append("|---|" + "---:|" * len(models))
    for dim in (*DIMENSIONS, "overall"):
        vals = [means[m].get(dim) for m in models]
        best = max((v for v in vals if v is not None), default=None)
        cells = [f"**{_fmt(v)}**" if v is not None and v == best and len(models) > 1 else _fmt(v) for v in vals]
        lines.append(f"| {dim} | " + " | ".join(cells) + " |")
    t = report.get("tournament") or {}
    if t:
        lines += ["", f"## Tournament ({t['prompts']} prompts, {t['draws']} draws; {t['method']})", "",
                  "| rank | model | strength | wins |", "|---:|---|---:|---:|"]
        for k, m in enumerate(t["ranking"], 1):
            lines.append(f"| {k} | {m} | {t['strength'][m]:.3f} | {sum(t['wins'][m].values())} |")
    for note in report.get("notes", []):
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def write_report(run_dir: Path, report: dict[str, Any]) -> Path:
    out = Path(run_dir) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / REPORT_MD, markdown(report))
    atomic_write_json(out / REPORT_JSON, report)  # last: the report is complete
    return out / REPORT_JSON
