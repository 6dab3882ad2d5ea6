"""The disk estimate of the stages that are not trainers or exports (pipeline.runs.faults.diskplan asks).

What each writes, erring high: datagen a JSONL row a trace (its answer at its token cap, ~4 bytes a token,
twice with Gemini's thought summaries, plus the messages and the judgement) and the training files built
from them (as much again); eval its answers (models × questions × samples × settings, each at its cap);
abliteration the chosen trial's full weights (and an f16 GGUF with ``gguf_eval``); a merge its merged
adapter, and for Strategy B the branch runs it trains (each as a GRPO run of the same config). The counts
of prompts and questions come from their sets (read through the registry's loaders, so the run machinery
imports no stage package); a set that cannot be read counts as its cap or is left out.
"""

from __future__ import annotations

from typing import Any

from pipeline import registry

BYTES_PER_TOKEN = 4
ROW_BYTES = 2048  # a row's messages, keys, finish, judgement and timestamps
DEFAULT_CATEGORIES = "pipeline.datagen.config:CATEGORIES"


def _count(ref: str, *args: Any) -> int | None:
    try:
        return len(registry.resolve(ref)(*args))
    except Exception:  # the preflight reports a bad set; the estimate only loses the count
        return None


def datagen(sec: Any) -> tuple[float, str] | None:
    if sec.per_category > 0:
        cats = len(sec.categories) or len(registry.resolve(DEFAULT_CATEGORIES))
        prompts: int | None = sec.per_category * cats
    else:
        prompts = _count("pipeline.datagen.prompts:load_prompt_set", sec.prompts)
        if prompts is not None and sec.max_prompts > 0:
            prompts = min(prompts, sec.max_prompts)
    if not prompts:
        return None
    thoughts = 2 if sec.backend == "gemini" and sec.include_thoughts else 1
    row = sec.max_tokens * BYTES_PER_TOKEN * thoughts + ROW_BYTES
    traces = prompts * sec.traces
    return traces * row * 2, f"datagen: {traces} traces and their training files"


def evaluate(sec: Any, cfg: Any) -> tuple[float, str] | None:
    questions = sum(_count("pipeline.evaluate.questions:load_questions", q) or 0 for q in sec.questions)
    # model.source, or the checkpoints evaluated instead ("all": known once the source ran; taken as 3)
    source = len([c for c in sec.checkpoints if c != "all"]) + 3 * ("all" in sec.checkpoints) or 1
    models = source + bool(sec.baseline) + len(sec.models)
    answers = models * questions * sec.samples * max(1, len(sec.temperatures))
    if not answers:
        return None
    return answers * (sec.max_tokens * BYTES_PER_TOKEN + ROW_BYTES), f"eval: {answers} answers"


def abliterate(sec: Any, params: int, wbytes: int) -> list[tuple[float, str]]:
    if sec.compare_cones:
        return []  # a comparison of two studies saves no checkpoint
    out: list[tuple[float, str]] = [(params * wbytes, "abliterate: the chosen trial's weights")]
    if sec.gguf_eval:
        out.append((params * 2, "abliterate: its f16 GGUF"))
    return out


def merge(sec: Any, adapter: float, grpo_run: float | None) -> list[tuple[float, str]]:
    """``grpo_run``: what one GRPO run of the config writes (None: no [grpo] section)."""
    out = [(adapter, "merge: the merged adapter")]
    branches = len(sec.train) + (sec.joint != "off")
    if branches and grpo_run is not None:
        out.append((branches * grpo_run, f"merge: {branches} branch run{'s' if branches > 1 else ''}"))
    return out
