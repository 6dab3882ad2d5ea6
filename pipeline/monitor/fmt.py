"""Short human formats for the panes (ages, durations, numbers, bytes, sparklines)."""

from __future__ import annotations

import math

SPARK = "▁▂▃▄▅▆▇█"


def duration(secs: float | None) -> str:
    if secs is None or not math.isfinite(secs) or secs < 0:
        return "-"
    secs = int(secs)
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60:02d}s"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60:02d}m"
    return f"{secs // 86400}d{secs % 86400 // 3600:02d}h"


def eta(secs: float | None) -> str:
    """An estimate to the precision it has: seconds under 10 minutes, whole minutes under an hour
    ("23m"), then hours and minutes. A runs list of live runs also repaints an ETA cell only when
    that text changes, which seconds on a 40-minute estimate would make every second."""
    if secs is not None and math.isfinite(secs) and 600 <= secs < 3600:
        return f"{int(secs) // 60}m"
    return duration(secs)


def age(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    secs = max(0, int(now - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def gib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**30:.1f}"


def size(value: int | None) -> str:
    if value is None:
        return "n/a"
    for unit, scale in (("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value}B"


def na(value: float | None, fmt: str = "{:.0f}", suffix: str = "") -> str:
    return "n/a" if value is None else fmt.format(value) + suffix


def sparkline(values: list[float], lo: float = 0.0, hi: float | None = None) -> str:
    if not values:
        return ""
    top = hi if hi is not None else max(values)
    span = (top - lo) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, max(0, int((v - lo) / span * (len(SPARK) - 1) + 0.5)))]
                   for v in values)
