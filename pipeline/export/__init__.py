"""GGUF exports: where they live and what their metadata says (light: no ML library here).

Layout (docs/export-and-chat.md)::

    runs/<export_run>/exports/<name>.gguf   the model file
    runs/<export_run>/exports/<name>.json   written LAST: source, quant, size, sha256, verification

An export without its .json is incomplete (the worker died mid-write) and is never offered to chat.
The heavy steps (merge, quantise, verify) are in sibling modules that only the export worker imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.paths import cache_dir
from pipeline.errors import ConfigError
from pipeline.models.embedded import EMBEDDED_NAME
from pipeline.runs.layout import EXPORTS_DIR
from pipeline.runs.store import RunStore

# Canonical names (as llama.cpp spells them) → llama_ftype values of llama.h.
QUANTS: dict[str, int] = {"f16": 1, "q8_0": 7, "Q6_K": 18, "Q4_K_M": 15}
_LOWER = {k.lower(): k for k in QUANTS}
def normalize_quant(name: str, where: str = "export.quant") -> str:
    canon = _LOWER.get(name.strip().lower())
    if canon is None:
        raise ConfigError(f"{where}: unknown quantisation {name!r} (expected one of {', '.join(QUANTS)})")
    return canon


def normalize_quants(names: list[str], where: str = "export.quant") -> list[str]:
    if not names:
        raise ConfigError(f"{where}=[]: expected at least one of {', '.join(QUANTS)}")
    out: list[str] = []
    for n in names:
        q = normalize_quant(n, where)
        if q not in out:
            out.append(q)
    return out


@dataclass
class ExportInfo:
    run_id: str
    gguf: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return self.gguf.stem

    @property
    def verified(self) -> bool:
        verify = self.meta.get("verify") or {}
        return bool(verify.get("ok"))

    @property
    def created_at(self) -> float:
        value = self.meta.get("created_at")
        return float(value) if isinstance(value, int | float) else 0.0

    @property
    def label(self) -> str:
        return f"{self.run_id}/{self.name}"


def read_export(json_path: Path, run_id: str = "") -> ExportInfo | None:
    """The export described by ``json_path``, or None when it or its GGUF is missing or unreadable."""
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    gguf = json_path.with_suffix(".gguf")
    if not gguf.is_file():
        return None
    return ExportInfo(run_id or json_path.parent.parent.name, gguf, meta)


def run_exports(run_dir: Path, run_id: str = "") -> list[ExportInfo]:
    """The complete exports of one run, newest first."""
    folder = Path(run_dir) / EXPORTS_DIR
    if not folder.is_dir():
        return []
    found = (read_export(js, run_id or Path(run_dir).name) for js in folder.glob("*.json"))
    return sorted((e for e in found if e is not None), key=lambda e: e.created_at, reverse=True)


def list_exports(runs_dir: Path | str) -> list[ExportInfo]:
    """Every complete export of every run, newest first."""
    out: list[ExportInfo] = []
    for info in RunStore(runs_dir).list_runs():
        out += run_exports(info.path, info.run_id)
    out.sort(key=lambda e: e.created_at, reverse=True)
    return out


def newest_export(runs_dir: Path | str, verified_only: bool = True) -> ExportInfo | None:
    for exp in list_exports(runs_dir):
        if exp.verified or not verified_only:
            return exp
    return None


def baseline_gguf_path(quant: str = "f16") -> Path:
    """The A/B baseline: a GGUF of the embedded model made by the same converter as the exports (the
    shipped Q4_1 file answers worse), at the quantisation of the export it is compared with, so the
    two sides differ by training alone. ``python -m pipeline.export.baseline [--quant Q]`` makes it once."""
    return cache_dir() / "gguf" / f"{EMBEDDED_NAME}-{normalize_quant(quant, 'baseline quant')}.gguf"
