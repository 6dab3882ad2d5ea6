"""events.jsonl: append-only metrics and progress, one JSON object a line (schema in docs/events.md).

Writers append whole lines with one write() on an O_APPEND descriptor, so concurrent readers see
either nothing or a complete line (plus, at worst, a partial last line they must wait on).
Readers keep a byte offset and read only new bytes (toolong's habit, not LLaMA-Factory's re-read).
Every reader is bounded, since a run folder is input: a line over MAX_LINE_BYTES is skipped and counted
(never held whole), a line nested too deeply for the parser is malformed, reads go in blocks (no
quadratic re-scan of one huge line), and a FIFO or device in a file's place is refused, never waited on.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.redact import redact
from pipeline.runs.emitter import Emitter
from pipeline.runs.vocabulary import EventType
from pipeline.safeio import UnsafePath, open_append, open_regular

MAX_LINE_BYTES = 4 << 20  # an event is a few hundred bytes; a longer line is skipped and counted
READ_BLOCK = 1 << 20


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
        self._fd = open_append(self.path, 0o644)  # never through a symlink; readable by teammates' `aba ps`

    def _emit(self, type: EventType, step: int | None, fields: dict[str, Any]) -> None:
        event: dict[str, Any] = {"ts": round(time.time(), 3), "type": str(type)}
        if step is not None:
            event["step"] = int(step)
        event.update({k: _clean(v) for k, v in fields.items() if v is not None})
        line = redact(json.dumps(event, allow_nan=True, default=str)) + "\n"
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
    """One events line → dict, or None when malformed, too long or nested too deeply (callers count,
    never crash)."""
    if len(raw) > MAX_LINE_BYTES:
        return None
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


@dataclass
class Follower:
    """The one follower of a growing file (events, logs, ``aba tail``): keeps a byte offset, reads only new
    bytes in blocks, restarts from the top when the file is truncated or replaced, and hands out complete
    lines; a line longer than ``max_line`` is dropped as it streams past (``long_lines`` counts them)."""

    path: Path
    offset: int = 0
    inode: int | None = None
    resets: int = 0
    size: int = 0  # the file's size at the last read (no new stat needed to know it was behind)
    max_line: int = MAX_LINE_BYTES
    long_lines: int = 0
    _partial: bytearray = field(default_factory=bytearray, repr=False)
    _skipping: bool = field(default=False, repr=False)  # inside an over-long line: drop up to its newline

    def read_lines(self, max_bytes: int | None = None) -> tuple[list[bytes], bool]:
        """The complete lines appended since the last call, and whether the file was reset first. Raises
        OSError (UnsafePath) when the path is not a regular file."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return [], False
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(errno.EINVAL, "a FIFO, device or folder, not a regular file", str(self.path))
        reset = self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset)
        if reset:  # replaced (new inode) or truncated: start again from the top
            self.offset, self.resets = 0, self.resets + 1
            self._partial, self._skipping = bytearray(), False
        self.inode, self.size = st.st_ino, st.st_size
        if st.st_size <= self.offset:
            return [], reset
        want = st.st_size - self.offset
        if max_bytes:
            want = min(want, max_bytes)
        lines: list[bytes] = []
        with open_regular(self.path) as fh:
            fh.seek(self.offset)
            while want > 0:
                chunk = fh.read(min(want, READ_BLOCK))
                if not chunk:
                    break
                want -= len(chunk)
                self.offset += len(chunk)
                self._feed(chunk, lines)
        return lines, reset

    def _feed(self, chunk: bytes, lines: list[bytes]) -> None:
        start = 0
        if self._skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                return
            self._skipping, start = False, nl + 1
        cut = chunk.rfind(b"\n")
        if cut < start:  # no newline in the rest: the line goes on
            self._partial += chunk[start:]
        else:
            first = bytes(self._partial) + chunk[start:cut] if self._partial else chunk[start:cut]
            for line in first.split(b"\n"):
                if len(line) > self.max_line:
                    self.long_lines += 1
                else:
                    lines.append(line)
            self._partial = bytearray(chunk[cut + 1 :])
        if len(self._partial) > self.max_line:
            self.long_lines += 1
            self._partial, self._skipping = bytearray(), True

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
        """Return the complete events appended since the last poll (over-long lines count as malformed)."""
        long_before = self.long_lines
        lines, _reset = self.read_lines(max_bytes)
        out, bad = parse_lines(lines)
        self.malformed += bad + self.long_lines - long_before
        return out


def iter_lines(fh: BinaryIO, offset: int, max_line: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """(offset after the line, the line) for every complete line from ``offset``; an over-long line is
    read past in blocks and given as None. A partial last line ends the iteration."""
    fh.seek(offset)
    pos = offset
    while True:
        raw = fh.readline(max_line + 1)
        if not raw:
            return
        pos += len(raw)
        if not raw.endswith(b"\n"):
            if len(raw) <= max_line:
                return  # a partial last line waits for its newline
            while True:  # too long: skip to its end without holding it
                more = fh.readline(READ_BLOCK)
                pos += len(more)
                if not more:
                    return
                if more.endswith(b"\n"):
                    break
            yield pos, None
            continue
        yield pos, raw


def iter_events(path: Path, offset: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (offset after the line, event) for every complete, well-formed line from ``offset``."""
    with open_regular(path) as fh:
        for pos, raw in iter_lines(fh, offset):
            obj = parse_line(raw) if raw is not None else None
            if obj is not None:
                yield pos, obj


def read_back(fh: BinaryIO, end: int, n: int, block: int = READ_BLOCK,
              max_line: int = MAX_LINE_BYTES) -> tuple[bytes, int]:
    """Read ``fh`` backwards from ``end`` in blocks until the bytes hold more than ``n`` newlines, the file
    starts, or the line being read back is longer than ``max_line`` (it would be skipped anyway); returns
    the bytes and the offset they start at (past 0, the first piece may be cut mid-line). Linear: each
    block is counted once."""
    pos, blocks, count, open_line = end, [], 0, 0
    while pos > 0 and count <= n and open_line <= max_line:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step)
        blocks.append(data)
        found = data.count(b"\n")
        count += found
        open_line = data.find(b"\n") if found else open_line + len(data)
    return b"".join(reversed(blocks)), pos


def read_last_lines(path: Path, n: int, block: int = READ_BLOCK) -> list[bytes]:
    """The last ``n`` complete lines of a file, read backwards in blocks (a 1 GB log opens fast); lines
    over MAX_LINE_BYTES are left out."""
    with open_regular(path) as fh:
        buf, pos = read_back(fh, fh.seek(0, os.SEEK_END), n, block)
    # The piece after the last newline is either empty or a partial last line: drop it.
    lines = buf.split(b"\n")[:-1]
    if pos > 0:
        lines = lines[1:]  # first piece may be cut mid-line
    lines = [line for line in lines if len(line) <= MAX_LINE_BYTES]
    return lines[-n:] if n else []
