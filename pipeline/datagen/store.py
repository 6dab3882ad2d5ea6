"""The run folder's data/: items appended at once with content keys, and the outputs other stages read.

    data/items.jsonl     one finished trace a line (with its judgement), unique content keys
    data/errors.jsonl    traces whose retries ran out (retried by a resume, so not in items)
    data/expanded.jsonl  prompts the generator wrote (a resume reuses them)
    data/prompts.jsonl   the prompt set this run used
    data/ledger.json     requests, tokens, retries and errors by kind, cost (generator and judge)
    data/sft.jsonl, dpo.jsonl, grpo.jsonl, outputs.json   written (atomically) at the end
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.judge.interface import Judgement
from pipeline.runs.layout import DATA, DATAGEN_ITEMS, DATAGEN_MANIFEST, DATAGEN_OUTPUTS


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """One write() on an O_APPEND descriptor: a kill leaves at most a torn last line, never a mixed one."""
    data = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


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
    judgement: Judgement | None  # None when no judge ran (datagen.judge off, or no text to judge)

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
                   Judgement.from_json(row.get("judge")))

    @property
    def mean(self) -> float | None:
        """The judgement's mean over the dimensions it scored; None when unjudged or all missing."""
        return self.judgement.mean() if self.judgement is not None else None


def read_items(run_dir: Path) -> list[Item]:
    """Finished items, first row per key (a key is never written twice; this guards anyway)."""
    seen: set[str] = set()
    out = []
    for row in iter_rows(Path(run_dir) / DATA / DATAGEN_ITEMS):
        key = row.get("key")
        if isinstance(key, str) and key not in seen:
            seen.add(key)
            out.append(Item.from_row(row))
    return out


def build_outputs(run_dir: Path, prompts: list[dict[str, Any]], margin: float) -> dict[str, Any]:
    """SFT (CHOSEN traces), DPO (CHOSEN vs REJECTED, then judge-ranked pairs ≥ margin), GRPO prompts."""
    data = Path(run_dir) / DATA
    items = [r for r in read_items(run_dir) if r.text]
    by_prompt: dict[str, list[Item]] = {}
    for r in items:
        by_prompt.setdefault(r.prompt_id, []).append(r)
    sft: list[dict[str, Any]] = []
    dpo: list[dict[str, Any]] = []
    for p in prompts:
        rows = sorted(by_prompt.get(p["id"], []), key=lambda r: r.index)
        if not rows:
            continue
        base = {"prompt": rows[0].messages, "category": p["category"], "id": p["id"]}
        chosen = [r for r in rows if r.level == "chosen"]
        rejected = [r for r in rows if r.level == "rejected"]
        sft.extend({**base, "completion": [{"role": "assistant", "content": r.text}], "key": r.key}
                   for r in chosen)
        pairs = {(c.text or "", r.text or "") for c, r in zip(chosen, rejected, strict=False) if c.text != r.text}
        dpo.extend({**base, "chosen": c, "rejected": r, "source": "level"} for c, r in sorted(pairs))
        scored = sorted((r for r in rows if r.mean is not None), key=lambda r: -(r.mean or 0.0))
        if len(scored) >= 2:
            best, worst = scored[0], scored[-1]
            gap = (best.mean or 0.0) - (worst.mean or 0.0)
            if gap >= margin and best.text != worst.text and (best.text, worst.text) not in pairs:
                dpo.append({**base, "chosen": best.text, "rejected": worst.text, "source": "judge",
                            "margin": round(gap, 4)})
    grpo = [{"prompt": p["messages"], "category": p["category"], "id": p["id"]} for p in prompts]
    counts = {}
    for name, lines in (("sft", sft), ("dpo", dpo), ("grpo", grpo)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
        atomic_write_text(data / DATAGEN_OUTPUTS[name], text)
        counts[name] = len(lines)
    levels: dict[str, int] = {}
    for r in items:
        levels[r.level] = levels.get(r.level, 0) + 1
    manifest = {"files": {k: f"{DATA}/{v}" for k, v in DATAGEN_OUTPUTS.items()}, "rows": counts,
                "items": len(items), "levels": levels, "judged": sum(1 for r in items if r.mean is not None)}
    atomic_write_json(data / DATAGEN_MANIFEST, manifest)
    return manifest

