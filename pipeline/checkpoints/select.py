"""Which checkpoint a reference means: ``best`` (the run's own, else ranked by its best_metric), ``final``,
``latest`` or a name. Export, ``run:<id>@<checkpoint>`` model sources and evaluation all pick through here."""

from __future__ import annotations

from pathlib import Path

from pipeline.checkpoints.metrics import metric_value, rank_by
from pipeline.checkpoints.store import Checkpoint, list_checkpoints
from pipeline.errors import ConfigError
from pipeline.runs.store import load_run_config


def _best_metric(run_dir: Path) -> str:
    try:
        cfg = load_run_config(run_dir)
        return str(getattr(cfg.stage_section, "best_metric", "loss") or "loss")
    except Exception:  # an unreadable run.toml only costs the default metric
        return "loss"


def pick_checkpoint(run_dir: Path, which: str, notes: list[str] | None = None, where: str = "") -> Checkpoint:
    """The complete checkpoint ``which`` names in ``run_dir``; ``notes`` collects how it was chosen."""
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
