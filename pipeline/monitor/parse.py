"""Parsing many events lines at once: the same events as ``pipeline.runs.events.parse_lines``, faster.

Opening a big run parses its last ``tail_lines`` lines before the first frame and its history after
it; ``json.loads`` spends more time on its per-call checks (encoding detection, whitespace, the
decode wrapper) than in the C scanner for a 300-byte line. A block whose every line is one object is
decoded as one JSON array in a single call; otherwise each line goes straight to the scanner
``json.loads`` itself uses, and any line it does not take whole as an object (other encodings, a BOM,
whitespace around it, a non-object, bad JSON) is handed to ``parse_line``, which decides: the result is
the same as ``parse_lines``'s, line for line (tests/pipeline/monitor/test_history.py compares them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, cast

from pipeline.runs.events import MAX_LINE_BYTES, parse_line

# json.loads's own decoder (default hooks: plain dicts, NaN/Infinity accepted as written by the events writer).
_scan = cast(Callable[[str, int], tuple[Any, int]], make_scanner(json.JSONDecoder()))  # type: ignore[arg-type]


def parse_events(lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
    """Well-formed events of ``lines`` (blank lines skipped) and the count of malformed ones."""
    whole = _parse_block(lines)
    if whole is not None:
        return whole, 0
    return _parse_each(lines)


def _parse_block(lines: list[bytes]) -> list[dict[str, Any]] | None:
    """Every line an object: the block as one JSON array, in one call of the C decoder (a tenth faster
    than a scanner call a line). None when any line is not exactly one object (blank, too long, bad
    JSON, two values on a line, another encoding): then each line is parsed on its own."""
    if not lines or any(len(raw) > MAX_LINE_BYTES for raw in lines):
        return None
    try:
        objs = json.loads(b"[" + b",".join(lines) + b"]")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if len(objs) != len(lines) or any(type(o) is not dict for o in objs):
        return None
    return cast(list[dict[str, Any]], objs)


def _parse_each(lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    bad = 0
    scan, append = _scan, out.append
    for raw in lines:
        obj: Any = None
        if len(raw) <= MAX_LINE_BYTES:
            try:
                text = raw.decode()
                obj, end = scan(text, 0)
                if end != len(text) or type(obj) is not dict:
                    obj = None
            except (StopIteration, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                obj = None
        if obj is None:  # let the reference parser decide (and skip blank lines as it does)
            if not raw.strip():
                continue
            obj = parse_line(raw)
            if obj is None:
                bad += 1
                continue
        append(obj)
    return out, bad
