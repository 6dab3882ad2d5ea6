"""Readers for logs this project did not write, turned into the events the charts already draw.

- HF Trainer ``trainer_state.json`` (its ``log_history``), alone or inside ``checkpoint-N`` folders
  of an output dir (the newest one holds the whole history);
- a folder of checkpoints with only ``metadata.json`` each (seed 003 writes epoch, loss, accuracy);
- seed 003's ``training_log_*.jsonl`` (epoch, avg_loss, avg_accuracy …);
- our own ``events.jsonl`` outside a runs dir;
- TensorBoard event files (a folder of ``events.out.tfevents.*``; :mod:`pipeline.monitor.tensorboard`);
- any JSONL with numeric fields: the user picks the x field (a guess is offered) and charts any y;
  TRL/HF key names (``rewards/accuracies``, ``learning_rate`` …) map to ours as in trainer_state.json.

Each reader follows its file: JSONL through :class:`pipeline.runs.events.Tail` (only new bytes),
``trainer_state.json`` by re-reading it when the trainer rewrites it. No Textual here.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.store import list_checkpoints, read_trainer_state
from pipeline.errors import ForeignError
from pipeline.monitor.tensorboard import MISSING_EXTRA, TensorBoardLog, available, event_files
from pipeline.runs.events import Tail, parse_line
from pipeline.runs.layout import CHECKPOINTS_DIR, EVENTS_FILE, STATUS_FILE
from pipeline.runs.vocabulary import EventType

# HF Trainer / TRL log keys → the names our charts use.
HF_RENAMES = {
    "learning_rate": "lr",
    "rewards/accuracies": "accuracy",
    "rewards/margins": "margins",
    "eval_rewards/accuracies": "eval_accuracy",
    "eval_rewards/margins": "eval_margins",
}
# seed 003 training_log_*.jsonl keys → ours.
SEED_RENAMES = {"avg_loss": "loss", "avg_accuracy": "accuracy", "avg_reward": "reward", "avg_margin": "margins"}
X_GUESSES = ("step", "global_step", "steps", "iteration", "iter", "epoch", "batch")
LINE = "line"  # x = line number, when no field fits
SEED_LOG = re.compile(r"training_log_.*\.jsonl$")


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``outer/inner`` keys (the HF convention, e.g. rewards/accuracies)."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def numeric_fields(records: list[dict[str, Any]]) -> list[str]:
    """Keys holding a number in any of ``records`` (flattened), in first-seen order."""
    seen: dict[str, None] = {}
    for rec in records:
        for k, v in flatten(rec).items():
            if _is_num(v):
                seen.setdefault(k, None)
    return list(seen)


def guess_x(records: list[dict[str, Any]], fields: list[str]) -> str:
    """A step-like field: a known name, else the first never-decreasing integer field, else line."""
    flat = [flatten(r) for r in records]
    for name in X_GUESSES:
        if name in fields:
            return name
    for name in fields:
        vals = [r[name] for r in flat if _is_num(r.get(name))]
        if len(vals) >= 2 and all(float(v).is_integer() for v in vals) and all(
                b >= a for a, b in itertools.pairwise(vals)):
            return name
    return LINE


def from_log_history(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """HF ``log_history`` records → metrics events (eval records keep their eval_ names)."""
    out = []
    for i, rec in enumerate(entries):
        if not isinstance(rec, dict):
            continue
        ev: dict[str, Any] = {"type": EventType.METRICS, "step": rec.get("step", i + 1)}
        for k, v in rec.items():
            if k == "step" or not _is_num(v):
                continue
            ev[HF_RENAMES.get(k, k)] = v
        out.append(ev)
    return out


@dataclass
class ForeignReader:
    """Follows one foreign source; :meth:`poll` returns new events and whether to start over."""

    path: Path
    kind: str  # hf-trainer | checkpoints | seed-jsonl | events | jsonl | tensorboard
    label: str
    x_field: str | None = None  # jsonl only
    fields: list[str] = field(default_factory=list)
    malformed: int = 0
    _tail: Tail | None = field(default=None, repr=False)
    _sig: tuple[int, int, float] | None = field(default=None, repr=False)
    _line: int = field(default=0, repr=False)
    _tb: TensorBoardLog | None = field(default=None, repr=False)

    @property
    def monotonic(self) -> bool:
        # A user-picked x may go up and down; do not purge "resumed" points then.
        return self.kind != "jsonl" or self.x_field in X_GUESSES

    def poll(self) -> tuple[list[dict[str, Any]], bool]:
        if self.kind in ("hf-trainer", "checkpoints"):
            return self._poll_whole()
        if self.kind == "tensorboard":
            if self._tb is None:
                self._tb = TensorBoardLog(self.path, HF_RENAMES)
            return self._tb.poll(), False
        if self._tail is None:
            self._tail = Tail(self.path)
        resets = self._tail.resets
        raws = self._tail.poll()
        self.malformed = self._tail.malformed
        reset = self._tail.resets != resets
        if reset:
            self._line = 0
        out = []
        for obj in raws:
            self._line += 1
            ev = self.convert(obj)
            if ev is not None:
                out.append(ev)
        return out, reset

    def convert(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """One JSONL record → a metrics event (or the event itself for our own format)."""
        if self.kind == "events":
            return obj
        flat = flatten(obj)
        if self.kind == "seed-jsonl":
            ev: dict[str, Any] = {"type": EventType.METRICS}
            for k, v in flat.items():
                if _is_num(v):
                    ev[SEED_RENAMES.get(k, k)] = v
            x = flat.get("step", flat.get("epoch", self._line))
            ev["step"] = int(x) if _is_num(x) and float(x).is_integer() else self._line
            if "timestamp" in ev:
                ev["ts"] = ev.pop("timestamp")
            return ev
        x = self._line if self.x_field in (None, LINE) else flat.get(self.x_field)
        if not _is_num(x) or (isinstance(x, float) and not math.isfinite(x)):
            return None
        ev = {"type": EventType.METRICS, "step": x}
        for k, v in flat.items():
            if _is_num(v) and k != self.x_field:
                ev[HF_RENAMES.get(k, k)] = v  # a TRL-style log: its names → ours, as for trainer_state.json
        return ev

    def _poll_whole(self) -> tuple[list[dict[str, Any]], bool]:
        # trainer_state.json is rewritten at each save: re-read it whole when it changes.
        src = self._source_file()
        try:
            st = os.stat(src)
        except FileNotFoundError:
            return [], False
        sig = (st.st_ino, st.st_size, st.st_mtime)
        if sig == self._sig:
            return [], False
        self._sig = sig
        return self.read_all(), True

    def _source_file(self) -> Path:
        if self.kind == "hf-trainer":
            return _newest_trainer_state(self.path) or self.path
        return self.path

    def read_all(self) -> list[dict[str, Any]]:
        if self.kind == "hf-trainer":
            src = self._source_file()
            try:
                state = read_trainer_state(src)
            except (OSError, ValueError, RecursionError) as exc:
                raise ForeignError(f"{src}: not a readable trainer_state.json ({exc})") from None
            events = from_log_history(state.get("log_history", []) if isinstance(state, dict) else [])
            if isinstance(state, dict) and _is_num(state.get("max_steps")):
                events.insert(0, {"type": EventType.PROGRESS, "total_steps": int(state["max_steps"])})
            return events
        if self.kind == "checkpoints":
            events = []
            for ck in list_checkpoints(self.path):
                if not ck.complete:
                    continue
                meta = dict(ck.meta)
                x = meta.get("step", meta.get("epoch"))
                if not _is_num(x):
                    continue
                ev = {"type": EventType.METRICS, "step": x}
                ev.update({SEED_RENAMES.get(k, k): v for k, v in meta.items()
                           if _is_num(v) and k not in ("step", "written_at")})
                events.append(ev)
            return sorted(events, key=lambda e: e["step"])
        raise ForeignError(f"{self.path}: read_all is for whole-file formats")


def _newest_trainer_state(folder: Path) -> Path | None:
    if folder.is_file():
        return folder
    if (folder / "trainer_state.json").is_file():
        return folder / "trainer_state.json"
    best: tuple[int, Path] | None = None
    for root in (folder, folder / CHECKPOINTS_DIR):
        if not root.is_dir():
            continue
        for child in root.iterdir():
            m = re.fullmatch(r"checkpoint-(\d+)", child.name)
            if m and (child / "trainer_state.json").is_file() and (best is None or int(m[1]) > best[0]):
                best = (int(m[1]), child / "trainer_state.json")
    return best[1] if best else None


def _sample_records(path: Path, limit: int = 200) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh):
            if i >= limit * 4 or len(out) >= limit:
                break
            obj = parse_line(raw)
            if obj is not None:
                out.append(obj)
    return out


def _jsonl_reader(path: Path, x_field: str | None) -> ForeignReader:
    records = _sample_records(path)
    if not records and path.stat().st_size > 0:
        raise ForeignError(f"{path}: no JSON object on its first lines (expected JSONL, one object a line)")
    label = path.stem
    if SEED_LOG.search(path.name) or (records and "avg_loss" in records[0] and "epoch" in records[0]):
        return ForeignReader(path, "seed-jsonl", label, fields=numeric_fields(records))
    if records and all("type" in r and "ts" in r for r in records[:5]):
        return ForeignReader(path, "events", label, fields=numeric_fields(records))
    fields = numeric_fields(records)
    if records and not fields:
        raise ForeignError(f"{path}: no numeric field in its records (expected JSONL with numbers to chart)")
    if x_field is not None and x_field != LINE and x_field not in fields:
        raise ForeignError(f"{path}: x field {x_field!r} is not a numeric field (have: {', '.join(fields)})")
    x = x_field or guess_x(records, fields)
    return ForeignReader(path, "jsonl", label, x_field=x, fields=fields)


def detect(path: Path, x_field: str | None = None) -> ForeignReader:
    """The reader for ``path``; raises :class:`ForeignError` naming the path and what was expected."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ForeignError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name == "trainer_state.json":
            return ForeignReader(path, "hf-trainer", path.parent.name)
        if path.name.startswith("events.out.tfevents."):
            return detect(path.parent)  # one file of a TensorBoard log: follow its folder
        if path.suffix in (".jsonl", ".ndjson", ".log", ".json"):
            if path.suffix == ".json":
                raise ForeignError(f"{path}: a .json file must be an HF trainer_state.json (or give a JSONL file)")
            return _jsonl_reader(path, x_field)
        raise ForeignError(f"{path}: unknown file type (expected trainer_state.json or a .jsonl file)")
    if (path / STATUS_FILE).is_file():
        raise ForeignError(f"{path}: this is a run folder; open it as a run")
    if _newest_trainer_state(path) is not None:
        return ForeignReader(path, "hf-trainer", path.name)
    logs = sorted(path.glob("training_log_*.jsonl")) + sorted(path.glob("logs/training_log_*.jsonl"))
    if logs:
        newest = max(logs, key=lambda p: p.stat().st_mtime)
        return ForeignReader(newest, "seed-jsonl", path.name, fields=numeric_fields(_sample_records(newest)))
    if (path / EVENTS_FILE).is_file():
        return ForeignReader(path / EVENTS_FILE, "events", path.name)
    if event_files(path):
        if not available():
            raise ForeignError(f"{path}: TensorBoard event files; {MISSING_EXTRA}")
        return ForeignReader(path, "tensorboard", path.name)
    if any(ck.complete for ck in list_checkpoints(path)):
        return ForeignReader(path, "checkpoints", path.name)
    raise ForeignError(
        f"{path}: nothing to read (expected a run folder, an HF output folder with trainer_state.json or "
        "checkpoint-N/, a folder with logs/training_log_*.jsonl, a TensorBoard log folder with "
        "events.out.tfevents.*, or a JSONL file)"
    )
