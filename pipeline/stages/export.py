"""The export stage: merge LoRA → GGUF (llama.cpp's converter) → quantise → verify, per [export].

Output in this run's folder (docs/export-and-chat.md)::

    exports/<source run>-<checkpoint>-<quant>.gguf   (<model label>-<quant> for a model itself)
    exports/<same name>.json                          written last: source, sizes, sha256, verification
    exports/convert.log                          the converter's output

Events: ``progress`` (total_steps = phases), ``export`` per finished phase (phase, name, seconds…).
A failed verification fails the run with the failing checks as its reason; files and metadata stay
for inspection. A resumed run skips exports already written and verified.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json
from pipeline.errors import AbaError
from pipeline.export import normalize_quants, read_export
from pipeline.export.convert import convert_hf, converter_version
from pipeline.export.source import ExportSource, resolve_export_source
from pipeline.runs.cpu import usable_cores
from pipeline.runs.layout import CONVERT_LOG, EXPORT_WORK_DIR, EXPORTS_DIR
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext


def sha256_file(path: Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return keep.strip("-") or "model"


def export_stem(src: ExportSource, model_label: str) -> str:
    """An export is named after what it holds: the source run and its checkpoint
    (``20261205-1319-dpo-smollm2-best``), so two runs' exports never share a file name; a model
    exported as it is, after the model (``smollm2``); a checkpoint folder, after the model and it."""
    if src.run_id:
        return f"{_slug(src.run_id)}-{_slug(src.checkpoint_name)}"
    if src.checkpoint is None:
        return _slug(model_label)
    return f"{_slug(model_label)}-{_slug(src.checkpoint_name)}"


class Exporter:
    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg.section("export")
        self.model_source = ctx.cfg.section("model").source
        self.out_dir = ctx.run_dir / EXPORTS_DIR
        self.work = ctx.run_dir / EXPORT_WORK_DIR
        self.step = 0
        self.total = 0

    def phase(self, phase: str, t0: float, **info: Any) -> None:
        self.step += 1
        self.ctx.emit(EventType.EXPORT, self.step, phase=phase, seconds=round(time.time() - t0, 2), **info)
        self.ctx.emit(EventType.PROGRESS, self.step, total_steps=self.total)
        self.ctx.log(f"export: {phase} done in {time.time() - t0:.1f} s {info or ''}")

    def stopped(self) -> bool:
        if self.ctx.stop_requested.is_set():
            self.ctx.log("export: stop requested; leaving after the current phase")
            return True
        return False

    def run(self) -> None:
        try:
            quants = normalize_quants(list(self.cfg.quant))
            src = resolve_export_source(self.model_source, self.cfg.checkpoint, self.ctx.run_dir.parent)
        except AbaError as exc:
            self.ctx.fail(str(exc))
            return
        names = {q: f"{export_stem(src, self.ctx.cfg.model_label())}-{q}" for q in quants}
        todo = [q for q in quants if not self._done(names[q])]
        self.total = 2 + 2 * len(todo)
        self.ctx.emit(EventType.PROGRESS, 0, total_steps=self.total, quants=quants, checkpoint=src.checkpoint_name)
        for note in src.notes:
            self.ctx.log(f"export: {note}")
        if not todo:
            self.ctx.log("export: every requested export is already written and verified")
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._export(src, todo, names)
        except AbaError as exc:  # ExportError, CheckpointError, or a ConfigError from resolving the base
            if self.ctx.stop_requested.is_set():
                self.ctx.log(f"export: stopped ({exc}); a resume redoes what is missing")
                return
            self.ctx.fail(str(exc))
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    def _done(self, name: str) -> bool:
        info = read_export(self.out_dir / f"{name}.json")
        return bool(info and info.verified and info.gguf.stat().st_size == info.meta.get("size_bytes"))

    def _export(self, src: ExportSource, quants: list[str], names: dict[str, str]) -> None:
        from pipeline.checkpoints.store import checkpoint_kind
        from pipeline.export.merge_lora import merge_to_folder
        from pipeline.models.resolve import resolve_model

        t0 = time.time()
        base = resolve_model(src.base_source)
        ckpt_path = src.checkpoint.path if src.checkpoint else None
        kind = checkpoint_kind(ckpt_path)
        if kind == "base" and isinstance(base, Path):
            hf_dir = base  # nothing to merge: convert the folder as it is
        else:
            hf_dir = self.work / "merged"
            merge_to_folder(base, ckpt_path, hf_dir)
        self.phase("merge", t0, kind=kind, checkpoint=src.checkpoint_name, base=str(base))
        if self.stopped():
            return

        t0 = time.time()
        f16 = self.out_dir / f"{names['f16']}.gguf" if "f16" in quants else self.work / "model-f16.gguf"
        convert_hf(hf_dir, f16, "f16", log_path=self.out_dir / CONVERT_LOG, stop=self.ctx.stop_requested)
        self.phase("convert", t0, file=f16.name, size_bytes=f16.stat().st_size)

        results = []
        for q in quants:
            if self.stopped():
                return
            results.append(self._one(q, names[q], f16, hf_dir, src, kind))
        if "f16" not in quants:
            f16.unlink(missing_ok=True)
        failed = [r for r in results if r.get("verify") and not r["verify"]["ok"]]
        if failed:
            lines = []
            for r in failed:
                bad = [f"{c['name']}: {c['detail']}" for c in r["verify"]["checks"] if not c["ok"]]
                lines.append(f"{r['name']}: " + "; ".join(bad))
            self.ctx.fail("export verification failed: " + " | ".join(lines)[:1500])

    def _one(self, quant: str, name: str, f16: Path, hf_dir: Path, src: ExportSource, kind: str) -> dict:
        from pipeline.export.quantize import quantize

        gguf = self.out_dir / f"{name}.gguf"
        t0 = time.time()
        if quant != "f16":
            quantize(f16, gguf, quant)
        size = gguf.stat().st_size
        self.phase("quantize", t0, name=name, quant=quant, size_bytes=size)
        meta: dict[str, Any] = {
            "name": name, "file": gguf.name, "quant": quant, "size_bytes": size, "sha256": sha256_file(gguf),
            "created_at": time.time(), "export_run": self.ctx.run_id, "model_source": self.model_source,
            "kind": kind, "source": src.describe(),
            "converter": {"llama_cpp_python": converter_version(), "script": "convert_hf_to_gguf.py"},
            "verify": None,
        }
        t0 = time.time()
        if self.cfg.verify:
            from pipeline.export.verify import verify_gguf

            v = verify_gguf(gguf, hf_dir, threads=usable_cores())
            meta["verify"] = v.to_dict()
            self.phase("verify", t0, name=name, ok=v.ok, failures=v.failures() or None,
                       answer=v.sample.get("answer"))
        else:
            self.phase("verify", t0, name=name, skipped=True)
        atomic_write_json(self.out_dir / f"{name}.json", meta)  # last: the export is complete
        return meta


def run(ctx: StageContext) -> None:
    Exporter(ctx).run()
