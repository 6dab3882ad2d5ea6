"""Parsing many events lines at once: the same events as ``pipeline.runs.events.parse_lines``, faster.

Opening a big run parses its last ``tail_lines`` lines before the first frame and its history after
it; ``json.loads`` spends more time on its per-call checks (encoding detection, whitespace, the
decode wrapper) than in the C scanner for a 300-byte line. Each line goes straight to the scanner
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
