"""SFT stage: TRL SFTTrainer + LoRA with the loss on the answer only (not on system and user tokens).

Rows are prompt/completion chat messages (pipeline.data.loaders.load_sft), so TRL masks the prompt
(completion_only_loss) and applies the chat template the guard has checked.
"""

from __future__ import annotations

from typing import Any

from pipeline.runs.worker import StageContext
from pipeline.train.common import StageSpec, TrainEnv, run_stage


def make_trainer(env: TrainEnv) -> Any:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**env.args, max_length=env.section.max_length, completion_only_loss=True, packing=False)
    return SFTTrainer(model=env.model, args=args, train_dataset=env.dataset, processing_class=env.tokenizer,
                      callbacks=env.callbacks)


SPEC = StageSpec("sft", make_trainer)


def run(ctx: StageContext) -> None:
    run_stage(ctx, SPEC)
