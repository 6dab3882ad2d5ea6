"""The stance analyser reports use: the patterns of ``stance``, with a learned classifier that adds a group
where the patterns are silent and vetoes a pattern hit it is sure is wrong.

The classifier (``stance_learned``: TF-IDF word and character n-grams with the embedded model's sentence
features from ``stance_embed``, a logistic regression per group and per category) is fitted at first use on
the labelled set's tune half only (a second or two once the training rows' features are in the cache), so
the test half measures the whole analyser on answers neither half of it was tuned on.

How the two combine, per group (pragmatic, performative), with p the classifier's probability:
- the patterns found the group and p >= VETO[group]: kept (below it: dropped, the veto);
- the patterns did not and p >= ADD[group]: added, with the group's categories whose own model says
  p >= 0.5 (else its likeliest one);
- over-hedging stays the patterns'. The settled-question rule (``stance.settle``) runs on the patterns'
  hits before the combination, so doubt on a settled question is over-hedging whatever the classifier
  says of the pragmatic group (aba-stance-4 ran it after, and a vetoed doubt cue was lost), and again
  after it, so a doubt category the classifier adds there is over-hedging too.
The thresholds come from a rule applied to 3×5-fold cross-validation on the tune half, never to the
test half: ADD is the lowest threshold at which the classifier's own out-of-fold precision reaches the
goal (0.9), VETO the highest at which it still keeps 95 % of the true cases. The patterns' tune-half
figures cannot guide the choice (they were tuned on those rows), which is why the rule looks at the
classifier's figures alone. ``benchmarks/bench_stance_analyser.py`` re-derives them and records both.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evaluate import labelled, stance, stance_embed, stance_learned
from pipeline.evaluate.stance import StanceResult

ANALYSER_VERSION = (f"aba-stance-5 (patterns {stance.PATTERN_VERSION} + {stance_learned.MODEL_VERSION} on "
                    f"{stance_embed.FEATURES_VERSION})")
GROUPS = labelled.GROUPS
ADD_PRECISION, VETO_KEEP = 0.9, 0.95  # the rule's two goals (see the module docstring)
ADD = {"pragmatic": 0.7, "performative": 0.75}
VETO = {"pragmatic": 0.25, "performative": 0.15}


def training_rows() -> list[labelled.Labelled]:
    return labelled.split(labelled.load(), "tune")


def texts_and_labels(rows: Sequence[labelled.Labelled]) -> tuple[list[str], list[frozenset[str]]]:
    return [stance_learned.text_of(stance.normalise(r.response), r.settled) for r in rows], [r.labels for r in rows]


def training_features(rows: Sequence[labelled.Labelled]) -> Any:
    """The rows' sentence features (from the cache after the first time)."""
    return stance_embed.embed_cached([stance.normalise(r.response) for r in rows])


@functools.cache
def model() -> stance_learned.Learned:
    """The classifier fitted on the tune half (once a process)."""
    try:
        import sklearn  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the stance analyser needs scikit-learn, torch and transformers ({exc.name} is "
                          "missing): install the project's train and eval extras (pip install -e '.[train,eval]', "
                          "as scripts/setup.sh does)") from None
    rows = training_rows()
    texts, labels = texts_and_labels(rows)
    return stance_learned.fit(texts, training_features(rows), labels, GROUPS)


def combine(found: set[str], probs: Mapping[str, float], add: Mapping[str, float] = ADD,
            veto: Mapping[str, float] = VETO) -> set[str]:
    """The pattern categories ``found`` after the classifier's additions and vetoes (per group)."""
    out = set(found)
    for g, cats in GROUPS.items():
        p = probs[g]
        if out & set(cats):
            if p < veto[g]:
                out -= set(cats)
        elif p >= add[g]:
            own = {c: probs[c] for c in cats if c in probs}
            out |= {c for c, v in own.items() if v >= 0.5} or {max(own, key=lambda c: own[c])}
    return out


def decide(flat: str, settled: bool, probs: Mapping[str, float], add: Mapping[str, float] = ADD,
           veto: Mapping[str, float] = VETO) -> frozenset[str]:
    """One normalised answer's categories: the settled-question rule on the patterns' hits, the classifier's
    additions and vetoes, the rule again (for what the classifier added)."""
    return stance.settle(combine(set(stance.settle(stance.matches(flat), flat, settled)), probs, add, veto),
                         flat, settled)


def probabilities(items: Sequence[tuple[str, bool]]) -> list[dict[str, float]]:
    """The classifier's probabilities for each (answer, settled question); 0 for every label of an empty
    answer (an error, or nothing after the ``<think>`` block: there is nothing to read)."""
    flats = [stance.normalise(t) for t, _ in items]
    read = [i for i, f in enumerate(flats) if f]
    out: list[dict[str, float]] = [{} for _ in flats]
    if read:
        texts = [stance_learned.text_of(flats[i], items[i][1]) for i in read]
        for i, p in zip(read, model().proba(texts, stance_embed.embed([flats[i] for i in read])), strict=True):
            out[i] = p
    blank = [i for i, f in enumerate(flats) if not f]
    if blank:
        labels = dict.fromkeys(model().models, 0.0)
        for i in blank:
            out[i] = dict(labels)
    return out


def analyse_many(items: Sequence[tuple[str, bool]]) -> list[StanceResult]:
    """Each (answer, settled question) → its categories; one classifier pass for the lot."""
    flats = [stance.normalise(t) for t, _ in items]
    return [StanceResult(decide(f, s, p)) for f, p, (_, s) in zip(flats, probabilities(items), items, strict=True)]


def analyse(text: str, settled: bool = False) -> StanceResult:
    return analyse_many([(text, settled)])[0]


def learned_groups(items: Sequence[tuple[str, bool]], threshold: float = 0.5) -> list[frozenset[str]]:
    """The classifier alone, at its own decision threshold: the groups it finds (for agreement figures)."""
    return [frozenset(g for g in GROUPS if p[g] >= threshold) for p in probabilities(items)]
