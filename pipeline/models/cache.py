"""The shared model cache (HF folders built from a GGUF or a run's checkpoint), written by many workers:
each folder is built once, whoever asks for it at the same moment.

A builder takes an flock on ``.<name>.build`` beside the folder, so a second worker waits for the first
instead of converting the same model again; the folder is built aside and renamed into place, so a reader
sees it whole or not at all; and a rename that finds the folder already there (a builder on another host,
where flock does not reach) keeps the one in place and drops its own copy.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

DONE = "config.json"  # every cached folder is an HF model folder: config.json says it is there


def build_once(dest: Path, build: Callable[[Path], None]) -> Path:
    """``dest``, built by ``build(tmp_folder)`` unless it is there already (or another process builds it
    meanwhile). Nothing half-built is ever left at ``dest``."""
    if (dest / DONE).exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest.parent / f".{dest.name}.build", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the first builder converts; the others wait here, then find it
        if (dest / DONE).exists():
            return dest
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
        try:
            build(tmp)
            publish(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        os.close(fd)
    return dest


def publish(tmp: Path, dest: Path) -> None:
    """Rename the built ``tmp`` to ``dest``; a complete ``dest`` already there wins, a half one is replaced."""
    try:
        os.rename(tmp, dest)
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if (dest / DONE).exists():
        shutil.rmtree(tmp, ignore_errors=True)  # built by someone else meanwhile: theirs is as good
        return
    stale = dest.with_name(f".{dest.name}.stale-{os.getpid()}")  # an older crash's leftover
    os.rename(dest, stale)
    os.rename(tmp, dest)
    shutil.rmtree(stale, ignore_errors=True)
