"""The merge stage: LoRA adapters → one adapter with PEFT's combination methods (pipeline/merge).

With ``merge.train`` it first trains Strategy B's branches (GRPO runs of their own), then merges their
best adapters with ``merge.sources``, and writes the comparison report (docs/merge.md).
"""

from __future__ import annotations

from pipeline.merge.job import MergeJob
from pipeline.runs.worker import StageContext


def run(ctx: StageContext) -> None:
    MergeJob(ctx).run()
