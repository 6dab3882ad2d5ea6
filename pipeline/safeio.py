"""Files in a run folder are untrusted input: writes never follow a symlink (O_NOFOLLOW, regular files
only), reads never block on a FIFO or a device and never take more than asked, deletions stay inside a
root and refuse a symlinked folder on the way."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600  # files that hold errors, answers or replies: the owner's only


class UnsafePath(OSError):
    """A path that is a symlink, not a regular file, or leads out of where it must stay."""


def _regular(fd: int, path: Path | str) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(
            st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a folder" if stat.S_ISDIR(
            st.st_mode) else "not a regular file"
        raise UnsafePath(errno.EINVAL, f"{kind}, not a regular file", str(path))


def open_append(path: Path | str, mode: int = PRIVATE) -> int:
    """An O_APPEND descriptor on a regular file, created with ``mode``; a symlink in its place is refused
    (ELOOP), and an existing file more open than ``mode`` is narrowed to it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(errno.ELOOP, "a symbolic link: aba does not write through links", str(path)) from None
        raise
    _regular(fd, path)
    st = os.fstat(fd)
    if stat.S_IMODE(st.st_mode) & ~mode and st.st_uid == os.geteuid():
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode) & mode)
        except OSError:
            pass
    return fd


def append_bytes(path: Path | str, data: bytes, mode: int = PRIVATE) -> None:
    """Append ``data`` with one write (a whole line reaches readers whole)."""
    fd = open_append(path, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def open_regular(path: Path | str) -> BinaryIO:
    """Open a regular file for reading; a FIFO, device or socket in its place raises UnsafePath at
    once (O_NONBLOCK: opening a FIFO never waits for a writer)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    _regular(fd, path)
    return os.fdopen(fd, "rb")


def read_bounded(path: Path | str, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``; a longer file raises UnsafePath (EFBIG)."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UnsafePath(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def is_inside(path: Path | str, root: Path | str) -> bool:
    """True when ``path``, resolved, stays under ``root`` resolved."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def check_no_links(path: Path | str, root: Path | str) -> None:
    """Refuse (UnsafePath) when ``path`` or a folder between ``root`` and it is a symlink, or when it
    does not lie under ``root`` at all."""
    path, root = Path(path), Path(root)
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise UnsafePath(errno.EXDEV, f"not under {root}", str(path)) from None
    cur = root
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink():
            raise UnsafePath(errno.ELOOP, "a symbolic link: aba does not delete or write through links",
                             str(cur))
    if not is_inside(path, root):
        raise UnsafePath(errno.EXDEV, f"leads out of {root}", str(path))


def rmtree_inside(path: Path | str, root: Path | str) -> None:
    """Delete the folder ``path`` (or unlink a file or link there) only when it lies under ``root`` with
    no symlink on the way; shutil.rmtree itself never follows a link inside the tree."""
    path = Path(path)
    check_no_links(path.parent, root)
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    shutil.rmtree(path)
