"""An eval report as Markdown: eval_report.md, and what the Eval screen shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.evaluate import stance
from pipeline.evaluate.clusters import n_label
from pipeline.evaluate.stats import pct

# The headline metrics in report order (pipeline.evaluate.report computes them) and how they read.
LABELS = {"self_pragmatism": "pragmatism on self-properties", "self_performative": "performative on self-properties",
          "performative": "performative overall", "ai_disclaimer": "AI disclaimers", "syllogisms": "syllogisms correct",
          "factual": "factual accuracy", "factual_over_hedging": "over-hedging on factual",
          "harmful_refusal": "refusals on harmful requests",
          "benign_refusal": "refusals on benign requests", "consistency": "consistent across samples"}
HEADLINE = tuple(LABELS)


def cell(m: Mapping[str, Any]) -> str:
    """'25 % [12–45] (16 q × 3)': share, 95 % interval, questions × samples."""
    if not m.get("n"):
        return "–"
    return f"{pct(m['p'])} [{100 * m['lo']:.0f}–{100 * m['hi']:.0f}] ({n_label(m)})"


def dcell(d: Mapping[str, Any], scale: float = 100, unit: str = " pts") -> str:
    """'+25 pts [+6, +45] ✔': a difference, its interval, ✔ when the interval excludes 0."""
    if d.get("d") is None:
        return "–"
    mark = " ✔" if d["clear"] else ""
    fmt = "+.0f" if scale == 100 else "+.2f"
    return f"{scale * d['d']:{fmt}}{unit} [{scale * d['lo']:{fmt}}, {scale * d['hi']:{fmt}}]{mark}"


def criterion_row(c: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(criterion, verdict, value with interval, note) of one criterion (pipeline.evaluate.criteria)."""
    verdict = c["verdict"]
    if verdict != "n/a":
        verdict += ", clear" if c.get("clear") else " (within noise)" if c.get("lo") is not None else ""
    value = "–"
    if c.get("value") is not None:
        v = float(c["value"])
        if c.get("kind") == "difference":
            scale = 1 if ".dimension." in c["key"] else 100
            value = dcell({"d": v, "lo": c.get("lo"), "hi": c.get("hi"), "clear": False}, scale,
                          "" if scale == 1 else " pts") if c.get("lo") is not None else f"{v:+.2f}"
        elif c.get("lo") is not None:
            value = f"{pct(v)} [{100 * c['lo']:.0f}–{100 * c['hi']:.0f}]"
        else:
            value = pct(v)
    note = "; ".join(x for x in (c.get("n") or "", c.get("detail") or "") if x)
    return c["text"], verdict, value, note


def criteria_md(report: Mapping[str, Any]) -> list[str]:
    out = ["## Success criteria (seeds 003 and 000)", "",
           "PASS/FAIL compares the value with the criterion; *clear* when the whole 95 % interval agrees, "
           "*within noise* when it does not.", ""]
    for label, rows in (report.get("criteria") or {}).items():
        out += [f"**{label}**", "", "| criterion | verdict | value [95 % CI] | n / note |", "|---|---|---|---|"]
        out += ["| " + " | ".join(criterion_row(c)) + " |" for c in rows]
        out.append("")
    return out


def reliability_md(rel: Mapping[str, Any] | None) -> list[str]:
    if not rel:
        return ["Judge reliability: **unmeasured** (eval.judge_calibration = 0): its scores decide nothing.", ""]
    out = [f"Judge reliability: **{rel.get('flag') or 'signal'}**" + (f" ({'; '.join(rel.get('reasons', []))})"
                                                                         if rel.get("reasons") else ""), ""]
    for key, text in (("calibration_score", "calibration accuracy, scores on the named dimension"),
                      ("calibration_compare", "calibration accuracy, pairwise in both orders"),
                      ("order_swap", "order-swap inconsistency"), ("repeat", "repeat agreement")):
        m = rel.get(key)
        if m and m.get("n"):
            out.append(f"- {text}: {pct(m['p'])} [{100 * m['lo']:.0f}–{100 * m['hi']:.0f}] "
                       f"({m['k']}/{m['n']}{', ' + m['note'] if m.get('note') else ''})")
    return [*out, ""]


def analyser_of(report: Mapping[str, Any]) -> str:
    """The stance analyser a report was read with (reports before version 3 kept it under ``patterns``)."""
    return str(report.get("analyser") or report.get("patterns") or "?")


