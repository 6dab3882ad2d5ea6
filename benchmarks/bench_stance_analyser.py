"""The stance analyser's precision and recall on the labelled set: tune half (cross-validated) and test half.

The analyser (pipeline/evaluate/stance_model.py) is the patterns of stance_patterns.py, tuned on the tune
half, plus a TF-IDF logistic-regression classifier fitted on the tune half. On the tune half the classifier
is scored out of fold (3×5-fold CV, seeds 0-2) and its add/veto thresholds re-derived by the module's rule;
the patterns' tune figures are in-sample (they were written on those rows). The test half is scored once,
for the patterns, the classifier alone and the combination, with Wilson intervals and the patterns' and the
classifier's agreement (Cohen's κ). Writes benchmarks/results/stance-analyser.json and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_analyser.py
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.results_file import machine, write
from pipeline.evaluate import labelled, stance, stance_learned, stance_model
from pipeline.evaluate.stats import wilson

GOAL = {"recall": 0.85, "precision": 0.9}  # per group, on the test half
BASELINE = ("e2248d9", "pipeline/evaluate/stance.py")  # the patterns before aba-stance-3, the named baseline
FOLDS, REPEATS = 5, 3


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
        part = labelled.split(rows, h)
        got = labelled.counts((r.labels for r in part), (old.analyse(r.response).categories for r in part))
        out[h] = {g: got[g].to_dict() for g in labelled.GROUPS}
    return out


def with_intervals(c: labelled.Counts, scale: int = 1) -> dict[str, Any]:
    """Precision and recall with 95 % Wilson intervals; ``scale``: counts pooled over that many CV repeats
    (the interval is then that of one pass over the half, not of the pooled count)."""
    d: dict[str, Any] = c.to_dict()
    for key, k, n in (("precision", c.tp, c.tp + c.fp), ("recall", c.tp, c.tp + c.fn)):
        d[key + "_ci"] = list(wilson(round(k / scale), round(n / scale))) if n else None
    d["support"] = round(c.support / scale)
    return d


def scored(truths: list[frozenset[str]], found: list[frozenset[str]], scale: int = 1) -> dict[str, Any]:
    return {k: with_intervals(c, scale) for k, c in labelled.counts(truths, found).items()}


def kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's κ of two yes/no raters over the same items."""
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return None if pe == 1 else (po - pe) / (1 - pe)


def cross_validated(rows: list[labelled.Labelled]) -> dict[str, Any]:
    """The tune half only: the classifier out of fold, the rule's thresholds, and the combination (whose
    pattern half is in-sample here)."""
    texts, labels = stance_model.texts_and_labels(rows)
    oof = stance_learned.out_of_fold(texts, stance_model.training_features(rows), labels, stance_model.GROUPS,
                                     FOLDS, REPEATS)
    y = stance_learned.targets(labels, stance_model.GROUPS)
    chosen: dict[str, dict[str, float]] = {"add": {}, "veto": {}}
    for g in stance_model.GROUPS:
        ps = [[p[g] for p in rep] for rep in oof]
        chosen["add"][g] = stance_learned.threshold_for_precision(ps, y[g], stance_model.ADD_PRECISION)
        chosen["veto"][g] = stance_learned.threshold_for_recall(ps, y[g], stance_model.VETO_KEEP)
    truths = labels * REPEATS
    flats = [stance.normalise(r.response) for r in rows]
    learned, combined = [], []  # the classifier alone marks a group by its first category
    for rep in oof:
        for i, p in enumerate(rep):
            learned.append(frozenset(cats[0] for g, cats in stance_model.GROUPS.items() if p[g] >= 0.5))
            combined.append(stance_model.decide(flats[i], rows[i].settled, p, chosen["add"], chosen["veto"]))
    groups_only = {g: v for g, v in scored(truths, learned, REPEATS).items() if g in stance_model.GROUPS}
    return {"folds": FOLDS, "repeats": REPEATS, "seeds": list(range(REPEATS)), "thresholds": chosen,
            "module_thresholds": {"add": dict(stance_model.ADD), "veto": dict(stance_model.VETO)},
            "learned": groups_only, "combined": scored(truths, combined, REPEATS)}


