"""The chat-template guard: render a sample conversation and refuse to train on a broken format.

Seed 000 trained a Llama-format template on a Qwen model, and raw text with no template at all; EOS
was never learned. Before any step, this renders system/user/assistant turns with the tokenizer's
template (or model.chat_template) and checks:

- there is a template, and it keeps every message's content;
- the role markers it writes (``<|...|>``, ``<tag>``) are single tokens of this tokenizer: a marker
  the tokenizer splits into pieces belongs to another model family;
- the prompt rendered with ``add_generation_prompt`` is a prefix of the full conversation, so the
  prompt/completion loss mask falls where the answer starts;
- the assistant turn ends with an EOS token, so the model learns to stop.

Works on any tokenizer object with ``apply_chat_template``/``encode`` (no import of transformers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

SENTINELS = {"system": "ABA-SYSTEM-q7v", "user": "ABA-USER-q7v", "assistant": "ABA-ANSWER-q7v"}
_MARKER = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?[A-Za-z_][A-Za-z0-9_]{0,30}>")


class TemplateError(ConfigError):
    """The chat template would train the wrong format; the message says what is wrong."""


def load_template_override(tokenizer: Any, setting: str) -> None:
    """model.chat_template: "auto" keeps the tokenizer's own; a path replaces it with that Jinja file."""
    if setting in ("", "auto"):
        return
    path = Path(setting).expanduser()
    if not path.is_file():
        raise TemplateError(f"model.chat_template={setting!r}: no such file (expected auto or a Jinja file)")
    tokenizer.chat_template = path.read_text(encoding="utf-8")


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def _sample(with_system: bool) -> list[dict[str, str]]:
    roles = ("system", "user", "assistant") if with_system else ("user", "assistant")
    return [{"role": r, "content": SENTINELS[r]} for r in roles]


def eos_strings(tokenizer: Any, eos_ids: list[int] | None = None) -> list[str]:
    """Text forms of every token that ends a turn: the tokenizer's EOS and generation_config's ids."""
    out: list[str] = []
    if getattr(tokenizer, "eos_token", None):
        out.append(tokenizer.eos_token)
    for i in eos_ids or []:
        tok = tokenizer.convert_ids_to_tokens(int(i))
        if isinstance(tok, str) and tok not in out:
            out.append(tok)
    return out


def check_chat_template(tokenizer: Any, eos_ids: list[int] | None = None, where: str = "model") -> str:
    """Raise TemplateError naming the problem; return the rendered sample when all checks pass."""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError(f"{where}: the tokenizer has no chat template; training on raw text would never "
                            "teach the turn format or EOS (set model.chat_template to a Jinja file)")
    messages = _sample(with_system=True)
    try:
        full = _render(tokenizer, messages, False)
    except Exception:  # some templates refuse a system turn (e.g. Gemma): try without one
        messages = _sample(with_system=False)
        try:
            full = _render(tokenizer, messages, False)
        except Exception as exc:
            raise TemplateError(f"{where}: the chat template fails to render a user/assistant "
                                f"conversation ({type(exc).__name__}: {exc})") from None
    for msg in messages:
        if msg["content"] not in full:
            raise TemplateError(f"{where}: the chat template drops the {msg['role']} message's content")

    prompt = _render(tokenizer, messages[:-1], True)
    if not full.startswith(prompt):
        raise TemplateError(f"{where}: the prompt rendered with add_generation_prompt ({prompt[-40:]!r}) is not "
                            "a prefix of the full conversation; the loss mask would not start at the answer")

    # Every marker outside the message contents must be one token of this tokenizer.
    skeleton = full
    for msg in messages:
        skeleton = skeleton.replace(msg["content"], " ")
    if not skeleton.strip():
        raise TemplateError(f"{where}: the chat template writes the messages as raw text with no role markers; "
                            "the model could not tell the turns apart (use the model's own template)")
    for marker in sorted(set(_MARKER.findall(skeleton))):
        ids = tokenizer.encode(marker, add_special_tokens=False)
        if len(ids) != 1:
            raise TemplateError(f"{where}: the chat template writes {marker!r}, which this tokenizer splits into "
                                f"{len(ids)} tokens: the template belongs to another model family "
                                "(e.g. a Llama template on a Qwen model); use the model's own template")

    answer = SENTINELS["assistant"]
    after = full[full.index(answer) + len(answer):].lstrip(" ")
    enders = eos_strings(tokenizer, eos_ids)
    if not enders:
        raise TemplateError(f"{where}: the tokenizer has no EOS token; the model could never learn to stop")
    if not any(after.startswith(e) for e in enders):
        shown = after[:30] or "(nothing)"
        raise TemplateError(f"{where}: the assistant turn does not end with EOS (expected "
                            f"{' or '.join(repr(e) for e in enders)} right after the answer, the template writes "
                            f"{shown!r}); the model would never learn to stop")
    return full