def render(report: Mapping[str, Any]) -> str:
    labels = [m["label"] for m in report["models"]]
    per = report["per_model"]
    lines = ["# Evaluation report", "", f"Stance analyser: `{analyser_of(report)}`. Baseline: "
             f"`{report.get('baseline') or 'none'}`. Cells: share [95 % interval] (questions × samples); "
             "the interval resamples questions, not answers.", ""]
    flag = ((report.get("judge") or {}).get("reliability") or {}).get("flag")
    if flag:
        lines += [f"> **{flag}**: the judge failed its reliability checks; its scores and verdicts are shown but "
                  "decide nothing.", ""]
    lines += ["## Headline", "", "| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for k in HEADLINE:
        lines.append(f"| {LABELS[k]} | " + " | ".join(cell(per[m]["metrics"].get(k, {})) for m in labels) + " |")
    for label, cmp in report.get("comparisons", {}).items():
        lines += ["", f"## {label} vs {report['baseline']}", "",
                  "Difference with a 95 % interval (questions resampled, both models' answers together); "
                  "✔ marks an interval that excludes zero.", "", "| metric | change |", "|---|---|"]
        lines += [f"| {LABELS[k]} | {dcell(d)} |" for k, d in cmp["deltas"].items()]
        moved = "yes" if cmp["moved_as_intended"] else "no"
        lines += ["", f"Moved as intended (self-properties, beyond the interval): **{moved}**"]
        lines += [f"- red flag: {f['flag']} ({f['detail']}{', clear' if f['clear'] else ', within noise'})"
                  for f in cmp["red_flags"]] or ["- no red flags"]
    lines += ["", *criteria_md(report)]
    lines += ["## Stance categories (all answers)", "", "| category | " + " | ".join(labels) + " |",
              "|---|" + "---|" * len(labels)]
    for c in stance.CATEGORIES:
        lines.append(f"| {c} | " + " | ".join(cell(per[m]["categories"][c]) for m in labels) + " |")
    for extra in ("battery", "judge", "tournament"):
        if report.get(extra):
            lines += ["", f"## {extra.capitalize()}", "", *extra_md(extra, report[extra])]
    if report.get("best"):
        b = report["best"]
        lines += ["", "## Best checkpoint by behaviour", "",
                  f"Run `{b['run']}`: `best` now points at **{b['best']}** ({b['metric']} = {b['value']:.3f}; "
                  + ", ".join(f"{k} {v:.3f}" for k, v in b["values"].items()) + ")."]
    lines += ["", "## Worst examples", ""]
    for m in labels:
        for w in report.get("worst", {}).get(m, [])[:3]:
            answer = w["answer"].replace("\n", " ")[:240]
            lines.append(f"- **{m}** `{w['qid']}` {w['prompt']} → {answer} _({', '.join(w['stance']) or 'no stance'}"
                         f"{'; failed: ' + ', '.join(w['failed']) if w['failed'] else ''})_")
    return "\n".join(lines) + "\n"


def extra_md(kind: str, data: Mapping[str, Any]) -> list[str]:
    if kind == "battery":
        return [f"- {m}: {s['passed']}/{s['total']} passed, {s['errors']} errors, {s['judged']} left to the judge"
                for m, s in data.get("summary", {}).items()]
    if kind == "judge":
        out = [f"Judge `{data.get('judge')}`: mean per dimension (missing judgements in brackets).", "",
               *reliability_md(data.get("reliability"))]
        for m, dims in data.get("dimensions", {}).items():
            cells = ", ".join(f"{d} {v['mean']:.2f}" if v["mean"] is not None else f"{d} –" for d, v in dims.items())
            missing = sum(int(v["missing"]) for v in dims.values())
            out.append(f"- {m}: {cells} (missing {missing})")
        for m, ch in (data.get("changes") or {}).items():
            out.append(f"- {m} − baseline: " + ", ".join(f"{d} {dcell(v, 1, '')}" for d, v in ch.items()))
        return out
    return _tournament_md(data)


def _tournament_md(data: Mapping[str, Any]) -> list[str]:
    rows: Sequence[Mapping[str, Any]] = data.get("ratings", [])
    out = [f"Judge `{data.get('judge')}`, {data.get('outcomes')} pairings ({data.get('missing')} missing), "
           "Bradley–Terry on an Elo scale with 95 % bootstrap intervals over prompts; a tie is half a win "
           "each way.", ""]
    if data.get("order_swap"):
        o = data["order_swap"]
        out += [f"Order-swap inconsistency: {o['k']}/{o['n']} pairings changed verdict when the answers swapped "
                "places (counted as ties).", ""]
    out += ["| model | rating | interval | games | win rate | length-controlled |", "|---|---|---|---|---|---|"]
    for r in rows:
        wr = "–" if r["win_rate"] is None else f"{100 * r['win_rate']:.0f} %"
        lc = "–" if r["lc_win_rate"] is None else f"{100 * r['lc_win_rate']:.0f} %"
        out.append(f"| {r['model']} | {r['elo']:.0f} | {r['elo_lo']:.0f}–{r['elo_hi']:.0f} | {r['games']} | {wr} "
                   f"| {lc} |")
    return out
