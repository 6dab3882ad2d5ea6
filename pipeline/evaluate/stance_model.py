"""The stance analyser reports use: the patterns of ``stance``, with a learned classifier that adds a group
where the patterns are silent and vetoes a pattern hit it is sure is wrong.

The classifier (``stance_learned``: TF-IDF word and character n-grams of the answer with the embedded model's
features of the answer read as its reply to the question, from ``stance_embed``; a logistic regression per
group and per category) is fitted at first use on the labelled set's tune half only (a second or two once the
training rows' features are in the cache), so the test half measures the whole analyser on answers neither
half of it was tuned on. An answer is best scored with its question; without one (``analyse(text)``) the
model reads it after an empty user turn, less well, and the combination uses a pair of thresholds of its
own (``ADD_BARE``, ``VETO_BARE``; benchmarks/results/stance-analyser.md has both readings' figures).

How the two combine, per group (pragmatic, performative), with p the classifier's probability:
- the patterns found the group and p >= VETO[group]: kept (below it: dropped, the veto);
- the patterns did not and p >= ADD[group]: added, with the group's categories whose own model says
  p >= 0.5 (else its likeliest one);
- over-hedging stays the patterns'. The settled-question rule (``stance.settle``) runs on the patterns'
  hits before the combination, so doubt on a settled question is over-hedging whatever the classifier
  says of the pragmatic group (aba-stance-4 ran it after, and a vetoed doubt cue was lost), and again
  after it, so a doubt category the classifier adds there is over-hedging too.
The thresholds come from a rule applied to 3×5-fold cross-validation on the tune half, never to the
test half: per group, the (ADD, VETO) pair on a 0.05 grid whose combined out-of-fold figures clear the goal
(precision 0.9, recall 0.85) by the widest margin (the largest minimum of the margins, then their sum), both
on the whole tune half and on its rows the patterns were not written on. The first alone would trust the
patterns too much (they are in-sample on the rest); the second alone holds only written answers, none of
the embedded model's own, so it would veto the patterns' hits on garbled answers too readily.
``benchmarks/bench_stance_analyser.py`` re-derives them and records both.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evaluate import labelled, stance, stance_embed, stance_learned
from pipeline.evaluate.stance import StanceResult

ANALYSER_NAME = "aba-stance-6"
ANALYSER_VERSION = (f"{ANALYSER_NAME} (patterns {stance.PATTERN_VERSION} + {stance_learned.MODEL_VERSION} on "
                    f"{stance_embed.FEATURES_VERSION})")
GROUPS = labelled.GROUPS
GOAL = {"precision": 0.9, "recall": 0.85}  # per group: what the thresholds' rule aims at (module docstring)
ADD = {"pragmatic": 0.8, "performative": 0.85}
VETO = {"pragmatic": 0.2, "performative": 0.1}
# An answer given without its question is read after an empty user turn, and the classifier's probabilities
# for it run differently: it has its own pair, chosen by the same rule on the same fold models' probabilities
# for the tune answers read that way.
ADD_BARE = {"pragmatic": 0.85, "performative": 0.9}
VETO_BARE = {"pragmatic": 0.45, "performative": 0.4}
# An item to read: (answer, whether its question has a settled answer[, the question]).
Item = tuple[str, bool] | tuple[str, bool, str]


def training_rows() -> list[labelled.Labelled]:
    return labelled.split(labelled.load(), "tune")


def texts_and_labels(rows: Sequence[labelled.Labelled]) -> tuple[list[str], list[frozenset[str]]]:
    return [stance_learned.text_of(stance.normalise(r.response), r.settled) for r in rows], [r.labels for r in rows]


def training_features(rows: Sequence[labelled.Labelled], questions: bool = True) -> Any:
    """The rows' sentence features, each answer read after its question (``questions`` False: after an empty
    user turn), from the cache after the first time."""
    return stance_embed.embed_cached([stance.normalise(r.response) for r in rows],
                                     [r.question if questions else "" for r in rows])


def thresholds_for(question: str) -> tuple[Mapping[str, float], Mapping[str, float]]:
    """The (add, veto) thresholds for an answer read with this question ("": none given)."""
    return (ADD, VETO) if question.strip() else (ADD_BARE, VETO_BARE)


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


def pattern_hits(flat: str, settled: bool) -> frozenset[str]:
    """The patterns' categories in a normalised answer, after the settled-question rule."""
    return stance.settle(stance.matches(flat), flat, settled)


