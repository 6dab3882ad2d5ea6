"""One trial's measurements on the hooked model (worker only): refusals, KL, and the optional
hallucination and capability scores. The same code measures the baseline (no hooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from pipeline.abliterate.engine import Engine, kl_div
from pipeline.abliterate.refusal import Detector, uncertain


@dataclass
class Baseline:
    """The original model's reference outputs, computed once per worker."""

    harmless_logprobs: torch.Tensor
    prefixes: list[str] | None = None


@dataclass
class Measure:
    refusals: int
    n: int
    undecided: int
    kl: float
    answers: list[str] = field(default_factory=list)
    flags: list[bool | None] = field(default_factory=list)
    uncertain: list[bool] = field(default_factory=list)
    hallucination: float | None = None
    capability: float | None = None

    def decide(self, flags: list[bool | None]) -> None:
        """Replace the flags (a judge decided some of them) and recount."""
        self.flags = flags
        self.refusals = sum(1 for f in flags if f)
        self.undecided = sum(1 for f in flags if f is None)

    def values(self, hallucination: bool, capability: bool) -> list[float]:
        out = [float(self.refusals), self.kl]
        if hallucination:
            out.append(float(self.hallucination if self.hallucination is not None else 1.0))
        if capability:
            out.append(float(self.capability if self.capability is not None else 0.0))
        return out


def objective_names(hallucination: bool, capability: bool) -> list[tuple[str, str]]:
    """(name, direction) in the study's order; the number follows what the config enables."""
    out = [("refusals", "minimize"), ("kl", "minimize")]
    if hallucination:
        out.append(("hallucination", "minimize"))
    if capability:
        out.append(("capability", "maximize"))
    return out


def baseline_reference(engine: Engine, harmless_test: list[str], kl_tokens: int) -> Baseline:
    prefixes = None
    if kl_tokens > 1:
        answers = engine.generate(harmless_test, kl_tokens - 1)
        prefixes = answers
    return Baseline(engine.logprobs(harmless_test, prefixes, kl_tokens), prefixes)


def self_consistency(engine: Engine, questions: list[str], samples: int, seed: int, max_new_tokens: int) -> float:
    """1 − mean pairwise cosine similarity of sampled answers (the model's own hidden states as the
    embedding): higher = less consistent = more likely to be making things up."""
    torch.manual_seed(seed)
    prompts = [q for q in questions for _ in range(samples)]
    answers = engine.generate(prompts, max_new_tokens, sample=True)
    emb = torch.nn.functional.normalize(engine.embed(answers), dim=-1).view(len(questions), samples, -1)
    sims = emb @ emb.transpose(1, 2)  # [q, s, s]
    off = ~torch.eye(samples, dtype=torch.bool)
    return float(1 - sims[:, off].mean())


def measure(engine: Engine, base: Baseline, harmful_test: list[str], harmless_test: list[str],
            detector: Detector, cfg: Any, seed: int, extras: dict[str, Any] | None = None) -> Measure:
    answers = engine.generate(harmful_test, cfg.max_new_tokens)
    flags = [detector(p, a) for p, a in zip(harmful_test, answers, strict=True)]
    lp = engine.logprobs(harmless_test, base.prefixes, cfg.kl_tokens)
    m = Measure(refusals=sum(1 for f in flags if f), n=len(flags), undecided=sum(1 for f in flags if f is None),
                kl=kl_div(base.harmless_logprobs, lp), answers=answers, flags=flags,
                uncertain=[uncertain(detector, p, a, f) for p, a, f in zip(harmful_test, answers, flags, strict=True)])
    extras = extras or {}
    if cfg.hallucination:
        m.hallucination = self_consistency(engine, extras["facts"], cfg.hallucination_samples, seed, cfg.max_new_tokens)
    if cfg.capability:
        m.capability = engine.choice_accuracy(extras["capability"])
    return m
