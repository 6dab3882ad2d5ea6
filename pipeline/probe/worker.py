"""Quick probe of checkpoints (the seeds' compare_checkpoints), run as a worker process:

    python -m pipeline.probe.worker --out probe.json [--prompt P]... [--max-new-tokens N] CKPT_DIR...

Each checkpoint answers the same fixed prompts greedily with its own chat template; every answer
goes through the collapse scan. A LoRA checkpoint is applied to its base without merging and taken
off again, so many adapters of one run share one loaded base. A checkpoint that fails to load gets
an error entry; the others still answer. The result JSON is written atomically at the end, and
progress lines (JSON) go to stdout for the UI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pipeline.atomic import atomic_write_json
from pipeline.checkpoints.collapse import scan
from pipeline.checkpoints.store import checkpoint_kind, has_tokenizer, read_checkpoint
from pipeline.runs.cpu import usable_cores
from pipeline.runs.layout import CHECKPOINTS_DIR

PROMPTS = (
    "What is the capital of France?",
    "All cats are animals. Tom is a cat. Is Tom an animal?",
    "Are you conscious?",
    "Write one sentence about the sea.",
)


def run_dir_of(ckpt: Path) -> Path:
    return ckpt.parent.parent if ckpt.parent.name == CHECKPOINTS_DIR else ckpt.parent


def base_source(ckpt: Path) -> str:
    """The checkpoint's base model: its metadata's base_model (when it still exists), else the
    model.source of its run."""
    meta = read_checkpoint(ckpt).meta
    base = meta.get("base_model")
    if isinstance(base, str) and Path(base).exists():
        return base
    if isinstance(meta.get("model_source"), str):
        return meta["model_source"]
    from pipeline.runs.store import load_run_config

    cfg = load_run_config(run_dir_of(ckpt))
    return cfg.sections["model"].source


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Prober:
    def __init__(self, max_new_tokens: int) -> None:
        self.max_new_tokens = max_new_tokens
        self.bases: dict[str, Any] = {}

    def _base(self, source: str) -> Any:
        if source not in self.bases:
            from transformers import AutoModelForCausalLM

            from pipeline.models.resolve import resolve_model

            self.bases.clear()  # one base in memory at a time
            model = AutoModelForCausalLM.from_pretrained(str(resolve_model(source)), dtype="auto")
            self.bases[source] = model.to(_device())
        return self.bases[source]

    def _tokenizer(self, ckpt: Path) -> Any:
        """The checkpoint's own tokenizer (its chat template is the trained one), else its base's."""
        from transformers import AutoTokenizer

        from pipeline.models.resolve import resolve_model

        return AutoTokenizer.from_pretrained(str(ckpt if has_tokenizer(ckpt) else resolve_model(base_source(ckpt))))

    def answers(self, ckpt: Path, prompts: list[str]) -> list[str]:
        import torch

        kind = checkpoint_kind(ckpt)
        source = base_source(ckpt) if kind == "adapter" else str(ckpt)
        tok = self._tokenizer(ckpt)
        if kind == "adapter":
            from peft import PeftModel

            model = PeftModel.from_pretrained(self._base(source), str(ckpt))
        else:
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype="auto").to(_device())
        model.eval()
        out = []
        try:
            for prompt in prompts:
                ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                              return_tensors="pt", return_dict=True).to(_device())
                with torch.no_grad():
                    gen = model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False,
                                         pad_token_id=tok.pad_token_id or tok.eos_token_id)
                out.append(tok.decode(gen[0][ids["input_ids"].shape[1]:], skip_special_tokens=True).strip())
        finally:
            if kind == "adapter":
                self.bases[source] = model.unload()  # the base, as it was
        return out


def _set_threads() -> None:
    import torch

    if not torch.cuda.is_available():
        # Leave a core to the UI: on small CPU boxes torch's all-cores default spins against the
        # other processes and decodes several times slower than with one thread fewer.
        torch.set_num_threads(max(1, usable_cores() - 1))


def probe(ckpts: list[Path], prompts: list[str], max_new_tokens: int = 64) -> dict[str, Any]:
    _set_threads()
    prober = Prober(max_new_tokens)
    results = []
    for i, ckpt in enumerate(ckpts):
        t0 = time.time()
        entry: dict[str, Any] = {"path": str(ckpt), "name": ckpt.name, "run_id": run_dir_of(ckpt).name,
                                 "answers": [], "error": None}
        try:
            for prompt, answer in zip(prompts, prober.answers(ckpt, prompts), strict=True):
                entry["answers"].append({"prompt": prompt, "answer": answer, "collapse": scan(answer).to_dict()})
        except Exception as exc:  # one bad checkpoint must not hide the others' answers
            entry["error"] = f"{type(exc).__name__}: {exc}"[:500]
        entry["seconds"] = round(time.time() - t0, 2)
        entry["collapsed"] = sum(a["collapse"]["collapsed"] for a in entry["answers"])
        results.append(entry)
        print(json.dumps({"done": i + 1, "total": len(ckpts), "name": ckpt.name}), flush=True)
    return {"prompts": prompts, "max_new_tokens": max_new_tokens, "created_at": time.time(), "checkpoints": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.probe.worker")
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prompt", action="append", default=None)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    result = probe(args.checkpoints, args.prompt or list(PROMPTS), args.max_new_tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
