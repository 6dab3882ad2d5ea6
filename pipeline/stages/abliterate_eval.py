"""The abliterate_eval stage: a model on its abliterate ancestor's yardstick, the heal chain's report
(pipeline/abliterate/heal_eval.py, docs/abliteration.md)."""

from __future__ import annotations

from pipeline.runs.worker import StageContext


def run(ctx: StageContext) -> None:
    from pipeline.abliterate.heal_eval import run as run_eval

    run_eval(ctx)