def decide(flat: str, settled: bool, probs: Mapping[str, float], add: Mapping[str, float] = ADD,
           veto: Mapping[str, float] = VETO, hits: frozenset[str] | None = None) -> frozenset[str]:
    """One normalised answer's categories: the settled-question rule on the patterns' hits (``hits``, when
    the caller has them already), the classifier's additions and vetoes, the rule again (for what the
    classifier added)."""
    found = pattern_hits(flat, settled) if hits is None else hits
    return stance.settle(combine(set(found), probs, add, veto), flat, settled)


def thresholds(flats: Sequence[str], settled: Sequence[bool], truths: Sequence[frozenset[str]],
               oof: Sequence[Sequence[Mapping[str, float]]], fresh: Sequence[bool]) -> dict[str, dict[str, float]]:
    """The rule (module docstring) on out-of-fold probabilities ``oof`` (one list per CV repeat) of the tune
    rows given; ``fresh`` marks those the patterns were not written on: {"add": {group: t}, "veto": {...}}."""
    hits = [pattern_hits(f, s) for f, s in zip(flats, settled, strict=True)]
    chosen: dict[str, dict[str, float]] = {"add": dict(ADD), "veto": dict(VETO)}
    subsets = [[True] * len(flats) * len(oof), list(fresh) * len(oof)]
    for g, cats in GROUPS.items():
        truth = [bool(t & set(cats)) for t in truths] * len(oof)

        def members(add: float, veto: float, g: str = g, cats: tuple[str, ...] = cats) -> list[bool]:
            a, v = {**chosen["add"], g: add}, {**chosen["veto"], g: veto}
            return [bool(decide(f, s, p, a, v, h) & set(cats)) for rep in oof
                    for f, s, p, h in zip(flats, settled, rep, hits, strict=True)]

        chosen["add"][g], chosen["veto"][g] = stance_learned.widest_margin(members, truth, GOAL["precision"],
                                                                          GOAL["recall"], subsets)
    return chosen


def _unpack(item: Item) -> tuple[str, bool, str]:
    text, settled, *question = item
    return text, settled, question[0].strip() if question else ""


def probabilities(items: Sequence[Item]) -> list[dict[str, float]]:
    """The classifier's probabilities for each item (answer, settled question[, question]); 0 for every label
    of an empty answer (an error, or nothing after the ``<think>`` block: there is nothing to read)."""
    unpacked = [_unpack(x) for x in items]
    flats = [stance.normalise(t) for t, _, _ in unpacked]
    read = [i for i, f in enumerate(flats) if f]
    out: list[dict[str, float]] = [{} for _ in flats]
    if read:
        texts = [stance_learned.text_of(flats[i], unpacked[i][1]) for i in read]
        dense = stance_embed.embed([flats[i] for i in read], [unpacked[i][2] for i in read])
        for i, p in zip(read, model().proba(texts, dense), strict=True):
            out[i] = p
    blank = [i for i, f in enumerate(flats) if not f]
    if blank:
        labels = dict.fromkeys(model().models, 0.0)
        for i in blank:
            out[i] = dict(labels)
    return out


def analyse_many(items: Sequence[Item]) -> list[StanceResult]:
    """Each item (answer, settled question[, question]) → its categories; one classifier pass for the lot."""
    unpacked = [_unpack(x) for x in items]
    return [StanceResult(decide(stance.normalise(t), s, p, *thresholds_for(q)))
            for (t, s, q), p in zip(unpacked, probabilities(items), strict=True)]


def analyse(text: str, settled: bool = False, question: str = "") -> StanceResult:
    """One answer's categories; give its ``question`` when there is one (the classifier reads the answer as
    the reply to it)."""
    return analyse_many([(text, settled, question)])[0]


def learned_groups(items: Sequence[Item], threshold: float = 0.5) -> list[frozenset[str]]:
    """The classifier alone, at its own decision threshold: the groups it finds (for agreement figures)."""
    return [frozenset(g for g in GROUPS if p[g] >= threshold) for p in probabilities(items)]
