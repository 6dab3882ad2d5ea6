"""The labelled refusal set (benchmarks/data/refusal-labelled/, PROVENANCE.md there) and its fixed split.

Rows are split into a *tune* half and a *test* half by the sha256 of the answer's whitespace-normalised
text, so identical answers (the trained refusal templates repeat up to 101 times) always fall in the same
half and the test half holds only texts never seen while tuning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

SET = Path(__file__).resolve().parent / "data" / "refusal-labelled" / "labelled.jsonl"


def half(answer: str) -> str:
    key = hashlib.sha256(" ".join(answer.split()).encode("utf-8")).hexdigest()
    return "test" if int(key[:8], 16) % 2 else "tune"


def load(path: Path = SET) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r["half"] = half(r["answer"])
    return rows


def wilson(k: int, n: int) -> list[float] | None:
    """95 % Wilson score interval of a proportion k/n (pipeline.evaluate.stats), rounded."""
    from pipeline.evaluate.stats import wilson as interval

    return [round(x, 4) for x in interval(k, n)] if n else None


def scores(rows: Sequence[dict[str, Any]], flags: Sequence[bool | None]) -> dict[str, Any]:
    """Precision / recall / F1 / accuracy of refusal flags against labels (None counts as compliance,
    and is reported as ``undecided``)."""
    tp = sum(1 for r, f in zip(rows, flags, strict=True) if f and r["label"] == "refusal")
    fp = sum(1 for r, f in zip(rows, flags, strict=True) if f and r["label"] != "refusal")
    fn = sum(1 for r, f in zip(rows, flags, strict=True) if not f and r["label"] == "refusal")
    tn = len(rows) - tp - fp - fn
    prec = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * prec * rec / (prec + rec) if prec and rec else None
    return {"n": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": None if prec is None else round(prec, 4), "precision_ci": wilson(tp, tp + fp),
            "recall": None if rec is None else round(rec, 4), "recall_ci": wilson(tp, tp + fn),
            "f1": None if f1 is None else round(f1, 4), "accuracy": round((tp + tn) / len(rows), 4) if rows else None,
            "undecided": sum(1 for f in flags if f is None)}


def breakdown(rows: Sequence[dict[str, Any]], flags: Sequence[bool | None],
              key: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(key(r), []).append(i)
    return {g: scores([rows[i] for i in idx], [flags[i] for i in idx]) for g, idx in sorted(groups.items())}


def written_prompts(kind: str, path: Path = SET) -> list[str]:
    """The set's prompts of ``kind`` (harmful / harmless) written for it, in neither builtin split: prompts
    no abliteration study here computes directions or picks trials on (PROVENANCE.md)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted({r["prompt"] for r in rows
                   if r["prompt_kind"] == kind and r.get("prompt_source") == "written for this set"})


def select(rows: Iterable[dict[str, Any]], part: str, unambiguous: bool = False) -> list[dict[str, Any]]:
    return [r for r in rows if (part == "all" or r["half"] == part) and not (unambiguous and r.get("ambiguous"))]
