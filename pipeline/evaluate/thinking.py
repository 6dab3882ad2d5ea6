"""Whether a model's chat template has a thinking mode (Qwen3's ``<think>`` … ``</think>``, DeepSeek-R1's).

Seed 000 asks that ``<think>`` mode stay active after training; the battery's think check only applies
to models whose template can think, so it reads the template the model is served with: the HF
tokenizer's, or the ``tokenizer.chat_template`` a GGUF embeds. An http model's template is unknown.
"""

from __future__ import annotations

from pathlib import Path

_MARKERS = ("<think>", "enable_thinking", "</think>")


def template_thinks(template: object) -> bool:
    """A Jinja chat template (or a list of named templates) that writes or strips a think block."""
    if isinstance(template, list | tuple):
        return any(template_thinks(t.get("template") if isinstance(t, dict) else t) for t in template)
    return isinstance(template, str) and any(m in template for m in _MARKERS)


def gguf_thinks(path: Path) -> bool | None:
    """From a GGUF's embedded chat template; None when it cannot be read."""
    try:
        from gguf import GGUFReader

        field = GGUFReader(str(path)).fields.get("tokenizer.chat_template")
        if field is None:
            return False
        raw = field.parts[field.data[0]]
        return template_thinks(bytes(raw).decode("utf-8", "replace"))
    except Exception:  # no gguf package, or not a readable GGUF: unknown, never a guess
        return None
