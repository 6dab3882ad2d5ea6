"""The ``[eval]`` config section (light: the registry, the launch form and the UI read it)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import opt


@dataclass
class EvalSection:
    baseline: str = opt("embedded", "the 'before' model compared with model.source ('' for none)")
    models: list[str] = opt([], "more models: run:<id>[@best|@checkpoint-010], an HF folder, a .gguf, an http URL")
    checkpoints: list[str] = opt([], "with model.source = run:<id>: evaluate these checkpoints of that run instead "
                                 "of its best: [\"all\"] (every periodic one) or names. A run whose best_metric is "
                                 "eval_<metric> then gets best re-pointed by that metric")
    questions: list[str] = opt(["builtin:stance-heldout"], "question sets: builtin:<name> or JSONL files")
    battery: str = opt("builtin:battery-12", "battery file (the A/B chat's format) or builtin:<name>; '' for none")
    samples: int = opt(3, "samples per question and setting", min=1, max=100)
    temperatures: list[str] = opt(["0.7"], "sampling settings: one temperature each (0 = greedy)")
    top_p: float = opt(0.95, "nucleus sampling", min=0.01, max=1.0)
    max_tokens: int = opt(128, "max new tokens an answer", min=1, max=8192)
    system_prompt: str = opt("", "system prompt for every question ('' for none)", multiline=True)
    batch_size: int = opt(8, "answers generated together (transformers backend)", min=1, max=512)
    threads: int = opt(0, "CPU threads for generation (0: all)", min=0, max=512)
    judge: str = opt("rubric", "none, rubric (local heuristics), judge (the [judge] section: local GGUF, Gemini, "
                     "OpenAI-compatible), or a .gguf / http URL as a pairwise judge")
    judge_answers: int = opt(24, "questions whose first answer the judge scores on the 9 dimensions, the same "
                             "questions for every model (0: none)", min=0)
    judge_calibration: int = opt(27, "calibration pairs the judge is measured on before it judges (reliability; "
                                 "0: unmeasured, then the report says so)", min=0)
    tournament: bool = opt(True, "pairwise tournament between the models (needs a judge)")
    tournament_prompts: int = opt(24, "questions in the tournament (first sample of each)", min=1)
    votes: list[str] = opt([], "A/B chat votes.jsonl files whose blind votes join the tournament")
    record_in_checkpoints: bool = opt(True, "write eval metrics into each evaluated checkpoint's metadata "
                                      "(the browser ranks by eval_*)")
    seed: int = opt(0, "sampling seed")
