"""What the training stages read from a datagen run: sft.jsonl, dpo.jsonl, grpo.jsonl and outputs.json.

Only *complete* traces become training data: a reply the output cap cut (Gemini ``MAX_TOKENS``,
llama.cpp and OpenAI ``length``) stays in items.jsonl marked truncated and is never written here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.datagen.store import Item, read_items
from pipeline.datagen.tally import Tally
from pipeline.runs.layout import DATA, DATAGEN_MANIFEST, DATAGEN_OUTPUTS


def render_think(thoughts: str | None, answer: str) -> str:
    """An assistant turn with its reasoning first, in Qwen3's own format: ``<think>\\n…\\n</think>\\n\\n``
    then the answer. Qwen3's chat template turns exactly this back into its reasoning block (it splits
    ``content`` at ``</think>``, strips the newlines and writes them again), and a trace without
    thoughts gets the empty block the template writes when thinking is off."""
    return f"<think>\n{(thoughts or '').strip(chr(10))}\n</think>\n\n{answer.lstrip(chr(10))}"


def build_outputs(run_dir: Path, prompts: list[dict[str, Any]], margin: float, sft_thoughts: str = "off",
                  tally: Tally | None = None) -> dict[str, Any]:
    """SFT (CHOSEN traces), DPO (CHOSEN vs REJECTED, then judge-ranked pairs ≥ margin), GRPO prompts;
    ``sft_thoughts = "think"`` puts each CHOSEN trace's thought summaries before its answer."""
    data = Path(run_dir) / DATA
    items = [r for r in read_items(run_dir) if r.complete]
    by_prompt: dict[str, list[Item]] = {}
    for r in items:
        by_prompt.setdefault(r.prompt_id, []).append(r)
    sft: list[dict[str, Any]] = []
    dpo: list[dict[str, Any]] = []
    for p in prompts:
        rows = sorted(by_prompt.get(p["id"], []), key=lambda r: r.index)
        if not rows:
            continue
        base = {"prompt": rows[0].messages, "category": p["category"], "id": p["id"]}
        chosen = [r for r in rows if r.level == "chosen"]
        rejected = [r for r in rows if r.level == "rejected"]
        for r in chosen:
            content = render_think(r.thoughts, r.text or "") if sft_thoughts == "think" else r.text
            sft.append({**base, "completion": [{"role": "assistant", "content": content}], "key": r.key})
        pairs = {(c.text or "", r.text or "") for c, r in zip(chosen, rejected, strict=False) if c.text != r.text}
        dpo.extend({**base, "chosen": c, "rejected": r, "source": "level"} for c, r in sorted(pairs))
        scored = sorted((r for r in rows if r.mean is not None), key=lambda r: -(r.mean or 0.0))
        if len(scored) >= 2:
            best, worst = scored[0], scored[-1]
            gap = (best.mean or 0.0) - (worst.mean or 0.0)
            if gap >= margin and best.text != worst.text and (best.text, worst.text) not in pairs:
                dpo.append({**base, "chosen": best.text, "rejected": worst.text, "source": "judge",
                            "margin": round(gap, 4)})
    grpo = [{"prompt": p["messages"], "category": p["category"], "id": p["id"]} for p in prompts]
    counts = {}
    for name, lines in (("sft", sft), ("dpo", dpo), ("grpo", grpo)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
        atomic_write_text(data / DATAGEN_OUTPUTS[name], text)
        counts[name] = len(lines)
    levels: dict[str, int] = {}
    for r in items:
        levels[r.level] = levels.get(r.level, 0) + 1
    manifest: dict[str, Any] = {"files": {k: f"{DATA}/{v}" for k, v in DATAGEN_OUTPUTS.items()}, "rows": counts,
                                "items": len(items), "levels": levels, "sft_thoughts": sft_thoughts,
                                "judged": sum(1 for r in items if r.mean is not None)}
    if tally is not None:
        manifest["tally"] = tally.to_json()
    atomic_write_json(data / DATAGEN_MANIFEST, manifest)
    return manifest
