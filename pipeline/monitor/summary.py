"""One run at a glance, and several side by side (LlamaBoard's and W&B's runs table): its resolved
config flattened to ``section.key``, the best value of each metric it logged, its peak RAM/CPU/VRAM
(the supervisor's ``resources`` events), its note and tags. No Textual; read in a worker thread.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.metrics import lower_is_better
from pipeline.config.run import build_config
from pipeline.monitor import fmt
from pipeline.runs.events import iter_events, parse_line, read_last_lines
from pipeline.runs.layout import EVENTS_FILE, RUN_TOML
from pipeline.runs.notes import RunNotes, read_notes
from pipeline.runs.status import read_status
from pipeline.runs.vocabulary import EventType
from pipeline.safeio import read_bounded

TOML_MAX_BYTES = 1 << 20  # a run.toml is a few KB; a folder is input

# The metrics a comparison shows first, when logged; the others a run logged follow by name.
HEADLINE = ("loss", "eval_loss", "accuracy", "eval_accuracy", "margins", "reward", "kl")
# Config keys that say where a run came from, not how it trained: never a "differing hyper-parameter".
NOT_PARAMS = frozenset({"name", "description", "parent", "after", "then", "stage"})
# Logged numbers whose "best" means nothing (rates, counters, schedules).
NOT_BEST = frozenset({"lr", "learning_rate", "epoch", "pid", "eta_s", "samples_per_s", "tokens_per_s", "grad_norm",
                      "done", "total", "items_per_s", "requests", "retries", "errors", "completion_length"})
WHOLE_FILE = 64 << 20  # bigger events files: the best of their last TAIL_LINES lines
TAIL_LINES = 200_000


@dataclass
class RunSummary:
    run_id: str
    path: Path
    stage: str = "?"
    state: str = "?"
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    config: dict[str, Any] = field(default_factory=dict)  # section.key → value, as in run.toml
    defaults: dict[str, Any] = field(default_factory=dict)  # the stage's defaults, same keys
    best: dict[str, float] = field(default_factory=dict)  # metric → best value (min or max by its kind)
    last: dict[str, float] = field(default_factory=dict)
    step: int | None = None
    peaks: dict[str, Any] | None = None  # the last resources event
    notes: RunNotes = field(default_factory=RunNotes)
    partial: bool = False  # best values from the end of a big events file only

    def changed(self) -> dict[str, Any]:
        """Config values that differ from the stage's defaults."""
        return {k: v for k, v in self.config.items() if k not in self.defaults or self.defaults[k] != v}


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested tables → ``section.key``; lists stay values."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def summarize(run_dir: Path) -> RunSummary:
    run_dir = Path(run_dir)
    s = RunSummary(run_dir.name, run_dir)
    try:
        raw = tomllib.loads(read_bounded(run_dir / RUN_TOML, TOML_MAX_BYTES).decode("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError):
        raw = {}
    s.config = {k: v for k, v in flatten(raw).items() if k.split(".")[0] not in NOT_PARAMS}
    s.stage = str(raw.get("stage", "?"))
    try:
        defaults = build_config(s.stage, [], check_paths=False).to_dict()
        s.defaults = {k: v for k, v in flatten(defaults).items() if k.split(".")[0] not in NOT_PARAMS}
    except Exception:  # an unknown stage or a plugin that is gone: no defaults to compare with
        s.defaults = {}
    try:
        st = read_status(run_dir)
        s.state, s.reason, s.started_at, s.ended_at = st.state, st.reason, st.started_at, st.ended_at
    except (OSError, ValueError):
        s.state = "unreadable"
    _read_events(run_dir / EVENTS_FILE, s)
    s.notes = read_notes(run_dir)
    return s


def _read_events(path: Path, s: RunSummary) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size > WHOLE_FILE:
        s.partial = True
        events = (e for e in map(parse_line, read_last_lines(path, TAIL_LINES)) if e is not None)
    else:
        events = (e for _off, e in iter_events(path))
    for ev in events:
        kind = ev.get("type", EventType.METRICS)
        if kind == EventType.RESOURCES:
            s.peaks = ev
        elif kind == EventType.METRICS:
            if isinstance(ev.get("step"), int):
                s.step = max(s.step or 0, ev["step"])
            for key, value in ev.items():
                if key in ("ts", "type", "step") or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if not math.isfinite(value):
                    continue
                s.last[key] = float(value)
                best = s.best.get(key)
                if best is None or (value < best if lower_is_better(key) else value > best):
                    s.best[key] = float(value)


def peaks_line(peaks: dict[str, Any] | None) -> str:
    """``peak RAM 1.6G of 23.5G · CPU 192 % (2 cores) · VRAM 21.3G of 80.0G`` (what sizes the next run)."""
    if not peaks:
        return "peaks: not recorded (a run from before the supervisor recorded them)"
    parts = [f"peak RAM {fmt.size(peaks.get('peak_rss_bytes'))}"
             + (f" of {fmt.size(peaks['ram_total_bytes'])}" if peaks.get("ram_total_bytes") else ""),
             f"CPU {peaks.get('peak_cpu_pct', 0):.0f} % of one core ({peaks.get('cpus', '?')} cores)"]
    if peaks.get("peak_vram_bytes") is not None:
        parts.append(f"VRAM {fmt.size(peaks['peak_vram_bytes'])}"
                     + (f" of {fmt.size(peaks['vram_total_bytes'])}" if peaks.get("vram_total_bytes") else ""))
    else:
        parts.append("VRAM: no NVIDIA GPU in use")
    return " · ".join(parts) + ("" if peaks.get("final") else " (so far)")


@dataclass
class Comparison:
    """Runs × the hyper-parameters that differ among them × their best metrics."""

    runs: list[RunSummary]
    params: list[str]  # config keys whose values differ between the runs
    metrics: list[str]  # metrics any run logged, the headline ones first

    def value(self, run: RunSummary, column: str) -> Any:
        if column in self.params:
            return run.config.get(column)
        if column in self.metrics:
            return run.best.get(column)
        return None


def compare(runs: list[RunSummary], max_metrics: int = 6) -> Comparison:
    keys = sorted({k for r in runs for k in r.config})
    params = [k for k in keys if len({repr(r.config.get(k)) for r in runs}) > 1]
    params.sort(key=lambda k: (k.split(".")[0] == "supervisor", k))  # how it trained before how it ran
    seen = {m for r in runs for m in r.best}
    metrics = [m for m in HEADLINE if m in seen]
    metrics += sorted(m for m in seen - set(metrics) if m not in NOT_BEST)
    return Comparison(runs, params, metrics[:max_metrics])
