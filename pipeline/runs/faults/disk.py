"""Disk faults of a run folder: free space, a disk-full reason that names the path, and the cleanup
of half-written checkpoints so the space comes back.

Light (os and shutil only): the worker calls it from its last exception handler, the supervisor when
an attempt ends, the preflight and the UI to show free space.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.runs.classify import disk_full_line
from pipeline.runs.layout import CHECKPOINTS_DIR, METADATA, STAGING
from pipeline.safeio import rmtree_inside

# Below this a failed worker is taken for a disk-full death even when stderr could not say so
# (stderr.log is on the same full disk, so the traceback is often lost).
FULL_FLOOR = 1 << 20
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
WRITE_ERRNOS = DISK_ERRNOS | {errno.EIO, errno.EROFS}


@dataclass(frozen=True)
class Space:
    path: Path  # the folder asked about (or its nearest existing parent)
    free: int  # bytes an unprivileged writer may still use
    total: int

    def describe(self) -> str:
        return f"{fmt_bytes(self.free)} free of {fmt_bytes(self.total)} on {mount_point(self.path)}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (a runs dir not created yet still has a filesystem)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def space(path: Path) -> Space | None:
    """Free and total bytes of the filesystem holding ``path``; None when it cannot be read."""
    p = existing(path)
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    return Space(p, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)


def mount_point(path: Path) -> Path:
    p = existing(path)
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def is_disk_full(exc: BaseException) -> bool:
    """An exception (or one it was raised from) that means the disk or quota was full."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in DISK_ERRNOS:
            return True
        if disk_full_line(str(cur)):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def exc_path(exc: BaseException) -> str | None:
    cur: BaseException | None = exc
    while cur is not None:
        if isinstance(cur, OSError) and cur.filename:
            return str(cur.filename)
        cur = cur.__cause__ or cur.__context__
    return None


def partial_writes(run_dir: Path) -> list[Path]:
    """What a save interrupted by a full disk leaves: the trainer's staging folder, checkpoint folders
    without metadata.json, alias and deletion temporaries, atomic-write temp files."""
    run_dir = Path(run_dir)
    found = [run_dir / STAGING] if (run_dir / STAGING).exists() else []
    ckpts = run_dir / CHECKPOINTS_DIR
    try:
        children = list(ckpts.iterdir())
    except OSError:
        children = []
    for child in children:
        if child.name.startswith("."):
            found.append(child)  # .best.tmp, .deleting-…, .metadata.json.*.tmp
        elif child.is_dir() and not (child / METADATA).exists():
            found.append(child)
        elif child.is_dir():
            found += [p for p in child.glob(f".{METADATA}.*.tmp")]
    try:
        found += [p for p in run_dir.glob(".*.tmp") if p.is_file()]
    except OSError:
        pass
    return found


def cleanup_partial(run_dir: Path) -> list[str]:
    """Remove :func:`partial_writes`; returns their paths relative to the run folder."""
    removed = []
    for p in partial_writes(run_dir):
        try:
            rmtree_inside(p, run_dir)  # never through a symlinked checkpoints/: nothing outside the run
            removed.append(str(p.relative_to(run_dir)))
        except OSError:
            continue
    return removed


def disk_full_reason(run_dir: Path, detail: str | None, path: str | None = None,
                     free: Space | None = None) -> str:
    """The one-line reason: what failed, where, and the free space at that moment."""
    free = free or space(run_dir)
    where = path or _newest_partial(run_dir) or str(run_dir)
    msg = f"disk full while writing {where}"
    if free is not None:
        msg += f" ({free.describe()})"
    if detail:
        msg += f": {detail.strip()[:200]}"
    return msg


def _newest_partial(run_dir: Path) -> str | None:
    """The file written last inside the half-written folders: where the disk said no."""
    best: tuple[float, str] | None = None
    for top in partial_writes(run_dir):
        for root, _dirs, files in os.walk(top) if top.is_dir() else [(str(top.parent), [], [top.name])]:
            for name in files:
                try:
                    mtime = os.stat(os.path.join(root, name)).st_mtime
                except OSError:
                    continue
                if best is None or mtime >= best[0]:
                    best = (mtime, os.path.join(root, name))
    return best[1] if best else None


def looks_full(run_dir: Path) -> bool:
    s = space(run_dir)
    return s is not None and s.free < FULL_FLOOR
