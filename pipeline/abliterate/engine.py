"""The model side of abliteration (worker only: torch, transformers): chat-formatted batches, residual
streams, greedy answers, next-token distributions. The ablation hooks sit on the same model object."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch


class Engine:
    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16, system_prompt: str = "") -> None:
        self.model = model.eval()
        self.system_prompt = system_prompt
        self.tok = tokenizer
        self.tok.padding_side = "left"  # the last position is every prompt's last token
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.batch_size = batch_size
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, path: str, batch_size: int = 16, system_prompt: str = "") -> Engine:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        if torch.cuda.is_available():
            model = model.cuda()
        return cls(model, AutoTokenizer.from_pretrained(path), batch_size, system_prompt)

    def chat(self, prompt: str) -> str:
        """The prompt as the model's chat text, with the study's system message (none: the template's own
        default, e.g. SmolLM2's "You are a helpful AI assistant named SmolLM…")."""
        msgs = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
        if getattr(self.tok, "chat_template", None):
            return str(self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        return f"{self.system_prompt}\n\n{prompt}\n" if self.system_prompt else f"{prompt}\n"

    def batches(self, items: Sequence[Any]) -> Iterator[Sequence[Any]]:
        for i in range(0, len(items), self.batch_size):
            yield items[i:i + self.batch_size]

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        enc = self.tok(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
        return {k: v.to(self.device) for k, v in enc.items()}

    @torch.no_grad()
    def residuals(self, prompts: Sequence[str]) -> torch.Tensor:
        """[n_prompts, n_layers, hidden]: each layer's output at the last prompt token (float32)."""
        out = []
        for batch in self.batches(prompts):
            enc = self.encode([self.chat(p) for p in batch])
            hs = self.model(**enc, output_hidden_states=True, logits_to_keep=1).hidden_states[1:]
            out.append(torch.stack([h[:, -1, :] for h in hs], dim=1).float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], max_new_tokens: int, sample: bool = False,
                 temperature: float = 0.8) -> list[str]:
        answers: list[str] = []
        for batch in self.batches(prompts):
            enc = self.encode([self.chat(p) for p in batch])
            kw: dict[str, Any] = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if sample else \
                {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            ids = self.model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=self.tok.pad_token_id, **kw)
            answers += self.tok.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return [a.strip() for a in answers]

    @torch.no_grad()
    def logprobs(self, prompts: Sequence[str], prefixes: Sequence[str] | None = None,
                 n_tokens: int = 1) -> torch.Tensor:
        """[n, n_tokens, vocab] log-probabilities of the next token at the prompt's end and after each of
        the first ``n_tokens - 1`` tokens of ``prefixes`` (the original model's answers)."""
        out = []
        idx = list(range(len(prompts)))
        for batch in self.batches(idx):
            texts = [self.chat(prompts[i]) + (prefixes[i] if prefixes and n_tokens > 1 else "") for i in batch]
            enc = self.encode(texts)
            logits = self.model(**enc, logits_to_keep=n_tokens if prefixes and n_tokens > 1 else 1).logits
            if n_tokens > 1 and prefixes:
                # Left padding: the prefix's tokens are the last ones; take the n positions before them end.
                plen = [len(self.tok(prefixes[i], add_special_tokens=False)["input_ids"]) for i in batch]
                rows = []
                for r, p in enumerate(plen):
                    k = min(p, n_tokens - 1)
                    seg = logits[r, logits.shape[1] - 1 - k:, :]
                    if seg.shape[0] < n_tokens:  # short answer: repeat the last position's row
                        seg = torch.cat([seg, seg[-1:].expand(n_tokens - seg.shape[0], -1)])
                    rows.append(seg)
                lp = torch.stack(rows)
            else:
                lp = logits[:, -1:, :]
            out.append(torch.log_softmax(lp.float(), dim=-1).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def choice_accuracy(self, items: Sequence[dict]) -> float:
        """Multiple choice by the next-token logits of the letters A-D after "Answer:"."""
        letters = ["A", "B", "C", "D"]
        ids = [self.tok(f" {c}", add_special_tokens=False)["input_ids"][-1] for c in letters]
        prompts = []
        for it in items:
            opts = "\n".join(f"{letters[i]}. {c}" for i, c in enumerate(it["choices"]))
            prompts.append(f"{it['question']}\n{opts}\nReply with the letter only.")
        correct = 0
        for batch_start in range(0, len(prompts), self.batch_size):
            chunk = prompts[batch_start:batch_start + self.batch_size]
            enc = self.encode([self.chat(p) + "Answer:" for p in chunk])
            logits = self.model(**enc, logits_to_keep=1).logits[:, -1, ids]
            for j, row in enumerate(logits):
                correct += int(int(row.argmax()) == items[batch_start + j]["answer"])
        return correct / max(len(items), 1)

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean of the last hidden layer over a text's tokens (the model's own sentence embedding)."""
        out = []
        for batch in self.batches(list(texts)):
            enc = self.encode([t or " " for t in batch])
            h = self.model(**enc, output_hidden_states=True, logits_to_keep=1).hidden_states[-1].float()
            m = enc["attention_mask"].unsqueeze(-1).float()
            out.append(((h * m).sum(1) / m.sum(1).clamp_min(1)).cpu())
        return torch.cat(out)


def kl_div(base: torch.Tensor, new: torch.Tensor) -> float:
    """Mean KL(base ‖ new) over prompts and positions; both are log-probabilities [n, t, vocab]."""
    kl = (base.exp() * (base - new)).sum(-1)
    return float(kl.mean())
