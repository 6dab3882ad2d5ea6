"""What a merge run tells its dashboard while its branches run: their steps summed as its progress (a
Strategy B run spends nearly all its time there), and each branch's share done and latest reward as its
charts (docs/events.md, `metrics`).

The merge worker already looks at its branches once a ``poll``; each look re-reads a branch's events only
when its file changed, and only its first and last blocks (the same summary ``aba ps`` prints).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import registry
from pipeline.monitor.entries import file_sig, summarize_tail
from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.vocabulary import EventType

if TYPE_CHECKING:
    from pipeline.runs.worker import StageContext


def merge_phases(sec: Any) -> list[str]:
    """The phases of a merge run with this [merge] section."""
    trains = bool(sec.train) or sec.joint != "off"
    return (["branches"] if trains else []) + ["merge"] + (["compare"] if sec.compare else [])


@dataclass
class _Seen:
    sig: tuple[int, int] | None = None
    done: int = 0
    total: int | None = None
    reward: float | None = None


class BranchWatch:
    def __init__(self, ctx: StageContext, phase: str) -> None:
        self.ctx = ctx
        self.phase = phase
        self.phases = merge_phases(ctx.cfg.section("merge"))
        self.seen: dict[str, _Seen] = {}
        self.last: tuple[Any, ...] | None = None

    def start(self, done: int = 0, total: int = 1) -> None:
        self.ctx.emit(EventType.PROGRESS, done, total_steps=total, phase=self.phase, phases=self.phases)

    def look(self, branches: Sequence[tuple[str, str | None]], root: Path, stages: dict[str, str]) -> None:
        """Read what changed in each branch's events (``branches``: label, run id or None while pending); emit
        the run's progress and charts when they moved."""
        for label, run_id in branches:
            if run_id is None:
                continue
            path = root / run_id / EVENTS_FILE
            seen = self.seen.setdefault(label, _Seen())
            sig = file_sig(path)
            if sig is None or sig == seen.sig:
                continue
            seen.sig = sig
            st = registry.stages().get(stages.get(label, ""))
            summary = summarize_tail(path, counted_by=st.counted_by if st else "metrics")
            seen.done = int(summary.get("done") or 0)
            seen.total = summary.get("total")
            seen.reward = summary.get("reward")
        # A branch not started yet trains the same config as the others: its total is theirs.
        known = [s.total for s in self.seen.values() if s.total]
        guess = max(known) if known else None
        labels = [label for label, _rid in branches]
        done = sum(self.seen[label].done for label in labels if label in self.seen)
        total = sum((s.total if (s := self.seen.get(label)) and s.total else guess or 0) for label in labels)
        charted: dict[str, Any] = {}
        for label in labels:
            s = self.seen.get(label)
            if s is None:
                continue
            if s.total:
                charted[f"progress/{label}"] = round(min(1.0, s.done / s.total), 4)
            if s.reward is not None:
                charted[f"reward/{label}"] = s.reward
        state = (done, total, tuple(sorted(charted.items())))
        if state == self.last or not total:
            return
        self.last = state
        self.ctx.emit(EventType.PROGRESS, done, total_steps=total, phase=self.phase, phases=self.phases)
        if charted:
            self.ctx.emit(EventType.METRICS, done, **charted)
