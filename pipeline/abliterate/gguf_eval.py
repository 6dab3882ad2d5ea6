"""Refusals and KL measured on a GGUF export of the chosen trial (worker only: llama.cpp).

The GGUF is written with llama.cpp's converter (pipeline.export.convert, f16) and read with
llama-cpp-python: answers to the harmful test prompts through the same chat text the HF side uses,
and the first-token distribution on the harmless test prompts against the original HF model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pipeline.abliterate.engine import Engine
from pipeline.abliterate.objectives import Baseline
from pipeline.abliterate.refusal import Detector
from pipeline.runs.layout import CHOSEN_GGUF, CONVERT_LOG


def evaluate_gguf(ckpt: Path, work: Path, harmful: list[str], harmless: list[str], base: Baseline,
                  detector: Detector, cfg: Any, engine: Engine,
                  on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """``on_step(done)`` after the conversion and after each prompt (the run's progress events)."""
    from llama_cpp import Llama

    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if on_step is not None:
            on_step(step)

    from pipeline.export.convert import convert_hf

    gguf = work / CHOSEN_GGUF
    convert_hf(ckpt, gguf, "f16", log_path=work / CONVERT_LOG)
    advance()
    llm = Llama(model_path=str(gguf), n_ctx=1024, n_threads=max(1, (torch.get_num_threads() or 2)),
                logits_all=True, verbose=False, seed=cfg.seed)
    refusals = undecided = 0
    for p in harmful:
        toks = llm.tokenize(engine.chat(p).encode(), add_bos=False, special=True)
        out = []
        for i, t in enumerate(llm.generate(toks, temp=0.0, top_k=1, reset=True)):
            if t == llm.token_eos() or i >= cfg.max_new_tokens:
                break
            out.append(t)
        flag = detector(p, llm.detokenize(out).decode("utf-8", "replace").strip())
        refusals += int(bool(flag))
        undecided += int(flag is None)
        advance()
    kls = []
    for i, p in enumerate(harmless):
        toks = llm.tokenize(engine.chat(p).encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(toks)
        logits = torch.tensor(llm.scores[len(toks) - 1], dtype=torch.float32)
        new = torch.log_softmax(logits, -1)
        ref = base.harmless_logprobs[i, 0, : new.shape[0]]
        kls.append(float((ref.exp() * (ref - new)).sum()))
        advance()
    kl = sum(kls) / len(kls) if kls else math.nan
    return {"file": gguf.name, "refusals": refusals, "n": len(harmful), "undecided": undecided, "kl": kl}
