"""Alert rules as pure functions, and a book that turns conditions into one notification each.

Every rule takes plain values (numbers, timestamps, states) and returns an :class:`Alert` or None,
so it is tested directly; the UI's watcher thread calls them and the book decides what is new.
What the seeds missed and these catch: NaN/inf loss or gradient norm for thousands of steps, a
collapsed loss, a stalled worker, a starved GPU, VRAM about to run out, a run that died; and for the
other stages, a datagen run whose traces or judgements start failing, a study that stopped improving.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.runs.vocabulary import AlertLevel

ERROR: AlertLevel = "error"
WARNING: AlertLevel = "warning"
BAD_END_STATES = ("failed", "oom", "lost")


@dataclass(frozen=True)
class Alert:
    # nonfinite | loss_collapse | stalled | gpu_starved | vram_high | disk_low | disk_readonly | run_failed | …
    code: str
    level: AlertLevel
    message: str
    run_id: str | None = None
    key: str = ""  # identity for de-duplication; defaults to code + run

    def ident(self) -> str:
        return self.key or f"{self.code}:{self.run_id or '-'}"


@dataclass
class Thresholds:
    """Alert thresholds; the UI fills them from the [alerts] table of the user config."""

    stall_minutes: float = 10.0
    gpu_util_low_pct: float = 20.0
    gpu_util_window_s: float = 120.0
    vram_pct: float = 95.0
    collapse_loss: float = 1e-4
    collapse_ratio: float = 0.01
    collapse_window: int = 5
    disk_low_mb: float = 1024.0
    error_rate: float = 0.1  # datagen: share of the last traces with no complete text (datagen.max_lost's default)
    judge_missing_rate: float = 0.1  # datagen: share of the last complete traces the judge left unjudged
    rate_min_items: int = 10  # traces a datagen run must have before its rates are judged
    study_patience: int = 10  # abliteration: trials in a row that did not change the running best


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def nonfinite(run_id: str, metric: str, step: int | None, value: float) -> Alert | None:
    """A NaN or infinite metric (loss, grad_norm, reward …): training is broken from here on."""
    if not isinstance(value, float) or math.isfinite(value):
        return None
    where = f" at step {step}" if step is not None else ""
    return Alert("nonfinite", ERROR, f"{run_id}: {metric} is {value}{where}", run_id,
                 key=f"nonfinite:{run_id}:{metric}")


def loss_collapse(run_id: str, losses: Sequence[float], abs_threshold: float = 1e-4, ratio: float = 0.01,
                  window: int = 5) -> Alert | None:
    """The last ``window`` losses all below ``abs_threshold``, or all below ``ratio`` times the median
    of the first ``window`` (a 100× drop by default): the model memorised or degenerated."""
    if window < 1 or len(losses) < window:
        return None
    recent = list(losses[-window:])
    if not all(math.isfinite(v) for v in recent):
        return None
    worst = max(recent)
    if worst < abs_threshold:
        return Alert("loss_collapse", WARNING,
                     f"{run_id}: loss collapsed to {_fmt(worst)} (< {_fmt(abs_threshold)} for {window} points)",
                     run_id)
    if ratio > 0 and len(losses) >= 2 * window:
        start = statistics.median(losses[:window])
        if start > 0 and worst < ratio * start:
            return Alert("loss_collapse", WARNING,
                         f"{run_id}: loss fell from {_fmt(start)} to {_fmt(worst)} "
                         f"(below {_fmt(ratio)}× its start for {window} points)", run_id)
    return None


def stalled(run_id: str, state: str, last_activity: float | None, now: float, minutes: float) -> Alert | None:
    """A running run with no new event (nor status change) for ``minutes``."""
    if state != "running" or last_activity is None or minutes <= 0:
        return None
    idle = now - last_activity
    if idle < minutes * 60:
        return None
    return Alert("stalled", WARNING, f"{run_id}: no new event for {idle / 60:.0f} min (running)", run_id)


def gpu_starved(gpu: int, samples: Sequence[tuple[float, float | None]], now: float, window_s: float,
                threshold_pct: float, running: Sequence[str]) -> Alert | None:
    """Mean utilisation of GPU ``gpu`` below ``threshold_pct`` over the last ``window_s`` seconds while
    runs use it: the data loader (or a CPU step) starves it. ``samples`` are (time, util %) pairs,
    None where NVML could not read it; the window must be mostly covered before it fires."""
    if not running or window_s <= 0:
        return None
    recent = [(t, u) for t, u in samples if now - t <= window_s and u is not None]
    if len(recent) < 2 or recent[-1][0] - recent[0][0] < 0.8 * window_s:
        return None
    mean = sum(u for _t, u in recent) / len(recent)
    if mean >= threshold_pct:
        return None
    who = ", ".join(running[:3]) + (" …" if len(running) > 3 else "")
    return Alert("gpu_starved", WARNING,
                 f"GPU {gpu}: {mean:.0f}% busy over {window_s / 60:.0f} min while {who} runs "
                 f"(data loader starving it?)", running[0], key=f"gpu_starved:{gpu}")


def vram_high(gpu: int, used: int | None, total: int | None, pct: float) -> Alert | None:
    if not used or not total:
        return None
    share = 100.0 * used / total
    if share <= pct:
        return None
    return Alert("vram_high", WARNING,
                 f"GPU {gpu}: VRAM {share:.1f}% used ({used / 2**30:.1f}/{total / 2**30:.1f} GiB)",
                 key=f"vram_high:{gpu}")


def disk_low(path: str | None, free: int | None, total: int | None, threshold_mb: float,
             running: Sequence[str], readonly: bool = False) -> Alert | None:
    """The runs dir's filesystem below ``threshold_mb`` free (or read-only) while runs are live: the next
    checkpoint may not fit, and a run that cannot write fails."""
    if not running or free is None or path is None:
        return None
    who = ", ".join(running[:3]) + (" …" if len(running) > 3 else "")
    if readonly:
        return Alert("disk_readonly", ERROR, f"runs dir on {path} is read-only while {who} runs: runs cannot "
                     "record their state or checkpoints", running[0], key=f"disk_readonly:{path}")
    if threshold_mb <= 0 or free >= threshold_mb * 2**20:
        return None
    of = f" of {total / 2**30:.1f} GiB" if total else ""
    return Alert("disk_low", WARNING, f"runs dir on {path}: {free / 2**20:.0f} MiB free{of} while {who} runs "
                 f"(below {threshold_mb:g} MiB)", running[0], key=f"disk_low:{path}")


def rate_high(run_id: str, code: str, what: str, rate: float | None, threshold: float, done: int | None,
              min_items: int) -> Alert | None:
    """A share of the recent work gone wrong above ``threshold`` (0: off), once ``min_items`` are done (a first
    failure is not yet a rate)."""
    if rate is None or threshold <= 0 or done is None or done < min_items or rate <= threshold:
        return None
    return Alert(code, WARNING, f"{run_id}: {what} {rate:.0%} over the last traces (above {threshold:.0%})", run_id)


def study_stalled(run_id: str, since_best: float | None, patience: int) -> Alert | None:
    """``since_best`` trials in a row without a new running best (0 patience: off)."""
    if since_best is None or patience <= 0 or since_best < patience:
        return None
    return Alert("study_stalled", WARNING, f"{run_id}: no trial improved on the best for {since_best:.0f} trials "
                 "(stop it early, or widen the search)", run_id)


def stage_conditions(run_id: str, last: Mapping[str, object], done: int | None, th: Thresholds) -> list[Alert | None]:
    """The conditions a running run's latest metrics show (they are only present for their stage)."""

    def num(key: str) -> float | None:
        value = last.get(key)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return [
        rate_high(run_id, "error_rate_high", "traces with no complete text:", num("error_rate"), th.error_rate, done,
                  th.rate_min_items),
        rate_high(run_id, "judge_missing_high", "judgements missing:", num("judge_missing_rate"),
                  th.judge_missing_rate, done, th.rate_min_items),
        study_stalled(run_id, num("trials_since_best"), th.study_patience),
    ]


