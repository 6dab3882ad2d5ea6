"""The stance analyser's learned half: a logistic regression per label over two feature blocks, TF-IDF word
and character n-grams of the answer and its sentence features (``stance_embed``: the embedded model's
mean hidden states, standardised).

Generic over its labels (the groups and categories of ``stance``) and over where the dense features come
from, so it imports nothing of the analyser; ``stance_model`` fits it on the labelled set's tune half and
combines it with the patterns. scikit-learn and numpy are imported inside the functions: only the processes
that score answers (the eval worker, the benchmarks, the tests) load them, never the UI, which imports the
report module for its rendering only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODEL_VERSION = "tfidf+emb-lr-2"
# Chosen by 3×5-fold cross-validation on the tune half alone (benchmarks/bench_stance_features.py): the
# sentence features lift the groups' out-of-fold average precision by several points over TF-IDF alone;
# TF-IDF with them adds a little more. Word 1-2-grams with char_wb 2-5-grams, C=10; the dense block is
# standardised and scaled to DENSE_WEIGHT / sqrt(width) so its total weight is comparable to the TF-IDF's
# unit-norm rows. The question's own text as a third block made every figure worse.
C = 10.0
DENSE_WEIGHT = 3.0
MIN_POSITIVES = 8  # a category with fewer examples in the training rows gets no model of its own
SETTLED_TOKEN = " zzsettledzz"  # appended when the question has a settled answer (doubt there is over-hedging)


def _features() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                      TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))


def _model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=0)


def text_of(flat: str, settled: bool) -> str:
    return flat + SETTLED_TOKEN if settled else flat


def _design(features: Any, scaler: Any, texts: Sequence[str], dense: Any) -> Any:
    """The TF-IDF block and the scaled dense block side by side (a sparse matrix)."""
    import numpy as np
    import scipy.sparse as sp

    d = scaler.transform(np.asarray(dense, dtype=np.float64)) * (DENSE_WEIGHT / math.sqrt(scaler.n_features_in_))
    return sp.hstack([features.transform(list(texts)), sp.csr_matrix(d)]).tocsr()


@dataclass(frozen=True)
class Learned:
    """A fitted vectoriser, a scaler for the dense features and one binary model per label (a group or a
    category)."""

    features: Any
    scaler: Any
    models: Mapping[str, Any]

    def proba(self, texts: Sequence[str], dense: Any) -> list[dict[str, float]]:
        """For each text (with its row of dense features), the probability of each label the model knows."""
        if not texts:
            return []
        x = _design(self.features, self.scaler, texts, dense)
        cols = {k: m.predict_proba(x)[:, 1] for k, m in self.models.items()}
        return [{k: float(v[i]) for k, v in cols.items()} for i in range(len(texts))]


def targets(labels: Sequence[frozenset[str]], groups: Mapping[str, Sequence[str]]) -> dict[str, list[bool]]:
    """Each group (any of its categories present) and each category with at least MIN_POSITIVES examples."""
    out = {g: [bool(ls & set(cats)) for ls in labels] for g, cats in groups.items()}
    for cats in groups.values():
        for c in cats:
            ys = [c in ls for ls in labels]
            if sum(ys) >= MIN_POSITIVES and len(ys) - sum(ys) >= MIN_POSITIVES:
                out[c] = ys
    return out


def fit(texts: Sequence[str], dense: Any, labels: Sequence[frozenset[str]],
        groups: Mapping[str, Sequence[str]]) -> Learned:
    """Fitted on ``texts``, their dense feature rows (one per text) and their label sets."""
    from sklearn.preprocessing import StandardScaler

    if len(texts) != len(labels) or len(texts) != len(dense) or not texts:
        raise ValueError(f"fit needs as many label sets and dense rows as texts (got {len(texts)} texts, "
                         f"{len(dense)} dense rows, {len(labels)} label sets)")
    features = _features()
    features.fit(list(texts))
    scaler = StandardScaler().fit(dense)
    x = _design(features, scaler, texts, dense)
    return Learned(features, scaler, {k: _model().fit(x, ys) for k, ys in targets(labels, groups).items()})


def out_of_fold(texts: Sequence[str], dense: Any, labels: Sequence[frozenset[str]],
                groups: Mapping[str, Sequence[str]], folds: int = 5, repeats: int = 3,
                also: Sequence[Any] = ()) -> list[list[list[dict[str, float]]]]:
    """Repeated stratified k-fold: for each repeat, every text's probabilities from a model that never saw it,
    read with ``dense``, then with each of ``also`` (other dense rows for the same texts, scored by the same
    fold models): one list of repeats per reading. Folds are stratified on the pair of group memberships;
    seeds 0..repeats-1."""
    from sklearn.model_selection import StratifiedKFold

    y = targets(labels, groups)
    strata = [sum(2**i * y[g][j] for i, g in enumerate(groups)) for j in range(len(texts))]
    readings = [dense, *also]
    out: list[list[list[dict[str, float]]]] = [[] for _ in readings]
    for rep in range(repeats):
        probs: list[list[dict[str, float]]] = [[{} for _ in texts] for _ in readings]
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=rep).split(list(texts), strata):
            model = fit([texts[i] for i in tr], dense[tr], [labels[i] for i in tr], groups)
            for k, d in enumerate(readings):
                for i, p in zip(te, model.proba([texts[i] for i in te], d[te]), strict=True):
                    probs[k][i] = p
        for k in range(len(readings)):
            out[k].append(probs[k])
    return out


GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def _pr(pred: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float]:
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    npred, npos = sum(pred), sum(truth)
    return (tp / npred if npred else math.nan, tp / npos if npos else math.nan)


def widest_margin(members: Callable[[float, float], Sequence[bool]], truth: Sequence[bool], precision: float,
                  recall: float, subsets: Sequence[Sequence[bool]]) -> tuple[float, float]:
    """The (add, veto) pair on the grid (add up to 1.0: adds nothing; veto from 0.0: vetoes nothing) whose
    predictions ``members(add, veto)`` clear the goal by the widest margin in every one of ``subsets`` (masks
    over the predictions): the largest minimum, over the subsets, of precision − ``precision`` and recall −
    ``recall``, then the largest sum; the first such pair in grid order (lowest add, then veto) on a tie. A
    subset where nothing is predicted counts by its recall alone, one without true cases by its precision."""
    best: tuple[float, float] | None = None
    pair = (1.0, 0.0)
    for add in (*GRID, 1.0):
        for veto in (0.0, *GRID):
            pred = members(add, veto)
            margins = []
            for keep in subsets:
                prec, rec = _pr([p for p, k in zip(pred, keep, strict=True) if k],
                                [t for t, k in zip(truth, keep, strict=True) if k])
                margins += [m for m in (prec - precision, rec - recall) if not math.isnan(m)]
            if not margins:
                continue
            score = (min(margins), sum(margins))
            if best is None or score > best:
                best, pair = score, (add, veto)
    return pair
