"""What an eval run tells its dashboard: each phase's count (answers, then the judge's answers, then the
tournament's matches), the answering pace, and each model's headline metrics as they land.

The runner calls these at its phase boundaries and from the callbacks it already has (a probe batch
written, a model judged, a match played); the events are `progress` (the phase's count: ETA and the
runs pane's phase) and `metrics` (the charts, docs/events.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.monitor.pace import Pace
from pipeline.runs.vocabulary import EventType

if TYPE_CHECKING:
    from pipeline.runs.worker import StageContext


def eval_phases(judge: str, tournament: bool, models: int) -> list[str]:
    """The phases a run with this config goes through (the judge's and the tournament's only with a judge)."""
    out = ["answer"]
    if judge.strip() not in ("", "none"):
        out.append("judge")
        if tournament and models > 1:
            out.append("tournament")
    return out


class EvalProgress:
    def __init__(self, ctx: StageContext, phases: list[str]) -> None:
        self.ctx = ctx
        self.phases = phases
        self.pace = Pace()
        self.total = 0
        self.done = 0

    def start(self, phase: str, total: int, **extra: Any) -> None:
        self.total, self.done = total, 0
        self.ctx.emit(EventType.PROGRESS, 0, total_steps=total, phase=phase, phases=self.phases, **extra)

    def answered(self, done: int, fresh: int | None = None) -> None:
        """Answers so far (all models): the count, and the pace over the last minute of the ``fresh`` ones
        just written (default: all since the last call; answers a resume found already written are not)."""
        self.pace.add(done - self.done if fresh is None else fresh)
        self.done = done
        self.ctx.emit(EventType.PROGRESS, done, total_steps=self.total, phase="answer")
        self.ctx.emit(EventType.METRICS, done, answers_per_min=self.pace.per_min())

    def judged(self, done: int, total: int) -> None:
        """The judge's count: ``done`` of ``total`` answers scored (0: the phase starts)."""
        if done == 0:
            self.start("judge", total)
        else:
            self.advanced("judge", done - self.done)

    def advanced(self, phase: str, n: int = 1) -> None:
        """``n`` more of the current phase's units (a model's judged answers, a match)."""
        self.done += n
        self.total = max(self.total, self.done)
        self.ctx.emit(EventType.PROGRESS, self.done, total_steps=self.total, phase=phase)

    def headline(self, place: int, metrics: Mapping[str, Any]) -> None:
        """One model's headline metrics (step: its place in the report, 1-based), for the charts."""
        values: dict[str, Any] = {f"headline/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
        if values:
            self.ctx.emit(EventType.METRICS, place, **values)
