"""A content-keyed judgement cache: append-only JSONL, shared by runs, safe across processes.

Only successful judgements are cached (a missing one is retried next time). Keys are sha256 of the
item and the judge id (JudgeItem.key), so the same answer to the same conversation is never paid
for twice, in this run or a resumed one.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pipeline.redact import redact
from pipeline.safeio import append_bytes


class JudgeCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill mid-write: that judgement is simply redone
                if isinstance(rec, dict) and isinstance(rec.get("k"), str) and isinstance(rec.get("v"), dict):
                    self._data[rec["k"]] = rec["v"]

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                self.misses += 1
            else:
                self.hits += 1
            return hit

    def put(self, key: str, value: dict[str, Any]) -> None:
        line = redact(json.dumps({"k": key, "v": value}, ensure_ascii=False, separators=(",", ":"))) + "\n"
        with self._lock:
            self._data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write() of one line with O_APPEND: concurrent processes never interleave lines.
            append_bytes(self.path, line.encode("utf-8"))  # 0600, never through a symlink

    def __len__(self) -> int:
        return len(self._data)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
