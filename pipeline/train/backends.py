"""Model + tokenizer + LoRA per backend: unsloth, QLoRA (4-bit bitsandbytes), or plain HF + PEFT.

``auto`` follows seed 000: unsloth when CUDA and unsloth are there; else QLoRA when CUDA and
bitsandbytes are; else standard (CPU included: float32, no gradient checkpointing). unsloth must be
imported before transformers/trl to patch them, so the stage picks the backend before importing
either. An unsloth that fails to import under ``auto`` falls back to QLoRA with an alert (seed 000's
Triton crashes); asked for by name, it fails the run with the reason.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class Backend:
    name: str  # unsloth | qlora | standard
    cuda: bool
    notes: list[str] = field(default_factory=list)  # fallbacks taken, for an alert


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def choose_backend(requested: str, cuda: bool, has_unsloth: bool, has_bnb: bool, lora_r: int) -> Backend:
    """Pure decision (tested without a GPU); raises ConfigError for an impossible request."""
    if lora_r == 0 and requested in ("unsloth", "qlora"):
        raise ConfigError(f"model.backend={requested!r} trains LoRA adapters; model.lora_r=0 (full fine-tune) "
                          "needs model.backend = \"standard\"")
    if requested == "standard":
        return Backend("standard", cuda)
    if requested in ("unsloth", "qlora") and not cuda:
        raise ConfigError(f"model.backend={requested!r} needs an NVIDIA GPU with CUDA, and none is visible "
                          "(use model.backend = \"auto\" or \"standard\")")
    if requested == "unsloth" and not has_unsloth:
        raise ConfigError("model.backend='unsloth': the unsloth package is not installed (pip install "
                          "'aba-control-centre[gpu]', or use model.backend = \"qlora\")")
    if requested == "qlora" and not has_bnb:
        raise ConfigError("model.backend='qlora': bitsandbytes is not installed (pip install bitsandbytes)")
    if requested != "auto":
        return Backend(requested, cuda)
    if not cuda or lora_r == 0:
        return Backend("standard", cuda)
    if has_unsloth:
        return Backend("unsloth", cuda)
    return Backend("qlora" if has_bnb else "standard", cuda)


def detect(requested: str, lora_r: int) -> Backend:
    """Look at this machine, then decide. Imports unsloth (first) when it is the choice."""
    import torch

    cuda = torch.cuda.is_available()
    backend = choose_backend(requested, cuda, has_module("unsloth"), has_module("bitsandbytes"), lora_r)
    if backend.name == "unsloth":
        try:
            import unsloth  # noqa: F401  (patches transformers/trl; must come first)
        except Exception as exc:
            if requested == "unsloth":
                raise ConfigError(f"model.backend='unsloth': unsloth failed to import ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}); use model.backend = \"qlora\" or \"standard\"") from None
            fallback = "qlora" if has_module("bitsandbytes") else "standard"
            backend = Backend(fallback, cuda, [f"unsloth failed to import ({type(exc).__name__}: "
                                               f"{str(exc)[:160]}); using {fallback}"])
    return backend


def quiet_progress_bars() -> None:
    """No tqdm bars in stderr.log: progress lives in events.jsonl, and stderr should show the errors."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def torch_dtype(setting: str, cuda: bool) -> Any:
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if not cuda:
        return torch.float32  # CPU: bf16 kernels are slow or missing on many CPUs
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_tokenizer(path: Path | str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def generation_eos_ids(path: Path | str) -> list[int]:
    """EOS ids from generation_config.json (instruct models often list the end-of-turn token there)."""
    try:
        from transformers import GenerationConfig

        eos = GenerationConfig.from_pretrained(str(path)).eos_token_id
    except Exception:  # no generation_config.json: the tokenizer's EOS is all we have
        return []
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, list) else [eos])]


def lora_config(model_sec: Any) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=model_sec.lora_r, lora_alpha=model_sec.lora_alpha, lora_dropout=model_sec.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def load_model(backend: Backend, path: Path | str, model_sec: Any, section: Any) -> tuple[Any, Any | None]:
    """The model to train (a PeftModel unless lora_r = 0), and unsloth's own tokenizer if any."""
    gc = bool(section.gradient_checkpointing and backend.cuda)
    if backend.name == "unsloth":
        from unsloth import FastLanguageModel

        model, tok = FastLanguageModel.from_pretrained(model_name=str(path), max_seq_length=section.max_length,
                                                       load_in_4bit=True, dtype=None)
        model = FastLanguageModel.get_peft_model(
            model, r=model_sec.lora_r, lora_alpha=model_sec.lora_alpha, lora_dropout=model_sec.lora_dropout,
            target_modules=LORA_TARGETS, use_gradient_checkpointing="unsloth" if gc else False,
            random_state=section.seed)
        return model, tok

    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    dtype = torch_dtype(model_sec.dtype, backend.cuda)
    if backend.name == "qlora":
        import torch
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = dtype if dtype in (torch.bfloat16, torch.float16) else torch.bfloat16
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
        import os

        device_map = {"": int(os.environ.get("LOCAL_RANK", "0"))}
        model = AutoModelForCausalLM.from_pretrained(str(path), quantization_config=quant, dtype=compute,
                                                     device_map=device_map)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gc)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        if gc:
            model.enable_input_require_grads()  # frozen embeddings + checkpointing need this with LoRA
    if model_sec.lora_r > 0:
        model = get_peft_model(model, lora_config(model_sec))
    return model, None
