"""``best_metric = "eval_…"``: a training run's ``best`` chosen by behaviour, not only by loss.

A training stage cannot log an eval metric while it trains, so it picks ``best`` by loss first (and
says so). The chained eval stage, with ``eval.checkpoints = ["all"]``, evaluates every periodic
checkpoint of its parent run, records the figures in each checkpoint's metadata (``eval``), and then
re-points the parent's ``best`` alias (hard links, metadata written last, as training does) at the
checkpoint that is best by that eval metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.checkpoints.metrics import lower_is_better
from pipeline.checkpoints.store import list_checkpoints
from pipeline.runs.layout import BEST, CHECKPOINTS_DIR, FINAL, RUN_TOML


def periodic_checkpoints(run_dir: Path) -> list[str]:
    """Complete checkpoints of a run other than the best/final aliases, in step order."""
    cks = [c for c in list_checkpoints(run_dir) if c.complete and c.name not in (BEST, FINAL)]
    return [c.name for c in sorted(cks, key=lambda c: (c.step or 0, c.name))]


def parent_best_metric(run_dir: Path) -> str:
    """The training section's ``best_metric`` from the run's run.toml ('' when it has none)."""
    import tomllib

    try:
        data = tomllib.loads((run_dir / RUN_TOML).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    sec = data.get(str(data.get("stage", "")), {})
    return str(sec.get("best_metric", "")) if isinstance(sec, dict) else ""


def repoint_best(run_dir: Path, metric: str, values: Mapping[str, float | None]) -> dict[str, Any] | None:
    """Point ``best`` at the checkpoint with the best ``metric`` among ``values`` (name → value)."""
    from pipeline.train.checkpointing import point_alias

    known = {k: v for k, v in values.items() if v is not None}
    if not known:
        return None
    from pipeline.checkpoints.store import read_checkpoint

    lower = lower_is_better(metric)
    top = min(known.values()) if lower else max(known.values())
    tied = [k for k, v in known.items() if v == top]  # values in step order
    ckpt_dir = run_dir / CHECKPOINTS_DIR
    current = read_checkpoint(ckpt_dir / BEST).meta.get("source")
    # A tie keeps the checkpoint training already chose (by loss); otherwise the latest of the tied.
    name = current if current in tied else tied[-1]
    src = ckpt_dir / name

    meta = dict(read_checkpoint(src).meta)
    point_alias(ckpt_dir, BEST, src, {**meta, "metric": metric, "metric_value": known[name], "chosen_by": "eval"})
    return {"run": run_dir.name, "metric": metric, "best": name, "value": known[name], "values": known}
