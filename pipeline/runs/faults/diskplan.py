"""The preflight's disk estimate: what a run (and its chain) will write, against the runs dir's free space.

Sizes come from the model's config.json (layers, widths, vocabulary): a LoRA adapter is r × (in + out)
per linear layer (PEFT's ``all-linear``), weights are 4 bytes a parameter (2 with a 16-bit dtype), AdamW
keeps two moments (8 bytes a trainable parameter), DPO saves its reference adapter next to the policy's,
and ``best``/``final`` are hard links (no extra disk). Exports write a merged model, an f16 GGUF and one
file per quantisation; datagen, eval, abliteration and merge runs as pipeline.runs.faults.diskstages says.
An estimate errs high by ``MARGIN``; a model-sized stage whose model's shape cannot be read is not checked
(the message says so only when asked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import registry
from pipeline.atomic import read_json_object
from pipeline.config.runref import is_run_ref
from pipeline.errors import ConfigError
from pipeline.runs.faults.disk import fmt_bytes, space

MARGIN = 1.10
TOKENIZER_BYTES = 4 << 20  # tokenizer.json and friends, copied into each checkpoint
# The embedded model's config.json (SmolLM2-135M-Instruct; tests/test_faults.py holds the two equal), known
# without building its HF folder and without importing pipeline.models, which sits above the run machinery.
EMBEDDED_SHAPE = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                  "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "vocab_size": 49152,
                  "tie_word_embeddings": True}
QUANT_BYTES = {"f16": 2.0, "q8_0": 1.0625, "q6_k": 0.82, "q5_k_m": 0.69, "q4_k_m": 0.6}


@dataclass
class Estimate:
    total: int = 0
    parts: list[str] = field(default_factory=list)

    def add(self, n: float, what: str) -> None:
        self.total += int(n)
        self.parts.append(f"{what} {fmt_bytes(n)}")


@dataclass(frozen=True)
class Shape:
    params: int  # every weight of the base model
    lora_per_rank: int  # LoRA parameters per unit of rank over all linear layers


def shape_of(config: dict[str, Any]) -> Shape:
    h, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    heads = config["num_attention_heads"]
    hd = config.get("head_dim") or h // heads
    kv = config.get("num_key_value_heads") or heads
    q, kvd = heads * hd, kv * hd
    linears = [(h, q), (h, kvd), (h, kvd), (q, h), (h, inter), (h, inter), (inter, h)]
    per_layer = sum(i * o for i, o in linears)
    embed = config["vocab_size"] * h * (1 if config.get("tie_word_embeddings", False) else 2)
    return Shape(layers * per_layer + embed, layers * sum(i + o for i, o in linears))


def model_config(source: str) -> dict[str, Any] | None:
    """config.json of ``model.source`` when it can be found without loading anything."""
    if source == "embedded":
        return dict(EMBEDDED_SHAPE)
    if is_run_ref(source):
        return None  # a parent's output: checked when the parent itself was launched
    p = Path(source).expanduser()
    return read_json_object(p / "config.json") if p.is_dir() else None


def _saves(sec: Any, rows: int | None) -> int:
    """Periodic checkpoints on disk at once (+1 for the final save, or the one written before rotation)."""
    per_step = max(1, sec.batch_size * sec.grad_accum)
    if sec.max_steps > 0:
        steps: int | None = sec.max_steps
        epochs = min(sec.epochs, sec.max_steps * per_step / rows) if rows else sec.epochs
    else:
        steps = math.ceil(rows / per_step * sec.epochs) if rows else None
        epochs = sec.epochs
    # The final save is its own checkpoint unless the last periodic one falls on the last step.
    if sec.save_steps > 0:
        n = (steps // sec.save_steps) if steps else 1  # at least one; the row count was unknown
        final = not steps or steps % sec.save_steps != 0
    elif sec.checkpoint_every > 0:
        n = int(epochs / sec.checkpoint_every + 1e-9)
        final = abs(epochs / sec.checkpoint_every - n) > 1e-9
    else:
        n, final = 0, True
    if steps:
        n = min(n, steps)  # at most one save a step
    n += 1 if final else 0
    n = max(n, 1)
    return min(n, sec.keep_checkpoints + 1) if sec.keep_checkpoints > 0 else n


def estimate(cfg: Any, rows: int | None = None) -> Estimate | None:
    """Bytes the config's stage and the rest of its chain will write; None when a stage needs the model's
    shape and it is unknown (datagen and eval need none: pipeline.runs.faults.diskstages)."""
    from pipeline.runs.faults import diskstages

    model = cfg.sections.get("model")
    conf = model_config(model.source) if model is not None else None
    shape: Shape | None = None
    try:
        shape = shape_of(conf) if conf is not None else None
    except (KeyError, TypeError, ZeroDivisionError):
        shape = None
    wbytes = 2 if model is not None and model.dtype in ("bfloat16", "float16") else 4
    est = Estimate()
    for stage in [cfg.stage, *cfg.then]:
        sec = cfg.sections.get(stage)
        if sec is None:
            continue
        if stage == "datagen":
            parts = [p for p in [diskstages.datagen(sec)] if p is not None]
        elif stage == "eval":
            parts = [p for p in [diskstages.evaluate(sec, cfg)] if p is not None]
        elif shape is None:
            return None
        elif stage == "export":
            parts = [(shape.params * 4, "merged weights"), (shape.params * 2, "f16 GGUF")]
            parts += [(shape.params * QUANT_BYTES.get(q.lower(), 2.0), f"{q} GGUF") for q in sec.quant
                      if q.lower() != "f16"]
        elif stage == "abliterate":
            parts = diskstages.abliterate(sec, shape.params, wbytes)
        elif stage == "merge":
            adapter = shape.lora_per_rank * max(1, sec.svd_rank or model.lora_r) * 4 + TOKENIZER_BYTES
            grpo = cfg.sections.get("grpo")
            branch = _training(shape, model, wbytes, "grpo", grpo, None)[0] if grpo is not None else None
            parts = diskstages.merge(sec, adapter, branch)
        elif hasattr(sec, "keep_checkpoints"):
            parts = [_training(shape, model, wbytes, stage, sec, rows if stage == cfg.stage else None)]
        else:
            parts = []
        for n, what in parts:
            est.add(n, what)
    return est


def _training(shape: Shape, model: Any, wbytes: int, stage: str, sec: Any, rows: int | None) -> tuple[float, str]:
    """A trainer's checkpoints on disk at once."""
    if model.lora_r > 0:
        trainable = shape.lora_per_rank * model.lora_r
        weights = trainable * 4 * (2 if stage == "dpo" else 1)  # DPO also saves the ref adapter
    else:
        trainable = shape.params
        weights = shape.params * wbytes
    one = weights + trainable * 8 + TOKENIZER_BYTES
    n = _saves(sec, rows)
    return one * n, f"{stage}: {n} checkpoint{'s' if n != 1 else ''} × {fmt_bytes(one)}"


