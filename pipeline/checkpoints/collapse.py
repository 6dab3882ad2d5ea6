"""Collapse scan: flag degenerate model output (empty answers, "!!!!" runs, loops, word soup).

Seed 003's DPO run collapsed into "!!!!" for thousands of steps before anyone read an answer; this
scan reads answers for the operator. It is pure text analysis (no ML library) so the checkpoint
browser, the probe worker, the export verifier and the chat battery share one definition of
"collapsed": two scripts with different pattern sets made before/after numbers incomparable.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# A run of one repeated character this long is degenerate ("!!!!!!!!", "aaaaaaaa").
MIN_CHAR_RUN = 8
# Markdown rules and underlines ("-----", "=====") are legitimate when they fill a line.
_DECORATION = set("-=_*#~.")
_CHAR_RUN = re.compile(r"(\S)\1{" + str(MIN_CHAR_RUN - 1) + ",}")
_WORD = re.compile(r"\w+|[^\w\s]+", re.UNICODE)


@dataclass(frozen=True)
class Finding:
    code: str  # empty | repeated_char | dominant_char | looping | low_diversity | garbled
    message: str


@dataclass
class CollapseReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def collapsed(self) -> bool:
        return bool(self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def summary(self) -> str:
        return "ok" if not self.findings else "; ".join(f.message for f in self.findings)

    def to_dict(self) -> dict[str, object]:
        return {"collapsed": self.collapsed, "findings": [f.__dict__ for f in self.findings]}


def _char_runs(text: str) -> list[str]:
    runs = []
    for m in _CHAR_RUN.finditer(text):
        ch = m.group(1)
        if ch.isdigit() and len(m.group(0)) < 3 * MIN_CHAR_RUN:
            continue  # 1000000000 is a number, not a stutter
        if ch in _DECORATION:
            line_start = text.rfind("\n", 0, m.start()) + 1
            line_end = text.find("\n", m.end())
            line = text[line_start: len(text) if line_end < 0 else line_end].strip()
            if set(line) <= {ch, " "}:
                continue
        runs.append(m.group(0))
    return runs


def scan(text: str | None) -> CollapseReport:
    """All the ways ``text`` looks degenerate; an empty report means it reads like an answer."""
    report = CollapseReport()
    add = report.findings.append
    if text is None or not text.strip():
        add(Finding("empty", "empty answer"))
        return report

    runs = _char_runs(text)
    if runs:
        longest = max(runs, key=len)
        add(Finding("repeated_char", f"{len(longest)}× {longest[0]!r} in a row"))

    chars = [c for c in text if not c.isspace()]
    if len(chars) >= 12:
        ch, n = Counter(chars).most_common(1)[0]
        if n / len(chars) >= 0.4 and not ch.isalnum():
            add(Finding("dominant_char", f"{ch!r} is {n / len(chars):.0%} of the characters"))

    bad = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\n\r\t"))
    if bad and bad / len(text) >= 0.05:
        add(Finding("garbled", f"{bad} replacement or control characters"))

    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) >= 24:
        grams = [tuple(words[i: i + 4]) for i in range(len(words) - 3)]
        distinct = len(set(grams)) / len(grams)
        if distinct < 0.35:
            add(Finding("looping", f"the same phrases repeat ({distinct:.0%} distinct 4-word spans)"))
        elif len(set(words)) / len(words) < 0.15:
            add(Finding("low_diversity", f"only {len(set(words))} distinct words of {len(words)}"))
    return report
