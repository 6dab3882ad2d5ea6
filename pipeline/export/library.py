"""The chat's model library (what LM Studio calls "My Models"): every GGUF an operator can chat with —
each run's verified exports and the embedded model's baselines — and every checkpoint not exported
yet, which the chat exports first (a normal export run) and then loads. No Textual, no model loading.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.checkpoints.browser import collect, fold_aliases
from pipeline.config.paths import cache_dir
from pipeline.errors import AbaError
from pipeline.export import list_exports, read_export, run_exports
from pipeline.runs.status import ACTIVE
from pipeline.runs.store import RunStore

EntryKind = Literal["export", "baseline", "checkpoint"]


@dataclass(frozen=True)
class LibraryEntry:
    kind: EntryKind
    label: str  # what the operator reads: run/export name, baseline name, run@checkpoint
    path: Path | None  # the GGUF (None: a checkpoint to export first)
    quant: str | None
    size: int | None
    verified: bool | None
    base: str  # the model it was trained on (or is)
    created_at: float
    run_id: str | None = None  # a checkpoint's run …
    checkpoint: str | None = None  # … and its name


def library(runs_dir: Path | str) -> list[LibraryEntry]:
    """Exports (newest first), then the baselines in the cache, then checkpoints without an export."""
    out: list[LibraryEntry] = []
    exported: set[tuple[str, str]] = set()
    for exp in list_exports(runs_dir):
        raw = exp.meta.get("source")
        src: dict[str, object] = raw if isinstance(raw, dict) else {}
        run, ckpt = src.get("run"), src.get("checkpoint")
        if isinstance(run, str) and isinstance(ckpt, str):
            exported.add((run, ckpt))
        base = str(src.get("base_source") or exp.meta.get("model_source") or "?")
        out.append(LibraryEntry("export", exp.label, exp.gguf, _str(exp.meta.get("quant")),
                                _int(exp.meta.get("size_bytes")), exp.verified,
                                base, exp.created_at, run if isinstance(run, str) else None,
                                ckpt if isinstance(ckpt, str) else None))
    folder = cache_dir() / "gguf"
    for js in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        info = read_export(js, "baseline")
        if info is not None:
            out.append(LibraryEntry("baseline", info.name, info.gguf, _str(info.meta.get("quant")),
                                    _int(info.meta.get("size_bytes")), info.verified,
                                    str(info.meta.get("model_source") or "embedded"), info.created_at))
    rows, tags = fold_aliases(r for r in collect(runs_dir) if r.ckpt.complete)
    bases: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: (r.run_id, r.step or 0), reverse=True):
        names = {r.name, *tags.get(r.key, [])}
        if any((r.run_id, n) in exported for n in names):
            continue
        label = f"{r.run_id}@{r.name}" + (f" ({', '.join(tags[r.key])})" if tags.get(r.key, [r.name]) != [r.name]
                                          else "")
        if r.run_id not in bases:
            bases[r.run_id] = _run_base(r.run_dir)
        out.append(LibraryEntry("checkpoint", label, None, None, r.size, None, bases[r.run_id], r.ckpt.mtime,
                                r.run_id, r.name))
    return out


def export_checkpoint(runs_dir: Path | str, run_id: str, checkpoint: str, quant: str) -> str:
    """Start an export run of ``run_id``'s ``checkpoint`` at ``quant`` (verified); returns its run id."""
    from pipeline.config.run import build_config
    from pipeline.config.runref import run_ref
    from pipeline.runs.launcher import launch

    cfg = build_config("export", sets=[f"model.source={run_ref(run_id)}", f"export.checkpoint={checkpoint}",
                                       f'export.quant=["{quant}"]'])
    new_id, _path = launch(RunStore(runs_dir), cfg)
    return new_id


class ExportWaitError(AbaError):
    """The export run the chat waited on did not give a GGUF."""


def wait_for_export(runs_dir: Path | str, run_id: str, timeout: float = 3600.0, poll_s: float = 1.0,
                    cancelled: object = None) -> Path:
    """Block until export run ``run_id`` ends; its (first) GGUF, or ExportWaitError with the run's reason.
    ``cancelled`` (a threading.Event) ends the wait early."""
    from pipeline.runs.status import read_status

    store = RunStore(runs_dir)
    path = store.path(run_id)
    deadline = time.monotonic() + timeout
    while True:
        st = read_status(path)
        if st.state not in ACTIVE:
            break
        if time.monotonic() > deadline or (cancelled is not None and getattr(cancelled, "is_set", bool)()):
            raise ExportWaitError(f"export run {run_id} is still {st.state}: load its GGUF when it is done")
        time.sleep(poll_s)
    exports = run_exports(path, run_id)
    if st.state != "succeeded" or not exports:
        raise ExportWaitError(f"export run {run_id} ended {st.state}: {st.reason or 'no GGUF written'}")
    return exports[0].gguf


def _run_base(run_dir: Path) -> str:
    """A run's model.source as the operator wrote it (``embedded``, a hub id, a folder)."""
    from pipeline.runs.store import load_run_config

    try:
        return str(load_run_config(run_dir).sections["model"].source)
    except (AbaError, KeyError, OSError):
        return "?"


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
