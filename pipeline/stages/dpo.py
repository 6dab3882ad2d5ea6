"""DPO stage: TRL DPOTrainer on preference pairs (seed 003: β 0.1, lr 1e-5, 200 epochs, checkpoint every 10).

The reference model is the policy with its LoRA adapter disabled (no second copy in memory).
"""

from __future__ import annotations

from typing import Any

from pipeline.runs.worker import StageContext
from pipeline.train.common import StageSpec, TrainEnv, run_stage


def make_trainer(env: TrainEnv) -> Any:
    from trl import DPOConfig, DPOTrainer

    sec = env.section
    # sft_weight > 0 adds TRL's "sft" loss (NLL on the chosen answer) to the sigmoid DPO loss: RPO.
    loss = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, sec.sft_weight]} if sec.sft_weight > 0 else {}
    args = DPOConfig(**env.args, beta=sec.beta, max_length=sec.max_length, **loss)
    return DPOTrainer(model=env.model, args=args, train_dataset=env.dataset, processing_class=env.tokenizer,
                      callbacks=env.callbacks)


SPEC = StageSpec("dpo", make_trainer)


def run(ctx: StageContext) -> None:
    run_stage(ctx, SPEC)
