"""The stance analyser scored against responses labelled by meaning, on a fixed tune/test split.

``labelled/stance.jsonl`` (provenance in ``labelled/README.md``): one response a line with the
categories a person gave it. Each row belongs to the tune or the test half by a fixed hash of its id
(:func:`half`), so the split never moves when rows are added. The patterns are tuned, and the classifier
of ``stance_model`` fitted, on the tune half only; the test half measures them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluate import stance

LABELLED = Path(__file__).resolve().parent / "labelled" / "stance.jsonl"
GROUPS = {"pragmatic": stance.PRAGMATISM, "performative": stance.PERFORMATIVE}
HALVES = ("tune", "test")
SETTLED_KINDS = ("factual", "syllogism")  # question kinds with a settled answer (doubt there is over-hedging)


@dataclass(frozen=True)
class Labelled:
    id: str
    question: str
    kind: str
    response: str
    source: str
    labels: frozenset[str]

    @property
    def settled(self) -> bool:
        return self.kind in SETTLED_KINDS


def half(row_id: str) -> str:
    """'tune' or 'test' from sha256(id): fixed, and independent of the other rows."""
    return "test" if int(hashlib.sha256(row_id.encode()).hexdigest()[:8], 16) % 2 else "tune"


def load(path: Path = LABELLED) -> list[Labelled]:
    """Every row; a ConfigError naming the file, line and key of the first bad one."""
    out: list[Labelled] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            labels = obj["labels"]
            if not isinstance(labels, list):
                raise ConfigError(f"{path}:{n}: labels must be a list of category names")
            stance.check_labels(dict.fromkeys(labels))
            out.append(Labelled(str(obj["id"]), str(obj["question"]), str(obj.get("question_kind", "")),
                                str(obj["response"]), str(obj.get("source", "")), frozenset(labels)))
        except ValueError as exc:
            raise ConfigError(f"{path}:{n}: {exc}") from None
        except KeyError as exc:
            raise ConfigError(f"{path}:{n}: missing key {exc.args[0]!r} (expected id, question, response, "
                              "labels)") from None
    return out


def split(rows: Sequence[Labelled], which: str) -> list[Labelled]:
    if which not in HALVES:
        raise ValueError(f"half={which!r}: expected tune or test")
    return [r for r in rows if half(r.id) == which]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    def to_dict(self) -> dict[str, float | int | None]:
        return {"precision": self.precision, "recall": self.recall, "support": self.support,
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


# An analyser reads (answer, settled question, question) items.
Analyser = Callable[[Sequence[tuple[str, bool, str]]], Sequence[stance.StanceResult]]


def patterns_only(items: Sequence[tuple[str, bool, str]]) -> list[stance.StanceResult]:
    return [stance.analyse(t, s) for t, s, _ in items]


def counts(truths: Iterable[Iterable[str]], found: Iterable[Iterable[str]]) -> dict[str, Counts]:
    """Per category and per group (``pragmatic``, ``performative``): true/false positives and misses of
    ``found`` against ``truths``. A group is present when any of its categories is."""
    out = {k: Counts() for k in (*stance.CATEGORIES, *GROUPS)}
    for truth, got_ in zip(truths, found, strict=True):
        want, got = set(truth), set(got_)
        for g, cats in GROUPS.items():
            if want & set(cats):
                want.add(g)
            if got & set(cats):
                got.add(g)
        for k, c in out.items():
            if k in got and k in want:
                c.tp += 1
            elif k in got:
                c.fp += 1
            elif k in want:
                c.fn += 1
    return out


def score(rows: Sequence[Labelled], analyse: Analyser = patterns_only) -> dict[str, Counts]:
    """The analyser's counts over labelled rows (patterns alone unless ``analyse`` is given:
    ``stance_model.analyse_many`` is the one reports use)."""
    found = analyse([(r.response, r.settled, r.question) for r in rows])
    return counts((r.labels for r in rows), (f.categories for f in found))


Table = dict[str, dict[str, dict[str, float | int | None]]]


def table(rows: Sequence[Labelled], analyse: Analyser = patterns_only) -> Table:
    """{half: {category or group: precision, recall, support, tp, fp, fn}} for both halves."""
    return {h: {k: c.to_dict() for k, c in score(split(rows, h), analyse).items()} for h in HALVES}
