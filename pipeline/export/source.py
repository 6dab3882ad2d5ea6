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

from pipeline.checkpoints.select import pick_checkpoint
from pipeline.checkpoints.store import Checkpoint, read_checkpoint
from pipeline.config.runref import is_run_ref, parse_run_ref
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


def resolve_export_source(model_source: str, which: str, runs_dir: Path) -> ExportSource:
    if is_run_ref(model_source):
        ref = parse_run_ref(model_source)
        run_id = ref.run
        which = ref.checkpoint or which  # run:<id>@<checkpoint> names the checkpoint itself
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
