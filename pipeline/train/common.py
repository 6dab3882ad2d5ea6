"""The flow every training stage shares, and the TrainingArguments built from a config section.

Order matters for the operator: cheap checks first (data rows, stage settings, backend, chat
template) so a bad run fails in seconds with one clear reason, before the model is loaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.checkpoints.store import last_complete
from pipeline.data.loaders import content_hash
from pipeline.errors import ConfigError
from pipeline.runs.cluster.ranks import agree, may_stop_early
from pipeline.runs.events import iter_events, parse_line, read_last_lines
from pipeline.runs.layout import STAGING
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext
from pipeline.train.checkpointing import CheckpointManager
from pipeline.train.guards import Guard
from pipeline.train.preflight import preflight


@dataclass
class TrainEnv:
    """What a stage's ``make_trainer`` gets."""

    ctx: StageContext
    section: Any
    model: Any
    tokenizer: Any
    dataset: Any  # datasets.Dataset
    args: dict[str, Any]  # TrainingArguments keywords shared by every stage
    callbacks: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageSpec:
    name: str
    make_trainer: Callable[[TrainEnv], Any]
    samples_per_step: Callable[[Any], int] | None = None
    reward_dims: tuple[str, ...] = ()
    prepare: Callable[[StageContext, Any], dict[str, Any]] | None = None  # (ctx, section) → env.extra


def is_main() -> bool:
    """Rank 0 (or no accelerate): the one process that writes events and metadata."""
    return os.environ.get("RANK", "0") == "0"


def config_hash(cfg: Any) -> str:
    return content_hash(cfg.to_dict())[:16]


def last_logged_step(path: Any) -> int:
    """The highest metrics step in events.jsonl (its tail first: a 1 GB log stays fast)."""
    if not path.exists():
        return 0
    for raw in reversed(read_last_lines(path, 500)):
        ev = parse_line(raw)
        if ev and ev.get("type") == EventType.METRICS and isinstance(ev.get("step"), int):
            return ev["step"]
    last = 0
    for _off, ev in iter_events(path):
        if ev.get("type") == EventType.METRICS and isinstance(ev.get("step"), int):
            last = max(last, ev["step"])
    return last


def checkpointing_key() -> str:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name goes in v6)."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def training_kwargs(section: Any, staging: str, cuda: bool, bf16: bool,
                    ckpt_key: str = "gradient_checkpointing") -> dict[str, Any]:
    """TrainingArguments keywords from a stage section (every TRL config takes these)."""
    kwargs = dict(
        output_dir=staging,
        learning_rate=section.learning_rate,
        num_train_epochs=section.epochs,
        max_steps=section.max_steps,
        per_device_train_batch_size=section.batch_size,
        gradient_accumulation_steps=section.grad_accum,
        warmup_steps=section.warmup_steps,
        weight_decay=section.weight_decay,
        max_grad_norm=section.max_grad_norm,
        seed=section.seed,
        logging_steps=section.logging_steps,
        save_strategy="no",  # the callback decides when to save (by epoch, step, stop, final)
        report_to="none",
        disable_tqdm=True,  # progress lives in events.jsonl; tqdm bars would bury errors in stderr.log
        logging_nan_inf_filter=False,  # HF hides NaN losses by default: exactly what seed 003 missed
        use_cpu=not cuda,
        bf16=cuda and bf16,
        fp16=cuda and not bf16,
        dataloader_pin_memory=cuda,
        dataloader_num_workers=2 if cuda else 0,  # keep a GPU fed; on CPU workers only steal cores
    )
    kwargs[ckpt_key] = bool(section.gradient_checkpointing and cuda)
    return kwargs


def resume_point(ctx: StageContext) -> tuple[str | None, int]:
    """The checkpoint to continue from, and the last step already logged (not to be logged again)."""
    ck = last_complete(ctx.run_dir, resumable_only=True)
    logged_until = last_logged_step(ctx.events.path)
    from_step = (ck.step or 0) if ck else 0
    msg = (f"resumed from {ck.name} (step {from_step})" if ck else "no complete checkpoint to resume from: "
           "training restarts from step 0")
    if logged_until > from_step:
        msg += f"; steps up to {logged_until} are already in events.jsonl and are not logged again"
    if is_main():
        ctx.emit(EventType.RESUME, from_step, checkpoint=ck.name if ck else None, logged_until=logged_until,
                 message=msg)
        ctx.log(msg)
    return (str(ck.path) if ck else None), logged_until


