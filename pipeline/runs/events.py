"""events.jsonl: append-only metrics and progress, one JSON object a line (schema in docs/events.md).

Writers append whole lines with one write() on an O_APPEND descriptor, so concurrent readers see
either nothing or a complete line (plus, at worst, a partial last line they must wait on).
Readers keep a byte offset and read only new bytes (toolong's habit, not LLaMA-Factory's re-read).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.runs.emitter import Emitter
from pipeline.runs.vocabulary import EventType


def _clean(value: Any) -> Any:
    # Tensors and numpy scalars arrive from trainers; keep plain JSON types.
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return str(value)
    return value


class EventWriter(Emitter):
    """Appends events. Safe to share across threads of one process (one write per line)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _emit(self, type: EventType, step: int | None, fields: dict[str, Any]) -> None:
        event: dict[str, Any] = {"ts": round(time.time(), 3), "type": str(type)}
        if step is not None:
            event["step"] = int(step)
        event.update({k: _clean(v) for k, v in fields.items() if v is not None})
        line = json.dumps(event, allow_nan=True, default=str) + "\n"
        os.write(self._fd, line.encode("utf-8"))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_lines(lines: list[bytes]) -> tuple[list[dict[str, Any]], int]:
    """Well-formed events of ``lines`` (blank lines skipped) and the count of malformed ones."""
    out: list[dict[str, Any]] = []
    bad = 0
    for raw in lines:
        if not raw.strip():
            continue
        obj = parse_line(raw)
        if obj is None:
            bad += 1
        else:
            out.append(obj)
    return out, bad


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """One events line → dict, or None when malformed (callers count, never crash)."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass
class Follower:
    """The one follower of a growing file (events, logs, ``aba tail``): keeps a byte offset, reads only new
    bytes, restarts from the top when the file is truncated or replaced, and hands out complete lines."""

    path: Path
    offset: int = 0
    inode: int | None = None
    resets: int = 0
    size: int = 0  # the file's size at the last read (no new stat needed to know it was behind)
    _partial: bytes = field(default=b"", repr=False)

    def read_lines(self, max_bytes: int | None = None) -> tuple[list[bytes], bool]:
        """The complete lines appended since the last call, and whether the file was reset first."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return [], False
        reset = self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset)
        if reset:  # replaced (new inode) or truncated: start again from the top
            self.offset, self._partial, self.resets = 0, b"", self.resets + 1
        self.inode, self.size = st.st_ino, st.st_size
        if st.st_size <= self.offset:
            return [], reset
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(max_bytes if max_bytes else st.st_size - self.offset)
        self.offset += len(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return [], reset
        self._partial = data[cut + 1 :]
        return data[:cut].split(b"\n"), reset

    def pending(self) -> bool:
        """True when the file holds bytes not read yet."""
        try:
            return os.stat(self.path).st_size > self.offset
        except FileNotFoundError:
            return False


@dataclass
class Tail(Follower):
    """A follower of a JSONL file that parses each line and counts the malformed ones."""

    malformed: int = 0

    def poll(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """Return the complete events appended since the last poll."""
        lines, _reset = self.read_lines(max_bytes)
        out, bad = parse_lines(lines)
        self.malformed += bad
        return out


def iter_events(path: Path, offset: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (offset after the line, event) for every complete, well-formed line from ``offset``."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        pos = offset
        for raw in fh:
            pos += len(raw)
            if not raw.endswith(b"\n"):
                return  # a partial last line waits for its newline
            obj = parse_line(raw)
            if obj is not None:
                yield pos, obj


def read_back(fh: BinaryIO, end: int, n: int, block: int = 1 << 20) -> tuple[bytes, int]:
    """Read ``fh`` backwards from ``end`` in blocks until the bytes hold more than ``n`` newlines (or
    the file starts); returns the bytes and the offset they start at."""
    pos, buf = end, b""
    while pos > 0 and buf.count(b"\n") <= n:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        buf = fh.read(step) + buf
    return buf, pos


def read_last_lines(path: Path, n: int, block: int = 1 << 20) -> list[bytes]:
    """The last ``n`` complete lines of a file, read backwards in blocks (a 1 GB log opens fast)."""
    with open(path, "rb") as fh:
        buf, pos = read_back(fh, fh.seek(0, os.SEEK_END), n, block)
    # The piece after the last newline is either empty or a partial last line: drop it.
    lines = buf.split(b"\n")[:-1]
    if pos > 0:
        lines = lines[1:]  # first piece may be cut mid-line
    return lines[-n:] if n else []
