"""How far a judge can be trusted, as numbers: calibration accuracy, order-swap inconsistency, repeat agreement.

Any judge behind the agreed interface (pipeline.judge.interface.Judge: ``score`` and ``compare``) is
measured the same way, so a local GGUF, Gemini, an OpenAI-compatible server, the rubric heuristics and a
pairwise-only LLM judge are comparable:

- **calibration accuracy**: ``labelled/judge-calibration.jsonl`` ships pairs of answers to one prompt
  that differ clearly on one named dimension of the 9. *Scores*: the better answer must score higher on
  that dimension (a tie is wrong: the difference is meant to be obvious). *Pairwise*: the judge, asked in
  both orders, must pick the better answer both times.
- **order-swap inconsistency**: the share of pairings (calibration pairs, and the tournament's when there
  is one) whose verdict changed when the two answers swapped places.
- **repeat agreement**: a second, uncached judge of the same configuration scores and compares a sample
  again; agreement is the share of dimension scores within 0.1 and of identical verdicts.

A judge is flagged ``judge: no signal`` when a calibration accuracy it was measured on (scores, pairwise)
is below MIN_ACCURACY or its 95 % interval reaches down to chance (0.5), or when more than
MAX_INCONSISTENCY of its pairings flip with the order. Reports then show its numbers but let them decide
nothing; GRPO refuses to train on it unless
``grpo.allow_weak_judge`` is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.evaluate.stats import proportion
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.interface import Judge, JudgeItem, Judgement, Verdict

CALIBRATION = Path(__file__).resolve().parent / "labelled" / "judge-calibration.jsonl"
MIN_ACCURACY = 0.7
CHANCE = 0.5
MAX_INCONSISTENCY = 0.5
SCORE_TOLERANCE = 0.1  # two scores of one answer "agree" within this
NO_SIGNAL = "judge: no signal"


@dataclass(frozen=True)
class CalibrationPair:
    id: str
    dimension: str
    prompt: str
    better: str
    worse: str

    @property
    def messages(self) -> tuple[Mapping[str, str], ...]:
        return ({"role": "user", "content": self.prompt},)


def load_calibration(path: Path = CALIBRATION) -> list[CalibrationPair]:
    """The calibration pairs; a ConfigError naming the file, line and key of the first bad one."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            pair = CalibrationPair(*(str(obj[k]) for k in ("id", "dimension", "prompt", "better", "worse")))
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{path}:{n}: expected JSON with id, dimension, prompt, better, worse ({exc})") from None
        if pair.dimension not in DIMENSIONS:
            raise ConfigError(f"{path}:{n}: dimension={pair.dimension!r}: expected one of {', '.join(DIMENSIONS)}")
        out.append(pair)
    return out


def subset(pairs: Sequence[CalibrationPair], n: int) -> list[CalibrationPair]:
    """``n`` pairs spread over the dimensions (round robin), so a small sample still covers all nine."""
    by_dim: dict[str, list[CalibrationPair]] = {}
    for p in pairs:
        by_dim.setdefault(p.dimension, []).append(p)
    out: list[CalibrationPair] = []
    depth = 0
    while len(out) < min(n, len(pairs)):
        for d in DIMENSIONS:
            if depth < len(by_dim.get(d, [])) and len(out) < n:
                out.append(by_dim[d][depth])
        depth += 1
    return out


def _share(k: int, n: int, note: str = "") -> dict[str, Any]:
    return {**proportion(k, n), "note": note}


def _scored(judge: Judge, items: Sequence[JudgeItem]) -> list[Judgement]:
    js = judge.score(items)
    if len(js) != len(items):
        raise ConfigError(f"the judge returned {len(js)} judgements for {len(items)} answers")
    return js


def _score_accuracy(judge: Judge, pairs: Sequence[CalibrationPair]) -> tuple[dict[str, Any], list[Judgement]]:
    items = [JudgeItem(p.messages, a) for p in pairs for a in (p.better, p.worse)]
    js = _scored(judge, items)
    right = scored = 0
    for i, p in enumerate(pairs):
        good, bad = js[2 * i].scores.get(p.dimension), js[2 * i + 1].scores.get(p.dimension)
        if good is None or bad is None:
            continue
        scored += 1
        right += good > bad
    missing = len(pairs) - scored
    return _share(right, scored, f"{missing} pairs not scored" if missing else ""), js


Verdicts = list[tuple[Verdict | None, Verdict | None]]  # (better as A, better as B) per pair


def _compare_accuracy(judge: Judge, pairs: Sequence[CalibrationPair]) -> tuple[dict[str, Any], dict[str, int],
                                                                                Verdicts]:
    right = judged = flips = 0
    verdicts: Verdicts = []
    for p in pairs:
        first = judge.compare(p.messages, p.better, p.worse).verdict  # better is A
        second = judge.compare(p.messages, p.worse, p.better).verdict  # better is B
        verdicts.append((first, second))
        if first is None or second is None:
            continue
        judged += 1
        right += first == "a" and second == "b"
        flips += (first, second) not in (("a", "b"), ("b", "a"), ("tie", "tie"))
    missing = len(pairs) - judged
    return _share(right, judged, f"{missing} pairs not judged" if missing else ""), {"k": flips, "n": judged}, verdicts


