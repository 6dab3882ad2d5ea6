"""The run folder's data/: items appended at once with content keys, and the outputs other stages read.

    data/items.jsonl     one finished trace a line (with its judgement); a key's last row wins
    data/errors.jsonl    traces whose retries ran out (retried by a resume, so not in items)
    data/expanded.jsonl  prompts the generator wrote (a resume reuses them)
    data/prompts.jsonl   the prompt set this run used
    data/ledger.json     requests, tokens, retries and errors by kind, cost (generator and judge)
    data/sft.jsonl, dpo.jsonl, grpo.jsonl, outputs.json   written (atomically) at the end (datagen.outputs)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.judge.interface import Judgement
from pipeline.redact import redact
from pipeline.runs.layout import DATA, DATAGEN_ITEMS
from pipeline.safeio import append_bytes


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """One write() on an O_APPEND descriptor: a kill leaves at most a torn last line, never a mixed one.
    Credentials masked (an error may echo a key); 0600, never through a symlink."""
    append_bytes(path, (redact(json.dumps(obj, ensure_ascii=False, separators=(",", ":"))) + "\n").encode("utf-8"))


def repair_tail(path: Path) -> int:
    """Cut a torn last line (a kill mid-write); returns the bytes removed. Only this run writes the file."""
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return 0
        pos, chunk = size, 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            block = fh.read(pos - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                fh.truncate(start + nl + 1)
                return size - (start + nl + 1)
            pos = start
        fh.truncate(0)
        return size


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


@dataclass(frozen=True)
class Item:
    """One finished trace of data/items.jsonl, its judgement a :class:`Judgement` (JSON only in the file)."""

    key: str
    prompt_id: str
    category: str
    level: str
    index: int
    messages: list[dict[str, str]]
    text: str | None  # None when the generator gave nothing (blocked, empty): ``finish`` and ``error`` say why
    finish: str
    error: dict[str, str] | None
    judgement: Judgement | None  # None when no judge ran (datagen.judge off, no complete text to judge)
    truncated: bool = False  # the output cap cut the text: kept for the record, never training data
    thoughts: str | None = None  # Gemini's thought summaries (include_thoughts), apart from the answer

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Item:
        """An items.jsonl row (its ``key`` checked by the caller); odd fields read as absent, never raise."""
        msgs = row.get("messages")
        error = row.get("error")
        index = row.get("index")
        return cls(str(row["key"]), str(row.get("prompt_id", "?")), str(row.get("category", "?")),
                   str(row.get("level", "?")), index if isinstance(index, int) else 0,
                   [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else [],
                   row["text"] if isinstance(row.get("text"), str) else None, str(row.get("finish", "?")),
                   {str(k): str(v) for k, v in error.items()} if isinstance(error, dict) else None,
                   Judgement.from_json(row.get("judge")), row.get("truncated") is True,
                   row["thoughts"] if isinstance(row.get("thoughts"), str) else None)

    @property
    def complete(self) -> bool:
        """Text the model finished: the only kind that is judged and becomes training data."""
        return bool(self.text and self.text.strip()) and not self.truncated

    @property
    def outcome(self) -> str:
        """complete, truncated, or why there is no text (blocked, empty, empty_thinking, client_error …)."""
        if self.complete:
            return "complete"
        if self.truncated and self.text:
            return "truncated"
        return (self.error or {}).get("kind") or self.finish or "empty"

    @property
    def mean(self) -> float | None:
        """The judgement's mean over the dimensions it scored; None when unjudged or all missing."""
        return self.judgement.mean() if self.judgement is not None else None


def read_items(run_dir: Path) -> list[Item]:
    """Finished items, one per key. A resume appends a newer row for a key it redid (an empty trace
    generated again, a missing judgement asked again): the last row of a key wins, in the place of its
    first."""
    out: dict[str, Item] = {}
    for row in iter_rows(Path(run_dir) / DATA / DATAGEN_ITEMS):
        key = row.get("key")
        if isinstance(key, str):
            out[key] = Item.from_row(row)
    return list(out.values())
