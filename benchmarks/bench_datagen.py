"""Datagen throughput against the loopback Gemini stub, concurrency 1 vs 16, and the judge cache on resume.

    .venv/bin/python benchmarks/bench_datagen.py [--prompts 32] [--latency 0.5] [--rpm 0]

The real datagen worker code (pipeline.datagen.runner, the real google-genai client) runs in this
process against tests/support/gemini_stub.py (its own process) with a fixed latency per request. Each trace is two
requests (generate, then judge). Scenarios, measured in the same run:
- c1          concurrency 1 (the baseline)
- c16         concurrency 16 (judge concurrency 16)            goal: ≥ 12× c1 until the rate limit binds
- c16-rpm     concurrency 16 with datagen.rpm = --rpm (when given): the limit, not concurrency, binds
- resume      the c16 run folder again after deleting items.jsonl: every trace is regenerated, every
              judgement should come from the run's judge cache (hit rate goal: 100 %)
Prints figures and ratios, writes benchmarks/results/datagen-concurrency.json and .md; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config.run import build_config
from pipeline.datagen.runner import Datagen
from pipeline.runs.worker import StageContext


def prompts_file(folder: Path, n: int) -> Path:
    cats = ["safety", "complexity", "multiturn", "conflict", "calibration"]
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps({"id": f"b{i}", "category": cats[i % 5], "turns": [f"Bench prompt {i}?"]})
                            + "\n" for i in range(n)))
    return path


class StubProcess:
    """The stub in its own process (an in-process stub would compete with the client for the GIL)."""

    def __init__(self, latency: float, *extra: str) -> None:
        root = Path(__file__).resolve().parents[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.gemini_stub", "--latency", str(latency),
                                      *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def run_once(stub: StubProcess, run_dir: Path, prompts: Path, concurrency: int, rpm: int = 0,
             resume: bool = False) -> tuple[float, Datagen]:
    sets = [f"datagen.prompts={json.dumps(str(prompts))}", "datagen.backend=\"gemini\"",
            f"datagen.base_url=\"{stub.url}\"", "datagen.traces=3", f"datagen.concurrency={concurrency}",
            f"datagen.rpm={rpm}", "judge.backend=\"gemini\"", f"judge.base_url=\"{stub.url}\"",
            f"judge.concurrency={concurrency}"]
    cfg = build_config("datagen", sets=sets)
    run_dir.mkdir(parents=True, exist_ok=True)
    dg = Datagen(StageContext(run_dir, cfg, resume=resume))
    t0 = time.perf_counter()
    dg.run()
    return time.perf_counter() - t0, dg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--rpm", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("GEMINI_API_KEY", "AIzaFAKE-bench-key")
    from benchmarks.record import Check, Record

    rec = Record("datagen-concurrency", "Datagen throughput against the loopback Gemini stub, concurrency 16 vs 1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-datagen-"))
    prompts = prompts_file(tmp, args.prompts)
    items = args.prompts * 3
    stub = StubProcess(args.latency)
    try:
        s1, _ = run_once(stub, tmp / "c1", prompts, 1)
        s16, _ = run_once(stub, tmp / "c16", prompts, 16)
        rate1, rate16 = items / s1, items / s16
        print(f"items={items} latency={args.latency}s/request (2 requests an item)")
        print(f"c1     {s1:7.2f} s  {rate1:7.2f} items/s")
        print(f"c16    {s16:7.2f} s  {rate16:7.2f} items/s   ratio {rate16 / rate1:5.1f}× (goal ≥ 12×)")
        if args.rpm:
            sr, _ = run_once(stub, tmp / "rpm", prompts, 16, rpm=args.rpm)
            print(f"c16-rpm{args.rpm} {sr:7.2f} s  {items / sr:7.2f} items/s   "
                  f"(the limit allows ≤ {args.rpm / 60:.2f} generator requests/s)")
        (tmp / "c16" / "data" / "items.jsonl").unlink()
        before = json.loads((tmp / "c16" / "data" / "ledger.json").read_text())["judge"]["requests"]
        sres, dgr = run_once(stub, tmp / "c16", prompts, 16, resume=True)
        cache = dgr.judge.cache
        judge_calls = dgr.judge.ledger.snapshot()["requests"] - before
        print(f"resume {sres:7.2f} s  judge cache hits {cache.hits}/{cache.hits + cache.misses} "
              f"= {cache.hit_rate:.0%} (goal 100 %), judge requests sent {judge_calls}")
    finally:
        stub.close()
    rec.finish([
        Check("items/s at concurrency 16", rate16, rate1, "items/s", "concurrency 1", budget_ratio=12.0,
              higher_is_better=True, note=f"{items} items, {args.latency:g} s a request, 2 requests an item"),
        Check("judge cache hit rate on resume", cache.hit_rate * 100, None, "%", "—", budget_value=99.99,
              higher_is_better=True, note=f"judge requests sent on resume: {judge_calls}"),
    ], figures={"items": items, "latency_s": args.latency, "c1_s": s1, "c16_s": s16, "resume_s": sres,
                "judge_requests_on_resume": judge_calls})


if __name__ == "__main__":
    main()
