"""An operator's note and tags on a run (W&B's run notes and tags): ``notes.json`` in the run folder,
written whole with an atomic rename, read by the UI's run details and comparison and by `aba status`.
A missing or unreadable file is an empty note; nothing else in the run depends on it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.atomic import atomic_write_json, read_json_object
from pipeline.errors import ConfigError
from pipeline.runs.layout import NOTES_FILE

TAG = re.compile(r"[\w.+-]{1,40}")


@dataclass
class RunNotes:
    note: str = ""
    tags: list[str] = field(default_factory=list)
    updated_at: float | None = None


def parse_tags(text: str) -> list[str]:
    """``"baseline, lr-sweep  best"`` → ``["baseline", "lr-sweep", "best"]`` (order kept, no repeats);
    ConfigError naming a tag that is not a word (letters, digits, ``_ . + -``, up to 40)."""
    out: list[str] = []
    for tag in re.split(r"[,\s]+", text.strip()):
        if not tag:
            continue
        tag = tag.lstrip("#")
        if not TAG.fullmatch(tag):
            raise ConfigError(f"tag {tag!r}: expected a word of letters, digits, _ . + - (up to 40 characters)")
        if tag not in out:
            out.append(tag)
    return out


def read_notes(run_dir: Path) -> RunNotes:
    data = read_json_object(Path(run_dir) / NOTES_FILE)  # bounded, never blocks on a FIFO: a folder is input
    if data is None:
        return RunNotes()
    tags = [t for t in data.get("tags", []) if isinstance(t, str)] if isinstance(data.get("tags"), list) else []
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    updated = data.get("updated_at")
    return RunNotes(note or "", tags, float(updated) if isinstance(updated, int | float) else None)


def write_notes(run_dir: Path, note: str, tags: list[str]) -> RunNotes:
    notes = RunNotes(note.strip(), list(tags), time.time())
    atomic_write_json(Path(run_dir) / NOTES_FILE, {"note": notes.note, "tags": notes.tags,
                                                   "updated_at": notes.updated_at})
    return notes
