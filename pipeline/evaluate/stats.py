"""Proportions with Wilson intervals and the difference of two proportions (Newcombe's method)."""

from __future__ import annotations

import math

Z95 = 1.959964


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n (well behaved at 0 %, 100 % and small n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(k: int, n: int) -> dict[str, float | int | None]:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "p": k / n if n else None, "lo": lo, "hi": hi}


def diff(after: dict, before: dict) -> dict[str, float | bool | None]:
    """after − before with Newcombe's hybrid score interval; ``clear`` when the interval excludes 0."""
    if not after.get("n") or not before.get("n"):
        return {"d": None, "lo": None, "hi": None, "clear": False}
    p1, p0 = after["p"], before["p"]
    l1, u1, l0, u0 = after["lo"], after["hi"], before["lo"], before["hi"]
    d = p1 - p0
    lo = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return {"d": d, "lo": lo, "hi": hi, "clear": lo > 0 or hi < 0}


def pct(p: float | None) -> str:
    return "–" if p is None else f"{100 * p:.0f} %"
