"""GRPO stage: TRL GRPOTrainer with seed 000's reward, a weighted sum of 9 scored dimensions.

Each dimension is its own TRL reward function (weights = grpo.reward_weights), so TRL logs every
dimension's mean (rewards/<dim>) beside the summed reward; the scorer runs once per completion.
"""

from __future__ import annotations

from typing import Any

from pipeline.data.loaders import load_prompts
from pipeline.errors import ConfigError
from pipeline.rewards.dimensions import DIMENSIONS, parse_weights
from pipeline.rewards.scorer import get_scorer
from pipeline.rewards.trl_funcs import RewardBank
from pipeline.train.common import StageSpec, TrainEnv, run_stage


def validate(sec: Any) -> None:
    """What GRPOConfig would reject, said in the config's own terms before the model loads."""
    parse_weights(sec.reward_weights)
    per_generation = sec.batch_size * sec.grad_accum
    if per_generation % sec.num_generations:
        raise ConfigError(f"grpo: batch_size × grad_accum = {per_generation} completions a generation round, "
                          f"which is not a multiple of grpo.num_generations={sec.num_generations} (each prompt "
                          "needs a full group)")


def prepare(ctx: Any, sec: Any) -> dict[str, Any]:
    try:
        scorer = get_scorer(sec.scorer)
    except ConfigError as exc:
        ctx.fail(str(exc))

    def problem(code: str, message: str) -> None:
        ctx.alert(code, message, level="warning")

    return {"bank": RewardBank(scorer, DIMENSIONS, problem), "weights": parse_weights(sec.reward_weights)}


def make_trainer(env: TrainEnv) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    sec, bank, weights = env.section, env.extra["bank"], env.extra["weights"]
    args = GRPOConfig(**env.args, num_generations=sec.num_generations,
                      max_completion_length=sec.max_completion_length, beta=sec.beta,
                      reward_weights=[weights[d] for d in DIMENSIONS])
    return GRPOTrainer(model=env.model, reward_funcs=bank.funcs(), args=args, train_dataset=env.dataset,
                       processing_class=env.tokenizer, callbacks=env.callbacks)


SPEC = StageSpec("grpo", load_prompts, make_trainer, validate=validate, reward_dims=DIMENSIONS, prepare=prepare)


def run(ctx: Any) -> None:
    run_stage(ctx, SPEC)
