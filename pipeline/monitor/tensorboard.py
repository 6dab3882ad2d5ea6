"""TensorBoard event files (``events.out.tfevents.*``) as metrics events, via tensorboard's own loader.

The loader (``tensorboard`` is the optional extra ``tb``) is incremental: each file keeps its reader
and a poll returns only the records written since, so a live TensorBoard log is followed like our
own events.jsonl. Called from the runs model's watcher thread, never the UI's event loop; tensorboard
is imported on the first poll, not with this module.

Tags map to our names the way HF/TRL log them: ``train/loss`` → ``loss``, ``eval/loss`` →
``eval_loss``, then the HF renames (``rewards/accuracies`` → ``accuracy``, ``learning_rate`` → ``lr``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pipeline.runs.vocabulary import EventType

EVENTS_GLOB = "events.out.tfevents.*"
MISSING_EXTRA = "reading TensorBoard logs needs the extra `tb` (pip install 'aba-control-centre[tb]')"


def event_files(folder: Path) -> list[Path]:
    """The event files of a TensorBoard log folder (and its sub-folders, one per run as TB writes them)."""
    return sorted(p for p in folder.rglob(EVENTS_GLOB) if p.is_file())


def available() -> bool:
    """Whether the extra is installed (found, not imported: this runs on the UI's side)."""
    return importlib.util.find_spec("tensorboard") is not None


def tag_name(tag: str, renames: dict[str, str]) -> str:
    """A TensorBoard tag → the metric name our charts use."""
    if tag.startswith("train/"):
        tag = tag[len("train/"):]
    elif tag.startswith("eval/"):
        tag = "eval_" + tag[len("eval/"):]
    return renames.get(tag, tag)


class TensorBoardLog:
    """Follows every event file under one folder; :meth:`poll` returns the new scalars as metrics events."""

    def __init__(self, folder: Path, renames: dict[str, str]) -> None:
        self.folder = folder
        self.renames = renames
        self._loaders: dict[Path, Any] = {}

    def poll(self) -> list[dict[str, Any]]:
        try:
            from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
            from tensorboard.util import tensor_util
        except ImportError:
            from pipeline.errors import ForeignError

            raise ForeignError(f"{self.folder}: {MISSING_EXTRA}") from None
        by_step: dict[int, dict[str, Any]] = {}
        for path in event_files(self.folder):
            loader = self._loaders.get(path)
            if loader is None:
                loader = self._loaders[path] = EventFileLoader(str(path))
            for event in loader.Load():
                for v in event.summary.value:
                    y = _scalar(v, tensor_util)
                    if y is None:
                        continue
                    ev = by_step.setdefault(int(event.step), {"type": EventType.METRICS, "step": int(event.step)})
                    ev["ts"] = event.wall_time
                    ev[tag_name(v.tag, self.renames)] = y
        return [by_step[s] for s in sorted(by_step)]


def _scalar(value: Any, tensor_util: Any) -> float | None:
    """The number a summary value holds: TF1 simple_value, or a one-element tensor (TF2, torch's writer)."""
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        y = float(value.simple_value)
    elif kind == "tensor":
        plugin = value.metadata.plugin_data.plugin_name
        if plugin not in ("", "scalars"):
            return None
        try:
            arr = tensor_util.make_ndarray(value.tensor)
        except Exception:  # a string or malformed tensor: not a scalar to chart
            return None
        if arr.size != 1 or arr.dtype.kind not in "fiu":
            return None
        y = float(arr.reshape(-1)[0])
    else:
        return None
    return y  # NaN kept: the alert rules look for it
