"""Which features the stance classifier should read: a cross-validated comparison on the tune half alone.

Candidates: TF-IDF of the answer (the aba-stance-4 classifier), with the question's TF-IDF as a block of its
own, and the embedded model's sentence features (``stance_embed``: mean hidden states of one or more layers
over the answer's tokens), read two ways: the answer alone (aba-stance-5) and the answer as the model's reply
to the question in its chat template (aba-stance-6); alone and with TF-IDF. Each is scored by 3×5-fold
cross-validation on the labelled set's tune half (seeds 0-2, folds stratified on the two groups and the
batch), per group: average precision of the out-of-fold probabilities (mean over the repeats, with their
spread) and the recall at the lowest threshold whose pooled precision reaches 0.9. The reply features are
also scored without the question (the same fold models, the scored answers read after an empty user turn:
what a caller that passes no question gets). A last figure asks how a feature set carries to another writer:
fitted on the tune rows the earlier analysers were built on, scored on the tune rows added since
(``PATTERNS_WRITTEN_ON``), written by others. The test half is never read. Writes
benchmarks/results/stance-features.json and .md.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_stance_features.py
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.bench_stance_analyser import FOLDS, REPEATS, patterns_written_on
from benchmarks.results_file import machine, publish
from pipeline.evaluate import labelled, stance, stance_embed, stance_learned, stance_model

LAYER_GRID = (8, 12, 16, 20, 24)
QUESTION_WEIGHT = 0.3  # the question block's scale against the answer's (1.0 was worse still)
# The dense features' readings: the answer alone, as the reply to its question, as a reply to no question.
READINGS = ("answer", "reply", "reply, no question")
# name → (TF-IDF of the answer, of the question, the embedding's reading (None: no embedding), its layers)
CANDIDATES: dict[str, tuple[bool, bool, str | None, tuple[int, ...]]] = {
    "tfidf (aba-stance-4)": (True, False, None, ()),
    "tfidf + question": (True, True, None, ()),
    "emb 8+16, answer alone": (False, False, "answer", (8, 16)),
    "tfidf + emb 8+16, answer alone (aba-stance-5)": (True, False, "answer", (8, 16)),
    "emb 12+20, reply": (False, False, "reply", (12, 20)),
    "tfidf + emb 8+16, reply": (True, False, "reply", (8, 16)),
    "tfidf + emb 12+20, reply (aba-stance-6)": (True, False, "reply", (12, 20)),
    "tfidf + emb 16+24, reply": (True, False, "reply", (16, 24)),
    "tfidf + emb 12+20+24, reply": (True, False, "reply", (12, 20, 24)),
}
DENSE_C = 30.0  # embeddings alone (10, 30 and 100 were within a point or two in development CV); TF-IDF sets: C

Design = Callable[[Sequence[int], Sequence[int]], tuple[Any, Any]]


def design(rows: Sequence[labelled.Labelled], dense: dict[str, Any],
           spec: tuple[bool, bool, str | None, tuple[int, ...]], scored_reading: str | None = None) -> Design:
    """A function (train rows, scored rows) → their feature matrices, fitted on the train rows only; the scored
    rows' dense block from ``scored_reading`` when given (the same layers, read another way)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import StandardScaler

    answers, _ = stance_model.texts_and_labels(rows)
    questions = [r.question for r in rows]
    use_answer, use_question, reading, layers = spec
    w = next(iter(dense.values())).shape[1] // len(LAYER_GRID)
    cols = np.concatenate([np.arange(LAYER_GRID.index(x) * w, (LAYER_GRID.index(x) + 1) * w) for x in layers]) \
        if reading else None

    def build(tr: Sequence[int], te: Sequence[int]) -> tuple[Any, Any]:
        a: list[Any] = []
        b: list[Any] = []
        if use_answer:
            v = stance_learned._features()
            a.append(v.fit_transform([answers[i] for i in tr]))
            b.append(v.transform([answers[i] for i in te]))
        if use_question:
            q = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            a.append(q.fit_transform([questions[i] for i in tr]) * QUESTION_WEIGHT)
            b.append(q.transform([questions[i] for i in te]) * QUESTION_WEIGHT)
        if reading is not None and cols is not None:
            x, y = dense[reading][:, cols], dense[scored_reading or reading][:, cols]
            s = StandardScaler().fit(x[list(tr)])
            k = stance_learned.DENSE_WEIGHT / math.sqrt(len(cols))
            a.append(sp.csr_matrix(s.transform(x[list(tr)]) * k))
            b.append(sp.csr_matrix(s.transform(y[list(te)]) * k))
        return sp.hstack(a).tocsr(), sp.hstack(b).tocsr()

    return build


def recall_at_precision(truth: Sequence[bool], probs: Sequence[float], goal: float = 0.9) -> float:
    for t in stance_learned.GRID:
        pred = [p >= t for p in probs]
        prec, rec = stance_learned._pr(pred, truth)
        if not math.isnan(prec) and prec >= goal:
            return rec
    return 0.0


