"""A toy stage added through the registry alone: this one module (its section, its entry, its run)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import opt
from pipeline.config.schema import SupervisorSection
from pipeline.registry import Stage
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext


@dataclass
class ToySection:
    steps: int = opt(3, "steps to count", min=1)
    word: str = opt("hello", "what each step says")


STAGE = Stage("toy", "counts steps (a test of the registry)", {"toy": ToySection, "supervisor": SupervisorSection},
              module=__name__, oom_halve=("steps",))


def run(ctx: StageContext) -> None:
    sec = ctx.cfg.section("toy")
    ctx.emit(EventType.PROGRESS, 0, total_steps=sec.steps)
    for step in range(1, sec.steps + 1):
        ctx.emit(EventType.METRICS, step, loss=1.0 / step, word=sec.word)
