"""Which model an export reads: model.source (+ export.checkpoint of a source run). Light module.

- ``run:<id>``: a checkpoint of that run (best, final, latest or a name); its base is the source run's
  own model.source, resolved in the worker (pipeline.models.resolve).
- ``embedded``, an HF folder, a .gguf or a hub id: the model itself; export.checkpoint may then be a
  path to a checkpoint folder (a LoRA adapter or a full model) trained on that base.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.metrics import metric_value, rank_by
from pipeline.checkpoints.store import Checkpoint, list_checkpoints, read_checkpoint
from pipeline.errors import ConfigError
from pipeline.runs.layout import RUN_TOML
from pipeline.runs.store import load_run_config

NAMED = ("best", "final", "latest")


@dataclass
class ExportSource:
    base_source: str  # what pipeline.models.resolve.resolve_model gets for the base
    checkpoint: Checkpoint | None  # None: export the base itself
    run_id: str | None = None
    run_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def checkpoint_name(self) -> str:
        return self.checkpoint.name if self.checkpoint else "base"

    def describe(self) -> dict[str, Any]:
        ck = self.checkpoint
        return {"base_source": self.base_source, "run": self.run_id,
                "checkpoint": ck.name if ck else None, "checkpoint_path": str(ck.path) if ck else None,
                "checkpoint_meta": {k: v for k, v in (ck.meta if ck else {}).items() if k != "written_at"},
                "notes": self.notes}


def _best_metric(run_dir: Path) -> str:
    try:
        cfg = load_run_config(run_dir)
        return str(getattr(cfg.stage_section, "best_metric", "loss") or "loss")
    except Exception:  # an unreadable run.toml only costs the default metric
        return "loss"


def pick_checkpoint(run_dir: Path, which: str, notes: list[str] | None = None, where: str = "") -> Checkpoint:
    notes = notes if notes is not None else []
    ckpts = list_checkpoints(run_dir)
    complete = [c for c in ckpts if c.complete]
    names = ", ".join(c.name for c in ckpts) or "none"
    where = where or f"export.checkpoint={which!r} of run {run_dir.name}"
    if not complete:
        raise ConfigError(f"{where}: the run has no complete checkpoint (checkpoints: {names})")
    by_name = {c.name: c for c in ckpts}
    if which in ("best", "final") and which in by_name and by_name[which].complete:
        return by_name[which]
    stepped = [c for c in complete if c.step is not None]
    if which == "best":
        metric = _best_metric(run_dir)
        ranked = rank_by(complete, metric, lambda c: metric_value(c.meta, metric), lambda c: c.step)
        if ranked and metric_value(ranked[0].meta, metric) is not None:
            notes.append(f"no checkpoint named best: picked {ranked[0].name} by lowest/highest {metric}")
            return ranked[0]
        which = "latest"
        notes.append(f"no checkpoint has {metric}: took the latest")
    if which in ("final", "latest"):
        if stepped:
            return max(stepped, key=lambda c: (c.step or 0, c.mtime))
        return max(complete, key=lambda c: c.mtime)
    if which in by_name:
        ck = by_name[which]
        if not ck.complete:
            raise ConfigError(f"{where}: that checkpoint is {ck.state} ({ck.error})")
        return ck
    raise ConfigError(f"{where}: no such checkpoint (expected best, final, latest or one of: {names})")


def resolve_export_source(model_source: str, which: str, runs_dir: Path) -> ExportSource:
    if model_source.startswith("run:"):
        from pipeline.models.runsource import split_ref

        run_id, at = split_ref(model_source[4:])
        which = at or which  # run:<id>@<checkpoint> names the checkpoint itself
        run_dir = runs_dir / run_id
        if not (run_dir / RUN_TOML).is_file():
            raise ConfigError(f"model.source={model_source!r}: no run {run_id} in {runs_dir}")
        try:
            parent = load_run_config(run_dir)
        except ConfigError as exc:
            raise ConfigError(f"model.source={model_source!r}: its run.toml is unreadable ({exc})") from None
        if "model" not in parent.sections:
            raise ConfigError(f"model.source={model_source!r}: run {run_id} has no model (stage {parent.stage})")
        notes: list[str] = []
        ck = pick_checkpoint(run_dir, which, notes)
        return ExportSource(parent.sections["model"].source, ck, run_id, run_dir, notes)
    if which not in NAMED:
        path = Path(which).expanduser()
        if not path.is_dir():
            raise ConfigError(f"export.checkpoint={which!r}: with model.source={model_source!r} (not a run) "
                              "expected best/final/latest (export the model itself) or a checkpoint folder")
        ck = read_checkpoint(path)
        if ck.state == "corrupt":
            raise ConfigError(f"export.checkpoint={which!r}: corrupt checkpoint ({ck.error})")
        return ExportSource(model_source, ck, notes=[f"checkpoint folder {path}"])
    return ExportSource(model_source, None, notes=["no source run: exporting the model itself"])