def test_half(rows: list[labelled.Labelled]) -> dict[str, Any]:
    """Scored once: the patterns, the classifier alone (groups, at p >= 0.5), the combination; κ between the
    patterns and the classifier per group."""
    part = labelled.split(rows, "test")
    items = [(r.response, r.settled) for r in part]
    truths = [r.labels for r in part]
    pats = [r.categories for r in labelled.patterns_only(items)]
    t0 = time.perf_counter()
    comb = [r.categories for r in stance_model.analyse_many(items)]
    ms = (time.perf_counter() - t0) * 1000 / len(items)
    alone = stance_model.learned_groups(items)
    as_cats = [frozenset(stance_model.GROUPS[g][0] for g in gs) for gs in alone]
    learned = {g: v for g, v in scored(truths, as_cats).items() if g in stance_model.GROUPS}
    k = {g: kappa([bool(p & set(c)) for p in pats], [g in a for a in alone]) for g, c in stance_model.GROUPS.items()}
    return {"patterns": scored(truths, pats), "learned": learned, "combined": scored(truths, comb),
            "kappa_patterns_learned": k, "ms_per_answer": ms}


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _pi(m: dict[str, Any], key: str) -> str:
    ci = m.get(key + "_ci")
    return _f(m[key]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def render(data: dict[str, Any]) -> str:
    cv, test, goal = data["cv"], data["test"], data["goal"]
    lines = ["# Stance analyser: precision and recall by meaning", "",
             f"Analyser `{data['analyser']}` against `{data['labelled']}` ({data['rows']} responses labelled by "
             f"meaning; tune {data['n']['tune']}, test {data['n']['test']} by sha256 of the id). Patterns and "
             f"classifier were tuned and fitted on the tune half only; the test half was scored once. Tune "
             f"figures: {cv['repeats']}×{cv['folds']}-fold cross-validation (seeds {cv['seeds']}), the classifier "
             "out of fold; the patterns' part is in-sample there (they were written on those rows), so the tune "
             "column of the combination flatters it. Intervals: 95 % Wilson. Measured "
             + data["machine"]["measured_at"] + f" at commit {data['machine']['commit']}, "
             f"{test['ms_per_answer']:.1f} ms an answer (classifier fitted) on {data['machine']['cpus']} CPUs at "
             f"load average {data['machine']['load_average']['1m']:.1f} (no sampling: the figures do not depend "
             "on load).", "",
             "## Groups", "", "| group | analyser | tune (CV) precision | tune (CV) recall | test precision | "
             "test recall |", "|---|---|---|---|---|---|"]
    for g in labelled.GROUPS:
        for name, a, b in (("combined", cv["combined"][g], test["combined"][g]),
                           ("classifier alone", cv["learned"][g], test["learned"][g]),
                           ("patterns alone", data["tune_patterns"][g], test["patterns"][g])):
            lines.append(f"| {g} (n {b['support']}) | {name} | {_pi(a, 'precision')} | {_pi(a, 'recall')} | "
                         f"{_pi(b, 'precision')} | {_pi(b, 'recall')} |")
    lines += ["", "Patterns alone on the tune half: in-sample.", "",
              f"Goal on the test half, per group: recall ≥ {goal['recall']}, precision ≥ {goal['precision']}."]
    for g, ok in data["goal_met"].items():
        m = test["combined"][g]
        lines.append(f"- {g}: recall {_pi(m, 'recall')}, precision {_pi(m, 'precision')}: "
                     f"**{'met' if ok else 'missed'}**")
    th = cv["thresholds"]
    lines += ["", "Thresholds from the rule on the tune half's CV (add: classifier precision ≥ "
              f"{data['rule']['add_precision']}; veto: keeps {data['rule']['veto_keep']:.0%} of true cases): "
              + ", ".join(f"{g} add {th['add'][g]}, veto {th['veto'][g]}" for g in labelled.GROUPS)
              + f"; the module ships {cv['module_thresholds']}.", "",
              "Agreement of the patterns and the classifier (group present or not, test half), Cohen's κ: "
              + ", ".join(f"{g} {_f(v)}" for g, v in test["kappa_patterns_learned"].items()) + ".", "",
              "## Categories (combined analyser)", "",
              "| category | tune (CV) precision | tune (CV) recall | tune n | test precision | test recall | test n |",
              "|---|---|---|---|---|---|---|"]
    for k in stance.CATEGORIES:
        a, b = cv["combined"][k], test["combined"][k]
        lines.append(f"| {k} | {_pi(a, 'precision')} | {_pi(a, 'recall')} | {a['support']} | {_pi(b, 'precision')} "
                     f"| {_pi(b, 'recall')} | {b['support']} |")
    old = data.get("baseline")
    if old:
        lines += ["", f"Baseline, the earlier patterns `{old['patterns']}` on the same halves (group precision / "
                  "recall):", "", "| group | tune | test |", "|---|---|---|"]
        for g in labelled.GROUPS:
            a, b = old["tune"][g], old["test"][g]
            lines.append(f"| {g} | {_f(a['precision'])} / {_f(a['recall'])} | {_f(b['precision'])} / "
                         f"{_f(b['recall'])} |")
    return "\n".join(lines)


def main() -> None:
    rows = labelled.load()
    tune = labelled.split(rows, "tune")
    cv = cross_validated(tune)
    tune_patterns = scored([r.labels for r in tune],
                           [r.categories for r in labelled.patterns_only([(r.response, r.settled) for r in tune])])
    test = test_half(rows)
    met = {g: (test["combined"][g]["recall"] or 0) >= GOAL["recall"] and
           (test["combined"][g]["precision"] or 0) >= GOAL["precision"] for g in labelled.GROUPS}
    data = {"analyser": stance_model.ANALYSER_VERSION, "patterns": stance.PATTERN_VERSION,
            "model": stance_learned.MODEL_VERSION, "labelled": "pipeline/evaluate/labelled/stance.jsonl",
            "rows": len(rows), "n": {h: len(labelled.split(rows, h)) for h in labelled.HALVES},
            "sources": {s: sum(r.source == s for r in rows) for s in sorted({r.source for r in rows})},
            "rule": {"add_precision": stance_model.ADD_PRECISION, "veto_keep": stance_model.VETO_KEEP},
            "cv": cv, "tune_patterns": tune_patterns, "test": test, "goal": GOAL, "goal_met": met,
            "baseline": baseline_table(rows), "machine": machine()}
    js, md = write("stance-analyser", data, render(data))
    print(render(data))
    print(f"\nwrote {js} and {md}")


if __name__ == "__main__":
    main()
