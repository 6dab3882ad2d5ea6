"""The stance analyser's precision and recall on the labelled set, tune half and test half side by side.

The patterns (pipeline/evaluate/stance_patterns.py) were tuned on the tune half only; the test half is
what they reach on answers they were not tuned on. Writes benchmarks/results/stance-analyser.json and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_analyser.py
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.results_file import machine, write
from pipeline.evaluate import labelled, stance

GOAL = {"recall": 0.85, "precision": 0.9}  # per group, on the test half
BASELINE = ("e2248d9", "pipeline/evaluate/stance.py")  # the previous patterns (aba-stance-2), the named baseline


def baseline_table(rows: list[labelled.Labelled]) -> dict[str, Any] | None:
    """The previous pattern set's group figures on the same halves, loaded from git (None outside a checkout)."""
    import subprocess
    import sys
    import types

    src = subprocess.run(["git", "show", f"{BASELINE[0]}:{BASELINE[1]}"], capture_output=True, text=True,
                         check=False).stdout
    if not src:
        return None
    old = types.ModuleType("stance_previous")
    sys.modules["stance_previous"] = old  # dataclasses look their module up
    exec(compile(src, "stance_previous", "exec"), old.__dict__)
    out: dict[str, Any] = {"patterns": old.PATTERN_VERSION}
    for h in labelled.HALVES:
        counts = {g: labelled.Counts() for g in labelled.GROUPS}
        for r in labelled.split(rows, h):
            got = old.analyse(r.response).categories
            for g, cats in labelled.GROUPS.items():
                want, hit = bool(r.labels & set(cats)), bool(got & set(cats))
                c = counts[g]
                c.tp += want and hit
                c.fp += hit and not want
                c.fn += want and not hit
        out[h] = {g: c.to_dict() for g, c in counts.items()}
    return out


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def render(data: dict[str, Any]) -> str:
    t, goal = data["halves"], data["goal"]
    lines = ["# Stance analyser: precision and recall by meaning", "",
             f"Patterns `{data['patterns']}` against `{data['labelled']}` ({data['rows']} responses labelled by "
             f"meaning; tune {data['n']['tune']}, test {data['n']['test']} by sha256 of the id). Tuned on the tune "
             "half only. Measured " + data["machine"]["measured_at"] + f" at commit {data['machine']['commit']}, "
             f"{data['ms_per_answer']:.1f} ms an answer on {data['machine']['cpus']} CPUs at load average "
             f"{data['machine']['load_average']['1m']:.1f} (the figures do not depend on load: no sampling).",
             "", "| category | tune precision | tune recall | tune n | test precision | test recall | test n |",
             "|---|---|---|---|---|---|---|"]
    for k in t["tune"]:
        a, b = t["tune"][k], t["test"][k]
        name = f"**{k} (group)**" if k in labelled.GROUPS else k
        lines.append(f"| {name} | {_f(a['precision'])} | {_f(a['recall'])} | {a['support']} | {_f(b['precision'])} "
                     f"| {_f(b['recall'])} | {b['support']} |")
    lines += ["", f"Goal on the test half, per group: recall ≥ {goal['recall']}, precision ≥ {goal['precision']}."]
    for g, ok in data["goal_met"].items():
        m = t["test"][g]
        lines.append(f"- {g}: recall {_f(m['recall'])}, precision {_f(m['precision'])}: "
                     f"**{'met' if ok else 'missed'}**")
    old = data.get("baseline")
    if old:
        lines += ["", f"Baseline, the previous patterns `{old['patterns']}` on the same halves (group precision / "
                  "recall):", "", "| group | tune | test |", "|---|---|---|"]
        for g in labelled.GROUPS:
            a, b = old["tune"][g], old["test"][g]
            lines.append(f"| {g} | {_f(a['precision'])} / {_f(a['recall'])} | {_f(b['precision'])} / "
                         f"{_f(b['recall'])} |")
    return "\n".join(lines)


def main() -> None:
    rows = labelled.load()
    t0 = time.perf_counter()
    halves = labelled.table(rows)
    ms = (time.perf_counter() - t0) * 1000 / len(rows)
    met = {g: (halves["test"][g]["recall"] or 0) >= GOAL["recall"] and
           (halves["test"][g]["precision"] or 0) >= GOAL["precision"] for g in labelled.GROUPS}
    data = {"patterns": stance.PATTERN_VERSION, "labelled": "pipeline/evaluate/labelled/stance.jsonl",
            "rows": len(rows), "n": {h: len(labelled.split(rows, h)) for h in labelled.HALVES},
            "sources": {s: sum(r.source == s for r in rows) for s in sorted({r.source for r in rows})},
            "halves": halves, "goal": GOAL, "goal_met": met, "ms_per_answer": ms,
            "baseline": baseline_table(rows), "machine": machine()}
    js, md = write("stance-analyser", data, render(data))
    print(render(data))
    print(f"\nwrote {js} and {md}")


if __name__ == "__main__":
    main()
