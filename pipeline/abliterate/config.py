"""The ``[abliterate]`` config section (light: the registry, the CLI and the launch form read it)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config.fields import opt


@dataclass
class AbliterateSection:
    harmful: str = opt("builtin", "harmful prompts: builtin, or a .txt (one a line) / .jsonl (prompt, split) file")
    harmless: str = opt("builtin", "harmless prompts: builtin, or a .txt / .jsonl file like harmful")
    train_limit: int = opt(48, "prompts of each kind used for the directions (0: all)", min=0)
    test_limit: int = opt(24, "held-out prompts of each kind a trial is scored on (0: all)", min=0)
    directions: int = opt(1, "directions a layer: 1 = difference of means; k > 1 adds principal components",
                          min=1, max=16)
    cones: int = opt(0, "concept cones: cluster harmful prompts into N categories, a direction each (0: off)",
                     min=0, max=16)
    compare_cones: int = opt(0, "concept cones on/off comparison: run the same trial budget with no cones, "
                             "then with N cones, and write comparison.json/.md (0: one study)", min=0, max=16)
    system_prompt: str = opt("You are a helpful assistant.", "system message of every chat the study sends "
                             "(directions, answers, KL); '' for none (the chat template's own default applies)")
    orthogonalize: bool = opt(True, "make each layer's direction orthogonal to that layer's harmless mean")
    scope: str = opt("search", "search: each trial samples global or per_layer; global: one direction "
                     "(interpolated at the trial's direction index) for all layers; per_layer: each layer its own",
                     choices=("search", "global", "per_layer"))
    variant: str = opt("standard", "how weights change: standard, norm_preserving, or biprojected (the direction "
                       "made orthogonal to each target layer's harmless mean)",
                       choices=("standard", "norm_preserving", "biprojected"))
    norm: str = opt("rows", "norm_preserving: restore each input unit's write vector (rows) or the "
                    "Frobenius norm (seed 004)", choices=("rows", "frobenius"))
    components: list[str] = opt(["attn", "mlp"], "modules ablated: attn (attention output), mlp (down projection)")
    trials: int = opt(24, "Optuna trials in all (a resumed study runs only the missing ones)", min=1, max=10000)
    startup_trials: int = opt(8, "random trials before TPE takes over", min=0)
    sampler: str = opt("tpe", "Optuna sampler", choices=("tpe", "nsga2", "random"))
    warm_start: bool = opt(True, "enqueue heretic-like default parameters as the first trial")
    max_new_tokens: int = opt(24, "tokens generated per harmful prompt to judge refusal", min=1, max=1024)
    batch_size: int = opt(16, "prompts a forward pass (halved and the trial retried on out-of-memory)", min=1)
    kl_tokens: int = opt(1, "KL over the first N tokens of the original model's answer (1: first token only)",
                         min=1, max=64)
    detector: str = opt("builtin", "refusal detector: builtin (the answer's stance), or "
                        "module:function(prompt, answer) -> bool|None")
    markers: str = opt("", "extra phrases that count as a decline, comma separated (added to the built-in rules)")
    judge: str = opt("none", "second opinion on refusals: none; judge (the [judge] section's backend: local GGUF, "
                     "Gemini, OpenAI-compatible; disagreement reported); decide (its verdict wins where they "
                     "disagree)", choices=("none", "judge", "decide"))
    judge_sample: int = opt(8, "answers a trial sends to the judge (the detector's uncertain ones first)", min=0)
    hallucination: bool = opt(False, "add a hallucination objective (self-consistency over samples)")
    hallucination_samples: int = opt(4, "samples per question for self-consistency", min=2, max=32)
    capability: bool = opt(False, "add a capability objective (the project's multiple-choice set)")
    max_kl: float = opt(0.5, "KL cap: the study treats trials above it as infeasible (Optuna constraint) and the "
                        "chosen trial is the fewest refusals among trials at or below it", min=0.0)
    kl_constraint: bool = opt(True, "steer the search with the KL cap (off: a plain two-objective search)")
    gguf_eval: bool = opt(False, "also measure refusals and KL on a GGUF export of the chosen trial")
    heal_pairs: int = opt(24, "write heal_pairs.jsonl (chosen: compliant answers, rejected: refusals) with "
                          "up to N prompts for a chained DPO heal (0: off)", min=0)
    test_pause_after: int = opt(0, "test hook: a first attempt waits (until stopped or killed) after N "
                                "finished trials (0: off)", min=0)
    heal_tokens: int = opt(64, "max new tokens of each heal-pair answer", min=1, max=2048)
    seed: int = opt(42, "random seed (sampler, clustering, sampling)")