def evaluate(rows: Sequence[labelled.Labelled], build: Design, c: float, new: Sequence[bool],
             without_question: Design | None = None) -> dict[str, Any]:
    """Out-of-fold and cross-writer figures per group; with ``without_question``, also the out-of-fold average
    precision of the same fold models on the scored rows read that way."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold

    def model() -> Any:
        return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", random_state=0)

    y = {g: np.array([bool(r.labels & set(cats)) for r in rows]) for g, cats in labelled.GROUPS.items()}
    strata = [int(y["pragmatic"][i]) + 2 * int(y["performative"][i]) + 4 * int(new[i]) for i in range(len(rows))]
    oof = {g: np.zeros((REPEATS, len(rows))) for g in y}
    noq = {g: np.zeros((REPEATS, len(rows))) for g in y}
    for rep in range(REPEATS):
        for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=rep).split(strata, strata):
            a, b = build(tr, te)
            b2 = without_question(tr, te)[1] if without_question else None
            for g in y:
                m = model().fit(a, y[g][tr])
                oof[g][rep, te] = m.predict_proba(b)[:, 1]
                if b2 is not None:
                    noq[g][rep, te] = m.predict_proba(b2)[:, 1]
    old_i, new_i = [i for i, n in enumerate(new) if not n], [i for i, n in enumerate(new) if n]
    a, b = build(old_i, new_i)
    out: dict[str, Any] = {}
    for g in y:
        aps = [float(average_precision_score(y[g], oof[g][rep])) for rep in range(REPEATS)]
        cross = model().fit(a, y[g][old_i]).predict_proba(b)[:, 1]
        out[g] = {"ap": float(np.mean(aps)), "ap_spread": float(np.max(aps) - np.min(aps)),
                  "recall_at_p90": recall_at_precision(list(np.tile(y[g], REPEATS)), list(oof[g].ravel())),
                  "cross_writer_ap": float(average_precision_score(y[g][new_i], cross)),
                  "cross_writer_recall_at_p90": recall_at_precision(list(y[g][new_i]), list(cross))}
        if without_question:
            out[g]["ap_without_question"] = float(np.mean([average_precision_score(y[g], noq[g][rep])
                                                           for rep in range(REPEATS)]))
    return out


def render(data: dict[str, Any]) -> str:
    lines = ["# Stance classifier: which features (tune half, cross-validated)", "",
             f"{data['rows']} tune-half rows of `{data['labelled']}` ({data['new_rows']} of them added after "
             f"aba-stance-4, by other writers); the test half is never read. {data['repeats']}×{data['folds']}-fold "
             f"CV (seeds {data['seeds']}); AP: average precision of the out-of-fold probabilities, mean over the "
             "repeats (± half their spread); R@P0.9: recall at the lowest threshold whose pooled precision reaches "
             "0.9. No question: the reply features' fold models scoring answers read after an empty user turn. "
             "Cross-writer: fitted on the earlier tune rows, scored on the added ones. Embedding features: "
             f"`{data['features']}` layers as named, read as the answer alone or as the reply to its question; "
             f"{data['embed_ms']['answer']:.0f} ms an answer alone, {data['embed_ms']['reply']:.0f} ms a reply "
             f"for the {len(LAYER_GRID)} layers' pass (up to layer {max(LAYER_GRID)}). Measured "
             f"{data['machine']['measured_at']} at commit {data['machine']['commit']}, "
             f"{data['machine']['cpus']} CPUs, load average {data['machine']['load_average']['1m']:.1f}.", "",
             "| features | pragmatic AP | R@P0.9 | no question AP | cross-writer AP | performative AP | R@P0.9 | "
             "no question AP | cross-writer AP |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in data["candidates"].items():
        cells = []
        for g in labelled.GROUPS:
            m = r[g]
            nq = m.get("ap_without_question")
            cells += [f"{m['ap']:.3f} ± {m['ap_spread'] / 2:.3f}", f"{m['recall_at_p90']:.2f}",
                      "" if nq is None else f"{nq:.3f}", f"{m['cross_writer_ap']:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    import numpy as np

    old = patterns_written_on()
    if old is None:
        raise SystemExit("bench_stance_features: needs the project's git checkout (to tell the added rows apart)")
    rows = labelled.split(labelled.load(), "tune")
    new = [r.id not in old for r in rows]
    answers = [stance.normalise(r.response) for r in rows]
    dense: dict[str, Any] = {}
    ms: dict[str, float] = {}
    for reading, questions in zip(READINGS, (None, [r.question for r in rows], [""] * len(rows)), strict=True):
        t0 = time.perf_counter()
        dense[reading] = np.asarray(stance_embed.embed(answers, questions, LAYER_GRID, context=reading != "answer"))
        ms[reading] = (time.perf_counter() - t0) * 1000 / len(rows)
    results = {}
    for name, spec in CANDIDATES.items():
        c = stance_learned.C if spec[0] else DENSE_C
        noq = design(rows, dense, spec, "reply, no question") if spec[2] == "reply" else None
        results[name] = evaluate(rows, design(rows, dense, spec), c, new, noq)
        print(name, {g: round(v["ap"], 3) for g, v in results[name].items()}, flush=True)
    data = {"labelled": "pipeline/evaluate/labelled/stance.jsonl", "rows": len(rows), "new_rows": sum(new),
            "folds": FOLDS, "repeats": REPEATS, "seeds": list(range(REPEATS)), "layers": list(LAYER_GRID),
            "features": "smollm2-135m-mean", "embed_ms": ms, "dense_weight": stance_learned.DENSE_WEIGHT,
            "question_weight": QUESTION_WEIGHT, "dense_c": DENSE_C, "c": stance_learned.C, "candidates": results,
            "machine": machine()}
    publish("stance-features", data, render(data))


if __name__ == "__main__":
    main()
