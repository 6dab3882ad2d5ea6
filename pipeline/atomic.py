"""Atomic file writes: temp file in the same folder, fsync, rename. Readers never see a partial file;
`read_json_object` is the tolerant reader of such a JSON file. Text and JSON pass through the one
redaction (pipeline.redact) on the way: no credential the process holds reaches a file written here."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pipeline.redact import redact
from pipeline.safeio import read_bounded

JSON_MAX_BYTES = 64 << 20  # a result, report or metadata file; a larger one is not what we wrote


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` whole or not at all, with ``mode`` (0600 unless asked: the owner's only). A symlink in
    its place is replaced, never followed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode != 0o600:
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    atomic_write_bytes(path, redact(text).encode("utf-8"), mode)


def atomic_write_json(path: Path, obj: Any, mode: int = 0o600) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n", mode)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable, not JSON or not an object, too
    large, nested too deeply, or not a regular file (a FIFO in its place never blocks the reader)."""
    try:
        data = json.loads(read_bounded(path, JSON_MAX_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the directory entry is flushed.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
