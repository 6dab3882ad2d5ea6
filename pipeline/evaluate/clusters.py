"""Intervals that respect repeated samples: the question, not the answer, is the unit that was sampled.

Several answers to one question are not independent (a model that dodges a question tends to dodge it
every time), so 12 questions × 2 samples carry far less information than 24 questions. Here:

- a proportion's interval is Wilson's on the *effective* number of answers, n / deff, with Kish's design
  effect estimated from how much the per-question shares vary (deff = n for a 0 % or 100 % share,
  the cautious end: every answer to a question counts as one);
- a difference between two models that answered the same questions is a *paired cluster bootstrap*:
  questions are resampled with replacement, both models' answers to a drawn question move together,
  and the 2.5th/97.5th percentiles of the difference make the interval (Davison & Hinkley 1997, §3.8).
  A difference is *clear* when its interval excludes zero.

Pure Python (the Eval screen reads these results without numpy). Data in: ``{question id: [values]}``,
values True/False (a proportion) or numbers (a mean score).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.evaluate.stats import Z95, wilson

Clusters = Mapping[str, Sequence[float]]
BOOT = 2000  # resamples: the percentile interval's Monte Carlo error is then about ±1 point


def shape(clusters: Clusters) -> dict[str, int]:
    """n as questions × samples: questions with at least one value, values in all, samples per question."""
    sizes = [len(v) for v in clusters.values() if v]
    per = max(sizes) if sizes else 0
    return {"questions": len(sizes), "answers": sum(sizes), "per_question": per,
            "uniform": int(bool(sizes) and min(sizes) == per)}


def design_effect(clusters: Clusters) -> float:
    """Kish's deff of a clustered proportion: the variance of the share between questions against the
    binomial variance; within [1, mean cluster size]."""
    groups = [[float(x) for x in v] for v in clusters.values() if v]
    n = sum(len(g) for g in groups)
    if n == 0:
        return 1.0
    p = sum(sum(g) for g in groups) / n
    mbar = n / len(groups)
    if p in (0.0, 1.0) or len(groups) < 2:
        return max(1.0, mbar)
    # ratio-estimator variance of a cluster sample mean vs. the simple random sample variance
    v_cluster = sum((sum(g) - p * len(g)) ** 2 for g in groups) * len(groups) / ((len(groups) - 1) * n * n)
    v_srs = p * (1 - p) / n
    return min(max(1.0, v_cluster / v_srs), max(1.0, mbar))


def proportion(clusters: Clusters) -> dict[str, float | int | None]:
    """Share of True answers with a 95 % Wilson interval on the effective n; n as questions × samples."""
    sh = shape(clusters)
    n = sh["answers"]
    k = sum(sum(1 for x in v if x) for v in clusters.values())
    deff = design_effect(clusters)
    n_eff = n / deff if n else 0.0
    lo, hi = _wilson_real(k / n if n else 0.0, n_eff)
    return {"k": k, "n": n, "p": k / n if n else None, "lo": lo, "hi": hi, "questions": sh["questions"],
            "per_question": sh["per_question"], "deff": round(deff, 3), "n_eff": round(n_eff, 2)}


def _wilson_real(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    if float(n).is_integer():
        return wilson(round(p * n), int(n), z)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _ratio(pick: Sequence[str], data: Clusters) -> float | None:
    num = den = 0.0
    for q in pick:
        v = data.get(q, ())
        num += sum(float(x) for x in v)
        den += len(v)
    return num / den if den else None


def paired_difference(before: Clusters, after: Clusters, boot: int = BOOT, seed: int = 0) -> dict[str, Any]:
    """after − before (pooled over answers) with a 95 % paired cluster-bootstrap interval over the
    questions both answered; ``clear`` when the interval excludes 0."""
    common = sorted(q for q in set(before) & set(after) if before[q] and after[q])
    if not common:
        return {"d": None, "lo": None, "hi": None, "clear": False, "questions": 0, "method": "cluster-bootstrap"}
    b0, a0 = _ratio(common, before), _ratio(common, after)
    assert b0 is not None and a0 is not None
    d = a0 - b0
    rng = random.Random(seed)
    diffs: list[float] = []
    for _ in range(boot):
        pick = [common[rng.randrange(len(common))] for _ in common]
        b, a = _ratio(pick, before), _ratio(pick, after)
        if a is not None and b is not None:
            diffs.append(a - b)
    diffs.sort()
    lo = diffs[int(0.025 * (len(diffs) - 1))]
    hi = diffs[math.ceil(0.975 * (len(diffs) - 1))]
    return {"d": d, "lo": lo, "hi": hi, "clear": lo > 0 or hi < 0, "questions": len(common),
            "method": "cluster-bootstrap"}


def pooled_difference(pairs: Sequence[tuple[Clusters, Clusters]], boot: int = BOOT, seed: int = 0) -> dict[str, Any]:
    """The mean over several runs (seeds) of after − before, each run paired by question, with a 95 %
    cluster-bootstrap interval: the questions every run answered are resampled once per draw, and every
    run's difference is taken on that same draw (the runs are fixed; the questions are the sample)."""
    common = sorted(set.intersection(*({q for q in b if b[q]} & {q for q in a if a[q]} for b, a in pairs)))
    if not pairs or not common:
        return {"d": None, "lo": None, "hi": None, "clear": False, "questions": 0, "runs": len(pairs)}

    def mean_diff(pick: Sequence[str]) -> float:
        ds = [(_ratio(pick, a) or 0.0) - (_ratio(pick, b) or 0.0) for b, a in pairs]
        return sum(ds) / len(ds)

    d = mean_diff(common)
    rng = random.Random(seed)
    draws = sorted(mean_diff([common[rng.randrange(len(common))] for _ in common]) for _ in range(boot))
    lo, hi = draws[int(0.025 * (boot - 1))], draws[math.ceil(0.975 * (boot - 1))]
    return {"d": d, "lo": lo, "hi": hi, "clear": lo > 0 or hi < 0, "questions": len(common), "runs": len(pairs)}


def n_label(m: Mapping[str, object]) -> str:
    """'16 q × 3' (questions × samples), or '16 q, 47 answers' when questions have different counts."""
    q, n, per = m.get("questions"), m.get("n"), m.get("per_question")
    if not q:
        return f"n={n}" if n else "–"
    if n is None:
        return f"{q} q"
    if isinstance(q, int) and isinstance(per, int) and isinstance(n, int) and q * per == n:
        return f"{q} q × {per}"
    return f"{q} q, {n} answers"
