"""Generate answers with every model of the comparison and score them. Worker-only (torch inside).

One base model is loaded once with every adapter on it (the merge, its sources, the joint run, any
``merge.compare_with``); each answers the same prompts greedily, and the base itself answers too as a
reference. Scoring uses grpo.scorer (the rubric scorer unless a judge is configured and available).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.merge.report import dimension_means, tournament

BASE = "base"


@dataclass
class Entrant:
    label: str
    role: str  # merged | source | joint | other | base
    adapter: Path | None  # None: the base model itself
    ref: str = ""


def generate(base: Path | str, entrants: list[Entrant], prompts: list[list[dict[str, str]]], max_new_tokens: int,
             tokenizer_dir: Path | str, stop: Any = None) -> dict[str, list[str]]:
    import torch
    from transformers import AutoTokenizer

    from pipeline.merge.combine import load_with_adapters

    with_adapter = [e for e in entrants if e.adapter is not None]
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model, names = load_with_adapters(base, [e.adapter for e in with_adapter if e.adapter is not None])
    model.eval()
    by_label = dict(zip((e.label for e in with_adapter), names, strict=True))
    out: dict[str, list[str]] = {}
    for e in entrants:
        answers = []
        for msgs in prompts:
            if stop is not None and stop.is_set():
                return out
            ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            kwargs = {"max_new_tokens": max_new_tokens, "do_sample": False,
                      "pad_token_id": tok.pad_token_id or tok.eos_token_id}
            with torch.no_grad():
                if e.adapter is None:
                    with model.disable_adapter():
                        gen = model.generate(**ids, **kwargs)
                else:
                    model.set_adapter(by_label[e.label])
                    gen = model.generate(**ids, **kwargs)
            answers.append(tok.decode(gen[0][ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
        out[e.label] = answers
    return out


def prompt_text(msgs: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in msgs if m.get("role") != "assistant")


def score_answers(scorer: Any, prompts: list[list[dict[str, str]]],
                  answers: dict[str, list[str]]) -> dict[str, list[dict[str, float]]]:
    return {label: [scorer.score(prompt_text(p), a) for p, a in zip(prompts, outs, strict=True)]
            for label, outs in answers.items()}


def build_report(scores: dict[str, list[dict[str, float]]], answers: dict[str, list[str]],
                 prompt_msgs: list[list[dict[str, str]]], **info: Any) -> dict[str, Any]:
    return {**info, "means": dimension_means(scores), "tournament": tournament(scores),
            "items": [{"prompt": prompt_text(p), "answers": {m: answers[m][k] for m in answers},
                       "scores": {m: scores[m][k] for m in scores}} for k, p in enumerate(prompt_msgs)]}
