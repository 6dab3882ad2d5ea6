"""Probe collection: questions × sampling settings × N samples per model, into an append-only JSONL.

Runs in the eval worker (transformers and the chat server load here, never in the UI). Each row has a
stable key (sha256 of model, setting, question, sample), so a resumed eval skips what it has and a
kill loses only the batch in flight. Rows keep latency and token counts for throughput figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipeline.evaluate.models import ModelRef
from pipeline.evaluate.thinking import gguf_thinks, template_thinks
from pipeline.redact import redact
from pipeline.safeio import open_append

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Setting:
    name: str
    temperature: float
    top_p: float
    max_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "temperature": self.temperature, "top_p": self.top_p,
                "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class Task:
    qid: str
    messages: Messages
    setting: Setting
    sample: int
    meta: dict[str, Any]


@dataclass
class Answer:
    text: str
    latency_s: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


class Generator(Protocol):
    thinking: bool | None  # the chat template has a thinking mode (None: unknown)

    def generate(self, batch: Sequence[Task], seed: int) -> list[Answer]: ...

    def close(self) -> None: ...


def row_key(model: str, setting: str, qid: str, sample: int) -> str:
    return hashlib.sha256(json.dumps([model, setting, qid, sample]).encode()).hexdigest()[:24]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Complete rows of a probes file (a torn last line from a kill is skipped)."""
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "key" in row:
                out.append(row)
    return out


def answered(path: Path) -> list[dict[str, Any]]:
    """One row per key: the last answer without an error, else the last error (a retried row wins)."""
    best: dict[str, dict[str, Any]] = {}
    for row in read_rows(path):
        old = best.get(row["key"])
        if old is None or not row.get("error") or old.get("error"):
            best[row["key"]] = row
    return list(best.values())


class HFGenerator:
    """transformers generation, batched with left padding (CPU throughput comes from batching)."""

    def __init__(self, source: str, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from pipeline.models.resolve import resolve_model

        if threads:
            torch.set_num_threads(threads)
        path = resolve_model(source)
        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        self.model.eval()
        self.torch = torch
        self.thinking: bool | None = template_thinks(getattr(self.tok, "chat_template", None))

    def generate(self, batch: Sequence[Task], seed: int) -> list[Answer]:
        torch = self.torch
        st = batch[0].setting
        texts = [self.tok.apply_chat_template(t.messages, tokenize=False, add_generation_prompt=True) for t in batch]
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        with torch.inference_mode():
            kw: dict[str, Any] = {"max_new_tokens": st.max_tokens, "pad_token_id": self.tok.pad_token_id}
            if st.temperature > 0:
                kw.update(do_sample=True, temperature=st.temperature, top_p=st.top_p)
            else:
                kw.update(do_sample=False)
            out = self.model.generate(**enc, **kw)
        dt = time.perf_counter() - t0
        answers = []
        width = enc["input_ids"].shape[1]
        for i in range(len(batch)):
            gen = out[i, width:]
            n = int((gen != self.tok.pad_token_id).sum())
            if self.tok.eos_token_id is not None and self.tok.eos_token_id != self.tok.pad_token_id:
                n = int(((gen != self.tok.pad_token_id) & (gen != self.tok.eos_token_id)).sum())
            answers.append(Answer(self.tok.decode(gen, skip_special_tokens=True).strip(), dt / len(batch),
                                  int(enc["attention_mask"][i].sum()), n))
        return answers

    def close(self) -> None:
        del self.model


class EndpointGenerator:
    """An OpenAI-compatible server: a URL, or a GGUF served by pipeline.chat.serve."""

    def __init__(self, ref: ModelRef, threads: int | None = None) -> None:
        from pipeline.chat.client import Endpoint
        from pipeline.chat.procs import ModelProcess

        self.proc: ModelProcess | None = None
        self.thinking: bool | None = None  # an http model's template is unknown
        if ref.kind == "gguf":
            self.thinking = gguf_thinks(Path(ref.ref))
            self.proc = ModelProcess(ref.ref, threads=threads, n_ctx=2048, label=ref.label)
            self.ep = self.proc.start()
        else:
            self.ep = Endpoint.from_url(ref.ref, os.environ.get("ABA_EVAL_API_KEY", ""), label=ref.label)

    def generate(self, batch: Sequence[Task], seed: int) -> list[Answer]:
        from pipeline.chat.client import ChatError, Sampling, complete

        out = []
        for k, t in enumerate(batch):
            st = t.setting
            t0 = time.perf_counter()
            try:
                text, stats = complete(self.ep, t.messages, Sampling(st.temperature, st.top_p, st.max_tokens,
                                                                    seed + k))
                out.append(Answer(text.strip(), time.perf_counter() - t0, stats.prompt_tokens, stats.tokens))
            except ChatError as exc:
                out.append(Answer("", time.perf_counter() - t0, error=str(exc)))
        return out

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stop()


def open_generator(ref: ModelRef, threads: int | None = None) -> Generator:
    return HFGenerator(ref.ref, threads) if ref.kind == "hf" else EndpointGenerator(ref, threads)


def _batches(tasks: Sequence[Task], size: int) -> Iterator[list[Task]]:
    # One setting per batch (generate() takes one sampling config).
    cur: list[Task] = []
    for t in tasks:
        if cur and (len(cur) >= size or t.setting != cur[0].setting):
            yield cur
            cur = []
        cur.append(t)
    if cur:
        yield cur


def collect(ref: ModelRef, tasks: Sequence[Task], out: Path, *, batch_size: int = 8, seed: int = 0,
            threads: int | None = None, stop: Callable[[], bool] = lambda: False,
            on_batch: Callable[[int, int], None] | None = None,
            generator: Generator | None = None) -> int:
    """Answer every task not already answered in ``out`` (failed ones are asked again); returns how
    many rows it wrote."""
    have = {r["key"] for r in read_rows(out) if not r.get("error")}
    todo = [t for t in tasks if row_key(ref.label, t.setting.name, t.qid, t.sample) not in have]
    if not todo:
        return 0
    gen = generator or open_generator(ref, threads)
    written = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(open_append(out), "a", encoding="utf-8") as fh:  # 0600: answers may hold errors
            for batch in _batches(todo, batch_size):
                if stop():
                    break
                bseed = seed + int(row_key(ref.label, batch[0].setting.name, batch[0].qid, batch[0].sample)[:6], 16)
                for t, a in zip(batch, gen.generate(batch, bseed), strict=True):
                    row = {"key": row_key(ref.label, t.setting.name, t.qid, t.sample), "model": ref.label,
                           "qid": t.qid, "sample": t.sample, "setting": t.setting.name, **t.meta,
                           "answer": a.text, "error": a.error, "latency_s": round(a.latency_s, 4),
                           "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens,
                           "ts": round(time.time(), 3)}
                    fh.write(redact(json.dumps(row, ensure_ascii=False)) + "\n")
                fh.flush()
                written += len(batch)
                if on_batch is not None:
                    on_batch(written, len(todo))
    finally:
        if generator is None:
            gen.close()
    return written
