"""The stance analyser's precision and recall on the labelled set: tune half (cross-validated) and test half.

The analyser (pipeline/evaluate/stance_model.py) is the patterns of stance_patterns.py, tuned on the tune
half, plus a logistic-regression classifier (TF-IDF and the embedded model's sentence features) fitted on the
tune half. On the tune half the classifier is scored out of fold (3×5-fold CV, seeds 0-2) and its add/veto
thresholds re-derived by the module's rule; the patterns' tune figures are in-sample on the rows they were
written on, out of sample on the rows added since (``PATTERNS_WRITTEN_ON``), which get their own column and
are the only rows the thresholds' rule counts. The test half is scored once, for the patterns, the classifier
alone and the combination, with Wilson intervals and the patterns' and the classifier's agreement (Cohen's
κ), as a whole and on its new rows alone (``SCORED_BEFORE``: answers nobody tuning the analyser has seen).
Writes benchmarks/results/stance-analyser.json and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_analyser.py
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.bench_stance_labellers import kappa
from benchmarks.results_file import machine, publish
from pipeline.evaluate import labelled, stance, stance_embed, stance_learned, stance_model

GOAL = {"recall": 0.85, "precision": 0.9}  # per group, on the test half
BASELINE = ("e2248d9", "pipeline/evaluate/stance.py")  # the patterns before aba-stance-3, the named baseline
FOLDS, REPEATS = 5, 3
LABELLED = "pipeline/evaluate/labelled/stance.jsonl"
# The labelled set as it was when the patterns (aba-stance-3) were written on its tune half: the tune rows
# not in it are the ones the thresholds' rule may count (the patterns are out of sample there).
PATTERNS_WRITTEN_ON = "75c571d"
# The labelled set as it was when the test half was last scored (for aba-stance-5, whose results file's
# commit this is; its first 458 rows had been scored for aba-stance-4 too): a test row not in it is new,
# never seen or scored by anyone tuning the analyser.
SCORED_BEFORE = {"commit": "22b7512", "analysers": ["aba-stance-4 (first 458 rows)", "aba-stance-5"]}


def ids_at(commit: str) -> frozenset[str] | None:
    """The ids of the labelled rows at ``commit`` (None outside a checkout)."""
    import json
    import subprocess

    src = subprocess.run(["git", "show", f"{commit}:{LABELLED}"], capture_output=True, text=True, check=False).stdout
    return frozenset(json.loads(line)["id"] for line in src.splitlines() if line.strip()) if src else None


def patterns_written_on() -> frozenset[str] | None:
    """The ids of the rows the patterns were written on (their tune half) (None outside a checkout)."""
    return ids_at(PATTERNS_WRITTEN_ON)


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


def scored(truths: list[frozenset[str]], found: list[frozenset[str]], scale: int = 1) -> dict[str, Any]:
    return {k: c.with_intervals(scale) for k, c in labelled.counts(truths, found).items()}


def cross_validated(rows: list[labelled.Labelled], written_on: frozenset[str]) -> dict[str, Any]:
    """The tune half only: the classifier out of fold, the rule's thresholds (on the rows the patterns were
    not ``written_on``), and the combination (whose pattern half is in-sample on the ``written_on`` rows, out
    of sample on the others: the ``new`` figures)."""
    texts, labels = stance_model.texts_and_labels(rows)
    oof, oof_bare = stance_learned.out_of_fold(texts, stance_model.training_features(rows), labels,
                                               stance_model.GROUPS, FOLDS, REPEATS,
                                               also=[stance_model.training_features(rows, questions=False)])
    flats = [stance.normalise(r.response) for r in rows]
    settled = [r.settled for r in rows]
    new = [r.id not in written_on for r in rows]
    chosen = stance_model.thresholds(flats, settled, labels, oof, new)
    chosen_bare = stance_model.thresholds(flats, settled, labels, oof_bare, new)
    truths = labels * REPEATS
    learned, combined, bare = [], [], []  # the classifier alone marks a group by its first category
    for rep, rep_bare in zip(oof, oof_bare, strict=True):
        for i, (p, pb) in enumerate(zip(rep, rep_bare, strict=True)):
            learned.append(frozenset(cats[0] for g, cats in stance_model.GROUPS.items() if p[g] >= 0.5))
            combined.append(stance_model.decide(flats[i], settled[i], p, chosen["add"], chosen["veto"]))
            bare.append(stance_model.decide(flats[i], settled[i], pb, chosen_bare["add"], chosen_bare["veto"]))
    groups_only = {g: v for g, v in scored(truths, learned, REPEATS).items() if g in stance_model.GROUPS}
    return {"folds": FOLDS, "repeats": REPEATS, "seeds": list(range(REPEATS)), "thresholds": chosen,
            "thresholds_without_question": chosen_bare,
            "module_thresholds": {"add": dict(stance_model.ADD), "veto": dict(stance_model.VETO)},
            "module_thresholds_without_question": {"add": dict(stance_model.ADD_BARE),
                                                   "veto": dict(stance_model.VETO_BARE)},
            "learned": groups_only, "combined": scored(truths, combined, REPEATS),
            "combined_without_question": {g: v for g, v in scored(truths, bare, REPEATS).items()
                                          if g in stance_model.GROUPS},
            "new_rows": sum(new), "combined_new": scored([t for t, n in zip(truths, new * REPEATS, strict=True) if n],
                                                         [c for c, n in zip(combined, new * REPEATS, strict=True) if n],
                                                         REPEATS)}


def test_half(rows: list[labelled.Labelled], old: frozenset[str]) -> dict[str, Any]:
    """Scored once: the patterns, the classifier alone (groups, at p >= 0.5), the combination (also given the
    answers without their questions); κ between the patterns and the classifier per group. The same figures
    for the rows not in ``old`` under ``new``."""
    part = labelled.split(rows, "test")
    items = [(r.response, r.settled, r.question) for r in part]
    stance_model.probabilities(items[:1])  # the model loaded and the classifier fitted before the clock starts
    t0 = time.perf_counter()
    probs = stance_model.probabilities(items)
    comb = [stance_model.decide(stance.normalise(t), s, p) for (t, s, _), p in zip(items, probs, strict=True)]
    ms = (time.perf_counter() - t0) * 1000 / len(items)
    pats = [r.categories for r in labelled.patterns_only(items)]
    alone = [frozenset(g for g in stance_model.GROUPS if p[g] >= 0.5) for p in probs]
    # The same analyser given the answers alone, as a caller without the questions would (no tuning follows).
    bare = [stance_model.decide(stance.normalise(t), s, p, *stance_model.thresholds_for("")) for (t, s, _), p in
            zip(items, stance_model.probabilities([(t, s) for t, s, _ in items]), strict=True)]

    def figures(keep: list[bool]) -> dict[str, Any]:
        truths = [r.labels for r, k in zip(part, keep, strict=True) if k]
        pick = [x for x, k in zip(alone, keep, strict=True) if k]
        pat = [x for x, k in zip(pats, keep, strict=True) if k]
        as_cats = [frozenset(stance_model.GROUPS[g][0] for g in gs) for gs in pick]
        k = {g: kappa([bool(p & set(c)) for p in pat], [g in a for a in pick]) for g, c in stance_model.GROUPS.items()}
        return {"n": len(truths), "patterns": scored(truths, pat),
                "learned": {g: v for g, v in scored(truths, as_cats).items() if g in stance_model.GROUPS},
                "combined": scored(truths, [x for x, k in zip(comb, keep, strict=True) if k]),
                "combined_without_question": {g: v for g, v in scored(
                    truths, [x for x, k in zip(bare, keep, strict=True) if k]).items() if g in stance_model.GROUPS},
                "kappa_patterns_learned": k}

    return {**figures([True] * len(part)), "new": figures([r.id not in old for r in part]), "ms_per_answer": ms}


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _pi(m: dict[str, Any], key: str) -> str:
    ci = m.get(key + "_ci")
    return _f(m[key]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _met(m: dict[str, Any]) -> bool:
    return (m["recall"] or 0) >= GOAL["recall"] and (m["precision"] or 0) >= GOAL["precision"]


def _group_rows(g: str, cols: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    return [f"| {g} | {name} | {_pi(a, 'precision')} | {_pi(a, 'recall')} | {_pi(b, 'precision')} | "
            f"{_pi(b, 'recall')} |" for name, a, b in cols]


def render(data: dict[str, Any]) -> str:
    cv, test, goal, before = data["cv"], data["test"], data["goal"], data["scored_before"]
    new, written = test["new"], data["patterns_written_on"]
    lines = ["# Stance analyser: precision and recall by meaning", "",
             f"Analyser `{data['analyser']}` against `{data['labelled']}` ({data['rows']} responses labelled by "
             f"meaning; tune {data['n']['tune']}, test {data['n']['test']} by sha256 of the id). Patterns and "
             f"classifier were tuned and fitted on the tune half only; the test half was scored once for this "
             f"analyser. The test rows of the set's first {before['rows']} rows (commit {before['commit']}) had "
             f"been scored before, for {', '.join(before['analysers'])}, and those figures guided the work since; "
             f"the {new['n']} test rows added after it (\"new\") had been seen by nobody tuning the analyser. Tune "
             f"figures: {cv['repeats']}×{cv['folds']}-fold cross-validation (seeds {cv['seeds']}), the classifier "
             f"out of fold; the patterns were written on the tune half of the first {written['rows']} rows (commit "
             f"{written['commit']}), so there the combination's tune figures flatter it; the {cv['new_rows']} tune "
             "rows added since are out of sample for the patterns too (their own column). Intervals: 95 % "
             "Wilson (CV: of one pass over the rows). Measured "
             + data["machine"]["measured_at"] + f" at commit {data['machine']['commit']}, "
             f"{test['ms_per_answer']:.1f} ms an answer (model loaded and classifier fitted beforehand) on "
             f"{data['machine']['cpus']} CPUs at load average {data['machine']['load_average']['1m']:.1f} (the "
             "timing depends on load; the figures do not).", "",
             "## Groups: test half (scored once)", "",
             f"| group | analyser | precision (n {test['n']}) | recall | new rows: precision (n {new['n']}) | "
             "new rows: recall |", "|---|---|---|---|---|---|"]
    for g in labelled.GROUPS:
        lines += _group_rows(f"{g} (n {test['combined'][g]['support']}, new {new['combined'][g]['support']})",
                             [("combined", test["combined"][g], new["combined"][g]),
                              ("combined, without the question", test["combined_without_question"][g],
                               new["combined_without_question"][g]),
                              ("classifier alone", test["learned"][g], new["learned"][g]),
                              ("patterns alone", test["patterns"][g], new["patterns"][g])])
    lines += ["", f"Goal on the test half, per group: recall ≥ {goal['recall']}, precision ≥ {goal['precision']}."]
    for g in labelled.GROUPS:
        for name, m in (("whole test half", test["combined"][g]), ("new test rows", new["combined"][g])):
            lines.append(f"- {g}, {name}: recall {_pi(m, 'recall')}, precision {_pi(m, 'precision')}: "
                         f"**{'met' if _met(m) else 'missed'}**")
    lines += ["", "## Groups: tune half (cross-validated)", "",
              f"| group | analyser | precision | recall | new rows: precision (n {cv['new_rows']}) | "
              "new rows: recall |", "|---|---|---|---|---|---|"]
    for g in labelled.GROUPS:
        lines += _group_rows(g, [("combined", cv["combined"][g], cv["combined_new"][g]),
                                 ("patterns alone", data["tune_patterns"][g], data["tune_patterns_new"][g])])
        for name, m in (("combined, without the question", cv["combined_without_question"][g]),
                        ("classifier alone", cv["learned"][g])):
            lines.append(f"| {g} | {name} | {_pi(m, 'precision')} | {_pi(m, 'recall')} | | |")
    th, tb = cv["thresholds"], cv["thresholds_without_question"]
    rule = data["rule"]["goal"]
    lines += ["", "Patterns alone on the tune half: in-sample, except on the new rows.", "",
              "Thresholds from the rule on the tune half's CV (per group, the add/veto pair whose combined "
              f"out-of-fold figures clear precision {rule['precision']} and recall {rule['recall']} by the widest "
              f"margin on the whole tune half and on its {cv['new_rows']} new rows): "
              + ", ".join(f"{g} add {th['add'][g]}, veto {th['veto'][g]}" for g in labelled.GROUPS)
              + f"; the module ships {cv['module_thresholds']}. For answers given without their question (read "
              "after an empty user turn, the same fold models): "
              + ", ".join(f"{g} add {tb['add'][g]}, veto {tb['veto'][g]}" for g in labelled.GROUPS)
              + f"; the module ships {cv['module_thresholds_without_question']}.", "",
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
    written_on, before = patterns_written_on(), ids_at(SCORED_BEFORE["commit"])
    if written_on is None or before is None:
        raise SystemExit(f"bench_stance_analyser: git show {PATTERNS_WRITTEN_ON} / {SCORED_BEFORE['commit']} failed "
                         "(run it in the project's checkout)")
    tune = labelled.split(rows, "tune")
    cv = cross_validated(tune, written_on)
    pats = [r.categories for r in labelled.patterns_only([(r.response, r.settled, r.question) for r in tune])]
    tune_patterns = scored([r.labels for r in tune], pats)
    tune_patterns_new = scored([r.labels for r in tune if r.id not in written_on],
                               [p for r, p in zip(tune, pats, strict=True) if r.id not in written_on])
    test = test_half(rows, before)
    met = {g: _met(test["combined"][g]) for g in labelled.GROUPS}
    met_new = {g: _met(test["new"]["combined"][g]) for g in labelled.GROUPS}
    data = {"analyser": stance_model.ANALYSER_VERSION, "patterns": stance.PATTERN_VERSION,
            "model": stance_learned.MODEL_VERSION, "features": stance_embed.FEATURES_VERSION, "labelled": LABELLED,
            "rows": len(rows), "n": {h: len(labelled.split(rows, h)) for h in labelled.HALVES},
            "patterns_written_on": {"commit": PATTERNS_WRITTEN_ON, "rows": len(written_on)},
            "scored_before": {**SCORED_BEFORE, "rows": len(before)},
            "sources": {s: sum(r.source == s for r in rows) for s in sorted({r.source for r in rows})},
            "rule": {"goal": stance_model.GOAL,
                     "on": "the whole tune half and its rows the patterns were not written on"},
            "cv": cv, "tune_patterns": tune_patterns, "tune_patterns_new": tune_patterns_new, "test": test,
            "goal": GOAL, "goal_met": met, "goal_met_new_rows": met_new,
            "baseline": baseline_table(rows), "machine": machine()}
    publish("stance-analyser", data, render(data))


if __name__ == "__main__":
    main()
