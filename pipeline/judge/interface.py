"""What every judge backend promises, as plain types (no SDK import: the UI and reports read these).

Agreed between data generation, GRPO's reward, evaluation, abliteration's second opinion and the
merge comparison. A judgement that failed (an API error, a blocked answer, unparsable or
out-of-range JSON) is *missing*, with its reason: never zeros. Means exclude missing values and
always report how many were missing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pipeline.judge.dimensions import DIMENSIONS

Verdict = Literal["a", "b", "tie"]


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge: the conversation so far (chat messages) and the answer."""

    messages: tuple[Mapping[str, str], ...]
    answer: str

    def key(self, judge_id: str) -> str:
        """A stable content key (sha256, never Python's salted hash()): same item + same judge → same key."""
        blob = json.dumps({"m": [dict(m) for m in self.messages], "a": self.answer, "j": judge_id},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Judgement:
    """One judge's scores of one answer, in 0..1 for the dimensions it judged; a dimension left out is
    missing. It stays this object from the judge to its readers (datagen items, the items browser, eval,
    GRPO's reward); JSON only at a file (:meth:`to_json`, :meth:`from_json`)."""

    scores: Mapping[str, float]
    missing_reason: str | None = None  # set when the whole judgement failed (then scores is empty)
    cached: bool = False
    usage: Mapping[str, int] = field(default_factory=dict)  # input/output/thinking tokens of the call
    judge: str = ""  # the id of the judge that made it (backend, model, prompt version)

    @property
    def ok(self) -> bool:
        return self.missing_reason is None and bool(self.scores)

    def missing_dimensions(self) -> tuple[str, ...]:
        return tuple(d for d in DIMENSIONS if d not in self.scores)

    def mean(self) -> float | None:
        """The mean over the dimensions scored; None when none was."""
        vals = [self.scores[d] for d in DIMENSIONS if d in self.scores]
        return sum(vals) / len(vals) if vals else None

    def to_json(self) -> dict[str, Any]:
        """The stored form (a datagen item's ``judge``): the judge's id, scores, why missing, cached."""
        return {"judge": self.judge, "scores": dict(self.scores), "missing_reason": self.missing_reason,
                "cached": self.cached}

    @classmethod
    def from_json(cls, obj: object) -> Judgement | None:
        """The stored form back (None: no judgement was made). A malformed one is a missing judgement
        saying so, and a score that is not a number in 0..1 for a known dimension is left out (missing)."""
        if obj is None:
            return None
        if not isinstance(obj, dict) or not isinstance(obj.get("scores", {}), dict):
            return cls({}, missing_reason=f"unreadable stored judgement: {str(obj)[:80]!r}")
        raw = obj.get("scores") or {}
        scores = {d: float(v) for d, v in raw.items() if d in DIMENSIONS and isinstance(v, int | float)
                  and not isinstance(v, bool) and 0.0 <= v <= 1.0}
        reason = obj.get("missing_reason")
        return cls(scores, str(reason) if reason is not None else None, bool(obj.get("cached")),
                   judge=str(obj.get("judge") or ""))


@dataclass(frozen=True)
class PairVerdict:
    """Which of two answers is better; ``verdict`` None means the comparison failed (reason says why)."""

    verdict: Verdict | None
    reason: str = ""
    cached: bool = False


@runtime_checkable
class Judge(Protocol):
    """A judge backend. ``id`` names backend + model + prompt version (it is part of cache keys)."""

    id: str

    def score(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        """One Judgement per item, in order; failures are missing, never raised for a single item."""
        ...

    def compare(self, messages: Sequence[Mapping[str, str]], a: str, b: str) -> PairVerdict:
        """Pairwise preference between two answers to the same conversation (order as given)."""
        ...


def dimension_means(judgements: Sequence[Judgement]) -> dict[str, dict[str, float | int | None]]:
    """Per dimension: mean over the judgements that scored it, n scored and n missing."""
    out: dict[str, dict[str, float | int | None]] = {}
    for d in DIMENSIONS:
        vals = [j.scores[d] for j in judgements if d in j.scores]
        out[d] = {"mean": sum(vals) / len(vals) if vals else None, "n": len(vals),
                  "missing": len(judgements) - len(vals)}
    return out
