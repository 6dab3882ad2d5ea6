"""The eval stage: probes, stance analysis, battery, judge and tournament → eval_report.{md,json}."""

from __future__ import annotations

from pipeline.evaluate.runner import EvalRun
from pipeline.runs.worker import StageContext


def run(ctx: StageContext) -> None:
    EvalRun(ctx).run()