def run_stage(ctx: StageContext, spec: StageSpec) -> None:
    section = ctx.cfg.stage_section
    model_sec = ctx.cfg.sections["model"]
    try:
        # The same checks `aba run` made, on the data as it is now; run:<id> data is looked up beside this run.
        data = preflight(ctx.cfg, runs_dir=ctx.run_dir.parent)
    except ConfigError as exc:
        ctx.fail(str(exc))
    assert data is not None
    if data.duplicates and is_main():
        lines = ", ".join(map(str, data.duplicates[:10])) + (" …" if len(data.duplicates) > 10 else "")
        ctx.alert("data_duplicates", f"{spec.name}.data: dropped {len(data.duplicates)} duplicate rows "
                  f"(lines {lines})", level="warning")

    from pipeline.train import backends

    try:
        backend = backends.detect(model_sec.backend, model_sec.lora_r)
    except ConfigError as exc:
        ctx.fail(str(exc))
    for note in backend.notes if is_main() else []:
        ctx.alert("backend_fallback", note, level="warning")
    backends.quiet_progress_bars()  # after unsloth (if chosen) has patched transformers

    from pipeline.models.resolve import resolve_model
    from pipeline.train.chat_template import TemplateError, check_chat_template, load_template_override

    try:
        model_path = resolve_model(model_sec.source)
        tokenizer = backends.load_tokenizer(model_path)
    except ConfigError as exc:
        ctx.fail(str(exc))
    except OSError as exc:  # a hub id while offline, a folder without tokenizer files
        ctx.fail(f"model.source={model_sec.source!r}: cannot load the tokenizer ({str(exc).splitlines()[0][:300]})")
    eos_ids = backends.generation_eos_ids(model_path)
    try:
        load_template_override(tokenizer, model_sec.chat_template)
        check_chat_template(tokenizer, eos_ids)
    except TemplateError as exc:
        ctx.fail(f"chat template refused: {exc}")
    ctx.log(f"{spec.name}: {len(data)} rows from {data.source}; backend {backend.name}; model {model_path}")
    if may_stop_early(ctx.stop_requested.is_set()):
        return

    extra = spec.prepare(ctx, section) if spec.prepare else {}
    model, backend_tok = backends.load_model(backend, model_path, model_sec, section)
    if backend_tok is not None:  # unsloth's tokenizer: same files, same template override
        tokenizer = backend_tok
        load_template_override(tokenizer, model_sec.chat_template)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    if may_stop_early(ctx.stop_requested.is_set()):
        return

    import torch
    from datasets import Dataset as HFDataset

    staging = ctx.run_dir / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # leftovers of an interrupted save
    resume_from, logged_until = resume_point(ctx) if ctx.resume else (None, 0)

    base_meta = {
        "stage": spec.name, "run_id": ctx.run_id, "config_hash": config_hash(ctx.cfg), "data_hash": data.digest[:16],
        "base_model": str(model_path), "model_source": model_sec.source, "backend": backend.name,
        "adapter": model_sec.lora_r > 0,
    }
    manager = CheckpointManager(ctx.checkpoints_dir, staging, base_meta, section.best_metric,
                                section.keep_checkpoints)
    guard = Guard(section.nan_policy)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = spec.samples_per_step(section) if spec.samples_per_step else section.batch_size * section.grad_accum
    from pipeline.train.callback import StageCallback

    callback = StageCallback(ctx, section, manager, guard, per_step * world, spec.reward_dims, logged_until)
    bf16 = bool(backend.cuda and torch.cuda.is_bf16_supported())
    env = TrainEnv(ctx, section, model, tokenizer, HFDataset.from_list(data.rows),
                   training_kwargs(section, str(staging), backend.cuda, bf16, checkpointing_key()), [callback], extra)
    trainer = spec.make_trainer(env)
    if agree(ctx.stop_requested.is_set())[0]:  # the process group exists now: the ranks decide together
        return
    trainer.train(resume_from_checkpoint=resume_from)
    shutil.rmtree(staging, ignore_errors=True)
    if guard.failure:
        ctx.fail(guard.failure)