def _repeat(judge: Judge, pairs: Sequence[CalibrationPair], first_scores: Sequence[Judgement],
            first_verdicts: Verdicts) -> dict[str, Any]:
    """Agreement of a second, uncached judge with the first on the same items."""
    again = _scored(judge, [JudgeItem(p.messages, p.better) for p in pairs])
    agree = total = 0
    for i, j in enumerate(again):
        before = first_scores[2 * i].scores
        for d in DIMENSIONS:
            if d in before and d in j.scores:
                total += 1
                agree += abs(before[d] - j.scores[d]) <= SCORE_TOLERANCE
    for p, (first, _second) in zip(pairs, first_verdicts, strict=True):
        v = judge.compare(p.messages, p.better, p.worse).verdict
        if v is not None and first is not None:
            total += 1
            agree += v == first
    return _share(agree, total, f"{len(pairs)} answers and pairs judged twice")


def measure(judge: Judge, pairs: Sequence[CalibrationPair] | None = None, fresh: Judge | None = None,
            repeats: int = 6) -> dict[str, Any]:
    """Every reliability figure of ``judge`` on the calibration pairs, and its flag. ``fresh``: an uncached
    judge of the same configuration for repeat agreement (skipped without one)."""
    pairs = list(pairs if pairs is not None else load_calibration())
    score_acc, first_scores = _score_accuracy(judge, pairs)
    compare_acc, swaps, verdicts = _compare_accuracy(judge, pairs)
    k, n = swaps["k"], swaps["n"]
    out: dict[str, Any] = {"judge": judge.id, "pairs": len(pairs), "calibration_score": score_acc,
                           "calibration_compare": compare_acc,
                           "order_swap": _share(k, n, "pairings whose verdict changed with the order"),
                           "repeat": None}
    if fresh is not None and repeats > 0:
        out["repeat"] = _repeat(fresh, pairs[:repeats], first_scores[: 2 * repeats], verdicts[:repeats])
    out.update(verdict(out))
    return out


def verdict(rel: Mapping[str, Any]) -> dict[str, Any]:
    """{"signal": bool, "flag": NO_SIGNAL or None, "reasons": [...]} from the measured figures: every
    calibration accuracy that was measured (scores, pairwise) must pass, and the order must rarely matter."""
    reasons = []
    measured = [(what, rel[key]) for key, what in (("calibration_score", "scores"),
                                                   ("calibration_compare", "pairwise verdicts"))
                if (rel.get(key) or {}).get("n")]
    if not measured:
        reasons.append("no calibration pair was judged")
    for what, acc in measured:
        if acc["p"] < MIN_ACCURACY or acc["lo"] <= CHANCE:
            reasons.append(f"calibration accuracy of its {what} {100 * acc['p']:.0f} % "
                           f"[{100 * acc['lo']:.0f}–{100 * acc['hi']:.0f}] (needs ≥ {100 * MIN_ACCURACY:.0f} % "
                           "with the interval above chance)")
    swap = rel.get("order_swap") or {}
    if swap.get("n") and swap["p"] > MAX_INCONSISTENCY:
        reasons.append(f"{100 * swap['p']:.0f} % of its pairwise verdicts flip when the answers swap places")
    return {"signal": not reasons, "flag": NO_SIGNAL if reasons else None, "reasons": reasons}


def with_tournament(rel: Mapping[str, Any], swaps: Mapping[str, int]) -> dict[str, Any]:
    """``rel`` with a tournament's order-swap count ({k, n}) added to the calibration pairs', flag re-decided."""
    base = rel.get("order_swap") or {"k": 0, "n": 0}
    k, n = int(base.get("k", 0)) + int(swaps.get("k", 0)), int(base.get("n", 0)) + int(swaps.get("n", 0))
    out = {**rel, "order_swap": _share(k, n, "pairings whose verdict changed with the order, calibration and "
                                             "tournament")}
    out.update(verdict(out))
    return out


def cached_measure(judge: Judge, cache_dir: Path, make_fresh: Callable[[], Judge] | None = None,
                   pairs: Sequence[CalibrationPair] | None = None) -> dict[str, Any]:
    """:func:`measure`, kept per judge id (and calibration set) in ``cache_dir``: a judge is measured
    once, not at every launch. ``make_fresh`` builds the uncached twin for repeat agreement."""
    import hashlib

    from pipeline.atomic import atomic_write_json, read_json_object

    pairs = list(pairs if pairs is not None else load_calibration())
    blob = json.dumps([judge.id, [p.id for p in pairs]]).encode()
    path = cache_dir / f"reliability-{hashlib.sha256(blob).hexdigest()[:16]}.json"
    hit = read_json_object(path)
    if hit is not None and hit.get("judge") == judge.id:
        return hit
    fresh = make_fresh() if make_fresh is not None else None
    try:
        rel = measure(judge, pairs, fresh)
    finally:
        if fresh is not None and fresh is not judge and hasattr(fresh, "close"):
            fresh.close()
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, rel)
    return rel
