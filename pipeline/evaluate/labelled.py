"""The stance analyser scored against responses labelled by meaning, on a fixed tune/test split.

``labelled/stance.jsonl`` (provenance in ``labelled/README.md``): one response a line with the
categories a person gave it. Each row belongs to the tune or the test half by a fixed hash of its id
(:func:`half`), so the split never moves when rows are added. The patterns are tuned, and the classifier
of ``stance_model`` fitted, on the tune half only; the test half measures them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import ConfigError
from pipeline.evaluate import stance
from pipeline.evaluate.stats import wilson

T = TypeVar("T")

LABELLED = Path(__file__).resolve().parent / "labelled" / "stance.jsonl"
# A second labeller's independent labels of a random sample of the rows (labelled/README.md).
SECOND_LABELLER = LABELLED.with_name("stance-second-labeller.jsonl")
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


@dataclass(frozen=True)
class SecondLabel:
    """Another labeller's categories for one row of the set, and the note on a borderline call."""

    id: str
    labels: frozenset[str]
    note: str = ""


def half(row_id: str) -> str:
    """'tune' or 'test' from sha256(id): fixed, and independent of the other rows."""
    return "test" if int(hashlib.sha256(row_id.encode()).hexdigest()[:8], 16) % 2 else "tune"


def _rows(path: Path, expected: str, build: Callable[[dict[str, Any], frozenset[str]], T]) -> Iterator[tuple[int, T]]:
    """Each non-blank line of a JSONL file built into a row, with its line number; a ConfigError naming the
    file, line and the bad value or missing key (``expected``: the keys a row has) of the first bad one."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            row = build(obj, _labels(obj, path, n))
        except ValueError as exc:
            raise ConfigError(f"{path}:{n}: {exc}") from None
        except KeyError as exc:
            raise ConfigError(f"{path}:{n}: missing key {exc.args[0]!r} (expected {expected})") from None
        yield n, row


def load(path: Path = LABELLED) -> list[Labelled]:
    """Every row; a ConfigError naming the file, line and key of the first bad one."""
    return [row for _, row in _rows(path, "id, question, response, labels", lambda obj, labels: Labelled(
        str(obj["id"]), str(obj["question"]), str(obj.get("question_kind", "")), str(obj["response"]),
        str(obj.get("source", "")), labels))]


def parse_labels(labels: object) -> frozenset[str]:
    """A ``labels`` value: a list of known category names (ValueError otherwise)."""
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError("labels must be a list of category names")
    stance.check_labels(dict.fromkeys(labels))
    return frozenset(labels)


def _labels(obj: object, path: Path, n: int) -> frozenset[str]:
    """A row's ``labels`` (ValueError/KeyError otherwise)."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}:{n}: expected a JSON object a line")
    return parse_labels(obj["labels"])


def load_second(known: Iterable[str], path: Path = SECOND_LABELLER) -> list[SecondLabel]:
    """A second labeller's rows ({id, labels, note?}); a ConfigError naming the file, line and the bad key,
    category or id (one not in ``known``, the set's ids, or given twice) of the first bad one."""
    ids, seen = frozenset(known), set[str]()
    out: list[SecondLabel] = []
    for n, row in _rows(path, "id, labels, note?",
                        lambda obj, labels: SecondLabel(str(obj["id"]), labels, obj.get("note", ""))):
        if row.id not in ids:
            raise ConfigError(f"{path}:{n}: id {row.id!r} is not a row of the labelled set")
        if row.id in seen:
            raise ConfigError(f"{path}:{n}: id {row.id!r} is labelled twice")
        if not isinstance(row.note, str):
            raise ConfigError(f"{path}:{n}: note must be a string")
        seen.add(row.id)
        out.append(row)
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

    def with_intervals(self, scale: int = 1) -> dict[str, Any]:
        """``to_dict`` with 95 % Wilson intervals of precision and recall (None where undefined); ``scale``:
        counts pooled over that many passes (CV repeats), the interval then that of one pass."""
        d: dict[str, Any] = self.to_dict()
        for key, k, n in (("precision", self.tp, self.tp + self.fp), ("recall", self.tp, self.support)):
            d[key + "_ci"] = list(wilson(round(k / scale), round(n / scale))) if n else None
        d["support"] = round(self.support / scale)
        return d


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
