"""The datagen stage: seed 000's prompts → traces at three levels → 9-dimension judgements (docs/datagen.md)."""

from __future__ import annotations

from pipeline.datagen.runner import Datagen
from pipeline.runs.worker import StageContext


def run(ctx: StageContext) -> None:
    Datagen(ctx).run()
