"""Read a file of answers with the stance analyser, and measure it on them when they carry labels.

    python -m pipeline.evaluate.score_file ANSWERS.jsonl [--out FOUND.jsonl]

One JSON object a line: ``response`` (or ``answer``), and optionally ``id``, ``question`` (the analyser reads
the answer as the reply to it: pass it when there is one), ``question_kind`` (``factual`` or ``syllogism``: a
settled question, where doubt is over-hedging; or ``settled``: true/false) and ``labels`` (categories a
person gave it, docs/evaluation.md). Each answer's categories and groups go to ``--out`` (JSONL, in the
input's order) or standard output. When any row carries ``labels``, the precision and recall of each group
and category on those rows follow, with 95 % Wilson intervals: how far the analyser holds on your answers,
not only on the project's labelled set. A bad row stops the run with its file, line and the key at fault.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evaluate import labelled, stance


@dataclass(frozen=True)
class Row:
    id: str
    question: str
    response: str
    settled: bool
    labels: frozenset[str] | None  # None: not labelled


def _row(obj: Any, n: int) -> Row:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object a line")
    response = obj.get("response", obj.get("answer"))
    if not isinstance(response, str):
        raise ValueError("needs a 'response' (or 'answer') string")
    question = obj.get("question", "")
    if not isinstance(question, str):
        raise ValueError("'question' must be a string")
    settled = obj.get("settled", obj.get("question_kind") in labelled.SETTLED_KINDS)
    if not isinstance(settled, bool):
        raise ValueError("'settled' must be true or false")
    labels = obj.get("labels")
    return Row(str(obj.get("id", n)), question, response, settled,
               None if labels is None else labelled.parse_labels(labels))


def load(path: Path) -> list[Row]:
    """The file's rows; a ConfigError naming the file, line and what is wrong with the first bad one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(_row(json.loads(line), n))
        except ValueError as exc:
            raise ConfigError(f"{path}:{n}: {exc}") from None
    if not rows:
        raise ConfigError(f"{path}: no answers (expected one JSON object a line with a 'response')")
    return rows


def measure(rows: Sequence[Row], found: Sequence[frozenset[str]]) -> dict[str, dict[str, Any]]:
    """Per group and category, over the labelled rows: precision, recall, their Wilson intervals, support."""
    pairs = [(r.labels, f) for r, f in zip(rows, found, strict=True) if r.labels is not None]
    return {key: {**c.with_intervals(), "n": len(pairs)}
            for key, c in labelled.counts((t for t, _ in pairs), (f for _, f in pairs)).items()}


def _cell(m: dict[str, Any], key: str) -> str:
    ci = m[key + "_ci"]
    return "–" if m[key] is None else f"{m[key]:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def table(figures: dict[str, dict[str, Any]]) -> str:
    keys = [*labelled.GROUPS, *stance.CATEGORIES]
    n = next(iter(figures.values()))["n"]
    lines = [f"{'':26} {'precision [95 %]':>20} {'recall [95 %]':>20} {'support':>8}   ({n} labelled answers)"]
    for k in keys:
        m = figures[k]
        lines.append(f"{k:26} {_cell(m, 'precision'):>20} {_cell(m, 'recall'):>20} {m['support']:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.evaluate.score_file", description=__doc__.split("\n\n")[0])
    ap.add_argument("answers", type=Path, help="JSONL: response (or answer), and optionally id, question, "
                    "question_kind or settled, labels")
    ap.add_argument("--out", type=Path, help="write each answer's categories here (JSONL) instead of stdout")
    args = ap.parse_args(argv)
    try:
        rows = load(args.answers)
        from pipeline.atomic import atomic_write_text
        from pipeline.evaluate import stance_model

        found = [r.categories for r in stance_model.analyse_many([(r.response, r.settled, r.question)
                                                                  for r in rows])]
    except ConfigError as exc:
        print(f"score_file: {exc}", file=sys.stderr)
        return 2
    lines = [json.dumps({"id": r.id, "categories": sorted(f),
                         "groups": [g for g, cats in labelled.GROUPS.items() if f & set(cats)]}) for r, f in
             zip(rows, found, strict=True)]
    if args.out:
        atomic_write_text(args.out, "\n".join(lines) + "\n")
    else:
        print("\n".join(lines))
    if any(r.labels is not None for r in rows):
        print(f"\nstance analyser {stance_model.ANALYSER_VERSION}\n" + table(measure(rows, found)),
              file=sys.stderr if not args.out else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
