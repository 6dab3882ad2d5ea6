"""The abliterate stage: refusal directions, an Optuna study over the ablation kernel, the chosen trial
saved as a checkpoint (pipeline/abliterate/, docs/abliteration.md)."""

from __future__ import annotations

from pipeline.runs.worker import StageContext


def run(ctx: StageContext) -> None:
    from pipeline.abliterate.runner import run as run_study

    run_study(ctx)
