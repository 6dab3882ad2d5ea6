"""GRPO stage: TRL GRPOTrainer with seed 000's reward, a weighted sum of 9 scored dimensions.

The sum is the project's (pipeline/rewards): one TRL reward function that leaves a missing dimension
out and renormalises the present weights, and gives None (a skipped row) when nothing was scored; it
logs each dimension's mean and the share of missing scores. The scorer runs once per completion.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pipeline.errors import ConfigError
from pipeline.judge.dimensions import DIMENSIONS
from pipeline.judge.interface import Judgement
from pipeline.rewards.judge import JudgeScorer
from pipeline.rewards.scorer import get_scorer
from pipeline.rewards.trl_funcs import RewardBank
from pipeline.rewards.weights import parse_weights
from pipeline.runs.layout import JUDGE_CACHE
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext
from pipeline.train.common import StageSpec, TrainEnv, is_main, run_stage

MIN_TRL = (1, 6)  # the first TRL whose GRPO skips a completion every reward function left None


def prepare(ctx: StageContext, sec: Any) -> dict[str, Any]:
    check_trl(ctx)
    options = None
    if sec.scorer == "judge":  # cached beside the run's checkpoints: a resumed run pays nothing twice
        options = {"section": ctx.cfg.sections.get("judge"), "cache_dir": ctx.run_dir / JUDGE_CACHE}
    try:
        scorer = get_scorer(sec.scorer, options)
    except ConfigError as exc:
        ctx.fail(str(exc))

    def problem(code: str, message: str) -> None:
        if is_main():
            ctx.alert(code, message, level="warning")

    if isinstance(scorer, JudgeScorer):
        check_judge(ctx, sec, scorer)
        scorer.on_batch = partial(_log_judge_stats, ctx, scorer)

    return {"bank": RewardBank(scorer, DIMENSIONS, problem), "weights": parse_weights(sec.reward_weights)}


def check_judge(ctx: StageContext, sec: Any, scorer: JudgeScorer) -> None:
    """A reward from a judge without signal trains on noise: measure the judge once (cached per judge id in
    the run's judge cache) and stop unless grpo.allow_weak_judge says to go on."""
    from dataclasses import replace

    from pipeline.evaluate.reliability import cached_measure
    from pipeline.judge.config import JudgeSection
    from pipeline.judge.factory import make_judge

    section = ctx.cfg.sections.get("judge") or JudgeSection()
    ctx.log(f"grpo: measuring the judge {scorer.judge.id} on the calibration pairs")
    rel = cached_measure(scorer.judge, ctx.run_dir / JUDGE_CACHE,
                         lambda: make_judge(replace(section, cache=False)))
    if rel["signal"]:
        ctx.log(f"grpo: judge reliability ok ({rel['calibration_score']['k']}/{rel['calibration_score']['n']} "
                "calibration pairs scored the right way round)")
        return
    why = "; ".join(rel["reasons"])
    if sec.allow_weak_judge:
        ctx.alert("weak_judge", f"{rel['flag']}: {why}; training anyway (grpo.allow_weak_judge = true)",
                  level="warning")
        return
    ctx.fail(f"{rel['flag']}: {why}. A reward from this judge is noise; use a stronger [judge] or set "
             "grpo.allow_weak_judge = true to train anyway")


def check_trl(ctx: StageContext) -> None:
    """A completion with nothing scored is None to TRL; TRL 1.6 keeps such a row out of its group's baseline
    with an advantage of 0. An older TRL counts it as a reward of 0, which is what the judge reward avoids."""
    from importlib.metadata import version

    found = version("trl")
    parts = [int(p) if p.isdigit() else 0 for p in found.split(".")[:2]]
    if tuple(parts) < MIN_TRL:
        ctx.fail(f"grpo: trl {found} is too old: it counts a completion the judge could not score as a reward of "
                 f"0 (need trl >= {'.'.join(map(str, MIN_TRL))}; pip install -U trl)")


def _log_judge_stats(ctx: StageContext, scorer: JudgeScorer, batch: list[Judgement]) -> None:
    """After each batch the judge scored, a ``judge`` event: judged, missing (never zeros), requests, cost."""
    if is_main():
        missing = sum(1 for j in batch if not j.ok or j.missing_dimensions())
        ctx.emit(EventType.JUDGE, None, batch=len(batch), batch_missing=missing, **scorer.stats())


def make_trainer(env: TrainEnv) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    sec, bank, weights = env.section, env.extra["bank"], env.extra["weights"]
    args = GRPOConfig(**env.args, num_generations=sec.num_generations,
                      max_completion_length=sec.max_completion_length, beta=sec.beta)
    return GRPOTrainer(model=env.model, reward_funcs=[bank.reward_func(weights)], args=args,
                       train_dataset=env.dataset, processing_class=env.tokenizer, callbacks=env.callbacks)


SPEC = StageSpec("grpo", make_trainer, reward_dims=DIMENSIONS, prepare=prepare)


def run(ctx: StageContext) -> None:
    run_stage(ctx, SPEC)