def check_disk(cfg: Any, runs_dir: Path, rows: int | None = None) -> Estimate | None:
    """Refuse a run whose estimate exceeds the free space of the runs dir's filesystem.

    ``supervisor.disk_check = false`` (or ``aba run --force``) skips it."""
    sup = cfg.sections.get("supervisor")
    if sup is not None and not getattr(sup, "disk_check", True):
        return None
    if rows is None:
        rows = _rows(cfg)
    est = estimate(cfg, rows)
    free = space(runs_dir)
    if est is None or free is None:
        return est
    need = int(est.total * MARGIN)
    if free.free < need:
        raise ConfigError(
            f"--runs-dir {runs_dir}: {free.describe()}, but this run will write about {fmt_bytes(need)} "
            f"({'; '.join(est.parts)}; +{round((MARGIN - 1) * 100)}% margin). Free some space, keep fewer "
            f"checkpoints ({cfg.stage}.keep_checkpoints), or pass --force (supervisor.disk_check = false)")
    return est


def _rows(cfg: Any) -> int | None:
    info = registry.get(cfg.stage)
    sec = cfg.sections.get(info.own_section) if info.own_section else None
    if not info.loader or sec is None:
        return None
    try:
        return len(registry.resolve(info.loader)(sec.data, f"{info.name}.data").rows)
    except Exception:  # the preflight reports bad data; the estimate only loses its row count
        return None
