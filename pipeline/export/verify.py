"""Verify a GGUF against the HF model it came from. Worker-only (llama_cpp + transformers).

Checks, each recorded with a detail line in the export's metadata:
- load: llama.cpp loads the file.
- tokenize: test strings tokenise to the same ids as with the HF tokenizer (plain text, and the
  chat-rendered prompt with its special tokens) — a converter/tokenizer mismatch shows up here.
- chat_template: the GGUF embeds a chat template, equal to the HF tokenizer's (seed 000 trained the
  wrong chat format once; a GGUF without one chats in a guessed format).
- eos: the GGUF's end-of-sequence token is the tokenizer's (else answers never end).
- generate: a greedy answer to a fixed prompt that the collapse scan passes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.collapse import scan

TEST_STRINGS = (
    "Hello world! How are you today?",
    "The capital of France is Paris.\n\nA new paragraph with  two spaces and\ttabs.",
    "def square(x):\n    return x ** 2  # comment\n",
    "Numbers: 3 33 333 3333 3.14159 1,000,000 and 2024-06-01",
    "Ünïcödé — émojis 🦙🚀 and 中文 text, нещо на Български",
    "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it",
)
CHAT_PROBE = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verification:
    checks: list[Check] = field(default_factory=list)
    sample: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks], "sample": self.sample}


def _first_diff(a: list[int], b: list[int]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at token {i}: gguf {x} vs hf {y}"
    return f"lengths differ: gguf {len(a)} vs hf {len(b)} tokens"


def compare_tokenization(llm: Any, tok: Any) -> Check:
    bad: list[str] = []
    for s in TEST_STRINGS:
        g = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
        h = tok.encode(s, add_special_tokens=False)
        if list(g) != list(h):
            bad.append(f"{s[:24]!r}: {_first_diff(list(g), list(h))}")
    n = len(TEST_STRINGS)
    if getattr(tok, "chat_template", None):
        rendered = tok.apply_chat_template(CHAT_PROBE, tokenize=False, add_generation_prompt=True)
        g = llm.tokenize(rendered.encode("utf-8"), add_bos=False, special=True)
        h = tok.encode(rendered, add_special_tokens=False)
        n += 1
        if list(g) != list(h):
            bad.append(f"chat prompt: {_first_diff(list(g), list(h))}")
    if bad:
        return Check("tokenize", False, f"{len(bad)} of {n} test strings differ: " + "; ".join(bad[:3]))
    return Check("tokenize", True, f"{n} test strings tokenise identically")


def check_template(llm: Any, tok: Any) -> Check:
    gguf_tmpl = (llm.metadata or {}).get("tokenizer.chat_template")
    hf_tmpl = getattr(tok, "chat_template", None)
    if not gguf_tmpl:
        return Check("chat_template", False, "no tokenizer.chat_template in the GGUF: chat would guess a "
                     "format (give the checkpoint a tokenizer with a chat template)")
    if isinstance(hf_tmpl, str) and gguf_tmpl.strip() != hf_tmpl.strip():
        return Check("chat_template", False, "the GGUF's chat template differs from the HF tokenizer's")
    return Check("chat_template", True, f"embedded ({len(gguf_tmpl)} chars), same as the tokenizer's")


def check_eos(llm: Any, tok: Any) -> Check:
    g, h = llm.token_eos(), tok.eos_token_id
    if h is None:
        return Check("eos", False, "the HF tokenizer has no eos token")
    if g != h:
        return Check("eos", False, f"eos differs: gguf {g} vs tokenizer {h} ({tok.eos_token!r})")
    return Check("eos", True, f"eos {g} ({tok.eos_token!r})")


def check_generate(llm: Any, max_tokens: int = 48) -> tuple[Check, dict[str, Any]]:
    t0 = time.perf_counter()
    out = llm.create_chat_completion(messages=CHAT_PROBE, temperature=0.0, max_tokens=max_tokens, seed=0)
    elapsed = time.perf_counter() - t0
    answer = out["choices"][0]["message"].get("content") or ""
    n = (out.get("usage") or {}).get("completion_tokens", 0)
    sample = {"prompt": CHAT_PROBE[-1]["content"], "answer": answer, "completion_tokens": n,
              "seconds": round(elapsed, 3), "finish_reason": out["choices"][0].get("finish_reason")}
    report = scan(answer)
    if report.collapsed:
        return Check("generate", False, f"degenerate answer ({report.summary()}): {answer[:80]!r}"), sample
    return Check("generate", True, f"{n} tokens in {elapsed:.2f} s: {answer[:60]!r}"), sample


def verify_gguf(gguf: Path, tokenizer_dir: Path | str, threads: int | None = None) -> Verification:
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    v = Verification()
    try:
        llm = Llama(model_path=str(gguf), n_ctx=1024, n_threads=threads, verbose=False)
    except Exception as exc:  # llama.cpp raises ValueError, RuntimeError… on a bad file
        v.checks.append(Check("load", False, f"llama.cpp cannot load it: {exc}"))
        return v
    try:
        v.checks.append(Check("load", True, f"{llm.n_vocab()} tokens, {len(llm.metadata or {})} metadata keys"))
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        v.checks.append(compare_tokenization(llm, tok))
        v.checks.append(check_template(llm, tok))
        v.checks.append(check_eos(llm, tok))
        check, v.sample = check_generate(llm)
        v.checks.append(check)
    finally:
        llm.close()
    return v
