"""How far two independent labellers of the stance set agree: Cohen's κ per group and per category.

The second labeller (``labelled/stance-second-labeller.jsonl``) labelled a random sample of the set's rows
from the written guide and the texts alone, never seeing the first labels. Over the rows both labelled this
reports the exact agreement of the whole label set; for each group (``pragmatic``, ``performative``: present
when any of its categories is) and each of the twelve categories, how often each labeller gave it, how often
both did, the percent agreement and Cohen's κ (scikit-learn's) with a 95 % percentile bootstrap interval
(rows resampled, ``DRAWS`` draws, seed ``SEED``; κ is undefined — null — when both labellers gave one and the
same answer on every row); the group κ's on each half (tune/test, ``labelled.half``) apart; and, in the JSON
only, every disagreement with the second labeller's note. Writes benchmarks/results/stance-labellers.json
and .md; about half a minute on 2 cores (the bootstrap calls scikit-learn ~40 000 times).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_labellers.py
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.results_file import machine, publish
from pipeline.evaluate import labelled, stance

NAME, TITLE = "stance-labellers", "Stance set: agreement of two independent labellers"
SEED, DRAWS = 20261207, 2000  # the bootstrap's
SAMPLE = (20261206, 836)  # the second labeller's rows: drawn at random with this seed from the set's first 836
KEYS = (*labelled.GROUPS, *stance.CATEGORIES)


def present(labels: frozenset[str], key: str) -> bool:
    """Whether a label set holds ``key``: a category, or a group (any of its categories)."""
    cats = labelled.GROUPS.get(key)
    return bool(labels & set(cats)) if cats is not None else key in labels


def kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's κ of two yes/no raters over the same items; None where it is undefined (both raters gave one
    and the same answer throughout: chance agreement is then 1)."""
    if not len(a) or len(set(a) | set(b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():  # a rater with one answer only (the other has both) is defined: no warning
        warnings.simplefilter("ignore")
        k = float(cohen_kappa_score(list(a), list(b), labels=[False, True]))
    return None if np.isnan(k) else k


def interval(a: np.ndarray, b: np.ndarray, draws: np.ndarray) -> tuple[list[float] | None, int]:
    """The 95 % percentile interval of κ over the resampled rows (``draws``: one row of indices a draw), and
    how many draws had κ undefined (left out)."""
    ks = [kappa(a[i].tolist(), b[i].tolist()) for i in draws]
    got = [k for k in ks if k is not None]
    if not got:
        return None, len(ks)
    q = np.percentile(np.array(got, dtype=float), [2.5, 97.5])
    return [float(q[0]), float(q[1])], len(ks) - len(got)


def agreement(first: Sequence[frozenset[str]], second: Sequence[frozenset[str]], keys: Sequence[str] = KEYS,
              seed: int = SEED, draws: int = DRAWS) -> dict[str, dict[str, Any]]:
    """{group or category: first, second, both (how many rows each labeller / both gave it), agree (share of
    rows where they agree), kappa, kappa_ci, undefined_draws} over paired label sets. Every key resamples
    the same rows (one set of ``draws`` index draws from ``seed``)."""
    n = len(first)
    if n != len(second):
        raise ValueError(f"agreement: {n} label sets against {len(second)}")
    idx = np.random.default_rng(seed).integers(0, n, size=(draws, n)) if n and draws else np.empty((0, n), int)
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        a = np.array([present(x, key) for x in first], dtype=bool)
        b = np.array([present(x, key) for x in second], dtype=bool)
        ci, undefined = interval(a, b, idx)
        out[key] = {"first": int(a.sum()), "second": int(b.sum()), "both": int((a & b).sum()),
                    "agree": float((a == b).mean()) if n else None, "kappa": kappa(a.tolist(), b.tolist()),
                    "kappa_ci": ci, "undefined_draws": undefined}
    return out


def measure(rows: Sequence[labelled.Labelled], second: Sequence[labelled.SecondLabel]) -> dict[str, Any]:
    by_id = {r.id: r for r in rows}
    pairs = [(by_id[s.id], s) for s in second]
    first_sets, second_sets = [r.labels for r, _ in pairs], [s.labels for _, s in pairs]
    halves: dict[str, Any] = {}
    for h in labelled.HALVES:
        keep = [labelled.half(r.id) == h for r, _ in pairs]
        halves[h] = {"n": sum(keep), **agreement([x for x, k in zip(first_sets, keep, strict=True) if k],
                                                 [x for x, k in zip(second_sets, keep, strict=True) if k],
                                                 keys=tuple(labelled.GROUPS))}
    off = [{"id": r.id, "first": sorted(r.labels), "second": sorted(s.labels), "note": s.note}
           for r, s in pairs if r.labels != s.labels]
    first_only: Counter[str] = Counter(k for r, s in pairs for k in r.labels - s.labels)
    second_only: Counter[str] = Counter(k for r, s in pairs for k in s.labels - r.labels)
    by_cat = sorted(first_only.keys() | second_only.keys(), key=lambda k: (-first_only[k] - second_only[k], k))
    return {"n": len(pairs), "exact": sum(r.labels == s.labels for r, s in pairs),
            "agreement": agreement(first_sets, second_sets), "halves": halves,
            "disagreement_labels": {k: {"first_only": first_only[k], "second_only": second_only[k]} for k in by_cat},
            "disagreements": off,
            "noted": sum(bool(s.note) for _, s in pairs)}


def _f(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _k(m: dict[str, Any]) -> str:
    ci = m["kappa_ci"]
    return _f(m["kappa"]) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _who(key: str, c: dict[str, int]) -> str:
    """``key`` and who gave it where the other did not, in words."""
    a, b = c["first_only"], c["second_only"]
    side = ("all by the first labeller only" if not b else "all by the second labeller only" if not a
            else f"{a} by the first labeller only, {b} by the second")
    return f"`{key}` on {a + b} rows ({side})"


def render(data: dict[str, Any]) -> str:
    ag, mc = data["agreement"], data["machine"]
    n, exact = data["n"], data["exact"]
    top = [_who(k, c) for k, c in list(data["disagreement_labels"].items())[:4]]
    lines = [f"# {TITLE}", "",
             f"Written by `benchmarks/bench_stance_labellers.py` at commit {mc['commit']} ({mc['measured_at']}, "
             f"{mc['cpus']} CPUs, load average {mc['load_average']['1m']:.1f}). {n} rows of "
             f"`{data['labelled']}` labelled again by a second labeller (`{data['second']}`, drawn at random "
             f"with seed {data['sample_seed']} from the set's first {data['drawn_from']} rows); Cohen's κ "
             f"(scikit-learn) with 95 % percentile bootstrap intervals, rows resampled, {data['draws']} draws, "
             f"seed {data['seed']}; a group is present when any of its categories is.", "",
             f"**Exact agreement of the whole label set: {exact}/{n} ({exact / n:.0%}).**", "",
             "| group or category | first | second | both | agree | κ [95 %] |", "|---|---|---|---|---|---|"]
    for key, m in ag.items():
        name = f"**{key}**" if key in labelled.GROUPS else key
        lines.append(f"| {name} | {m['first']} | {m['second']} | {m['both']} | {m['agree']:.0%} | {_k(m)} |")
    lines += ["", "By half (`labelled.half`):", "", "| half (n) | " + " | ".join(f"{g} κ" for g in labelled.GROUPS)
              + " |", "|---|" + "---|" * len(labelled.GROUPS)]
    for h, m in data["halves"].items():
        lines.append(f"| {h} ({m['n']}) | " + " | ".join(_k(m[g]) for g in labelled.GROUPS) + " |")
    lines += ["", "**Read with care.** Both labellers are AI agents working from one written guide, so κ "
              "measures how well the guide pins the categories down, not how people would label: it is an "
              "upper bound on the agreement between people. The two disagreed on "
              f"{n - exact} rows; the categories most disagreed on were " + "; ".join(top)
              + ". A category they never disagreed on has the interval [1.00, 1.00]: a bootstrap cannot "
              "resample disagreements the sample lacks. Every disagreement, with the second labeller's note, is in "
              "the JSON."]
    return "\n".join(lines)


def main() -> None:
    rows = labelled.load()
    second = labelled.load_second(r.id for r in rows)
    first = {r.id for r in rows[:SAMPLE[1]]}
    late = [s.id for s in second if s.id not in first]
    if late:
        raise SystemExit(f"bench_stance_labellers: {labelled.SECOND_LABELLER}: id {late[0]!r} is not among the "
                         f"set's first {SAMPLE[1]} rows the sample was drawn from")
    data = {"title": TITLE, "labelled": "pipeline/evaluate/labelled/stance.jsonl",
            "second": "pipeline/evaluate/labelled/stance-second-labeller.jsonl", "rows": len(rows),
            "sample_seed": SAMPLE[0], "drawn_from": SAMPLE[1],
            "seed": SEED, "draws": DRAWS, "method": "Cohen's kappa (sklearn.metrics.cohen_kappa_score), 95 % "
            "percentile bootstrap over rows; null where undefined",
            **measure(rows, second), "machine": machine()}
    publish(NAME, data, render(data))


if __name__ == "__main__":
    main()
