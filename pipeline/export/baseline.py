"""The A/B baseline: ``python -m pipeline.export.baseline [--quant Q]`` makes (once) a GGUF of the
embedded model with the same converter and quantiser the export stage uses (f16 first, then ``Q`` from
it), verifies it, and prints its path as JSON.

The UI runs this as a subprocess (it needs transformers), caches nothing itself, and reads the
result line. A sidecar ``.json`` holds the verification, like an export's metadata.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pipeline.atomic import atomic_write_json
from pipeline.errors import AbaError
from pipeline.export import QUANTS, baseline_gguf_path, normalize_quant
from pipeline.export.convert import convert_hf, converter_version
from pipeline.runs.layout import CONVERT_LOG


def ensure_baseline(verify: bool = True, quant: str = "f16") -> tuple[Path, bool]:
    """(path, created). The GGUF is renamed into place whole; its .json is written after it."""
    path = baseline_gguf_path(quant)
    quant = normalize_quant(quant, "baseline quant")
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        return path, False
    from pipeline.models.resolve import resolve_model

    hf_dir = resolve_model("embedded")
    path.parent.mkdir(parents=True, exist_ok=True)
    if quant == "f16":
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".baseline-") as tmp:
            convert_hf(Path(hf_dir), path, "f16", log_path=Path(tmp) / CONVERT_LOG)
    else:
        from pipeline.export.quantize import quantize

        quantize(ensure_baseline(verify, "f16")[0], path, quant)
    meta: dict = {"name": path.stem, "file": path.name, "quant": quant, "model_source": "embedded",
                  "size_bytes": path.stat().st_size, "created_at": time.time(), "base": str(hf_dir),
                  "converter": {"llama_cpp_python": converter_version()}, "verify": None}
    if verify:
        from pipeline.export.verify import verify_gguf

        meta["verify"] = verify_gguf(path, hf_dir).to_dict()
    atomic_write_json(meta_path, meta)
    return path, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.export.baseline")
    parser.add_argument("--quant", default="f16", help=f"one of {', '.join(QUANTS)}")
    args = parser.parse_args(argv)
    try:
        path, created = ensure_baseline(quant=args.quant)
    except AbaError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    print(json.dumps({"path": str(path), "created": created}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