def run_ended(run_id: str, state: str, reason: str | None) -> Alert | None:
    """A run that ended failed, oom, or lost its supervisor."""
    if state not in BAD_END_STATES:
        return None
    return Alert(f"run_{state}", ERROR, f"{run_id}: {state}" + (f": {reason}" if reason else ""), run_id,
                 key=f"run_end:{run_id}")


def worker_alert(run_id: str, event: dict) -> Alert:
    """An alert event the worker wrote to events.jsonl (NaN guard, chain failure, …)."""
    code = str(event.get("code", "worker"))
    level = ERROR if event.get("level", ERROR) == ERROR else WARNING
    step = event.get("step")
    where = f" (step {step})" if step is not None else ""
    return Alert(code, level, f"{run_id}: {event.get('message', code)}{where}", run_id,
                 key=f"worker:{run_id}:{code}:{event.get('ts', step)}")


class AlertBook:
    """Remembers which alerts are raised so each condition notifies once.

    Latched alerts (NaN, a run's bad end, worker alerts) stay raised for the session. Conditions
    (stalled, starved, VRAM, collapse) are re-evaluated every pass through :meth:`sync`: one that
    clears may fire again later.
    """

    def __init__(self, history: int = 500) -> None:
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=history)
        self._scopes: dict[str, set[str]] = {}

    def latch(self, alert: Alert | None) -> bool:
        """Raise ``alert`` unless it was raised before; True when it is new."""
        if alert is None or alert.ident() in self.active:
            return False
        self.active[alert.ident()] = alert
        self.history.append(alert)
        return True

    def sync(self, scope: str, current: Iterable[Alert | None]) -> list[Alert]:
        """Set the conditions of ``scope`` to ``current``; return those newly raised."""
        now = {a.ident(): a for a in current if a is not None}
        before = self._scopes.get(scope, set())
        for gone in before - now.keys():
            self.active.pop(gone, None)
        fresh = [a for k, a in now.items() if k not in before and k not in self.active]
        for a in fresh:
            self.active[a.ident()] = a
            self.history.append(a)
        self._scopes[scope] = set(now)
        return fresh

    def for_run(self, run_id: str) -> list[Alert]:
        return [a for a in self.active.values() if a.run_id == run_id]

    def worst_level(self, run_id: str) -> AlertLevel | None:
        levels = {a.level for a in self.for_run(run_id)}
        return ERROR if ERROR in levels else WARNING if levels else None
