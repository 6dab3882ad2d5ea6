"""Datagen and the judge against Gemini as it behaves: the loopback stub that thinks as 2.5 Flash does (hundreds to
~1,500 thought tokens, billed against maxOutputTokens), with the project's DEFAULT settings.

    .venv/bin/python benchmarks/bench_gemini.py [--seeds 3] [--prompts 25] [--window 30] [--quota 60]

The real datagen worker code and the real google-genai client run in this process; the stub runs in its own
(tests/support/gemini_stub.py), one stub seed a draw of thinking and answer lengths. Scenarios, in one run:
- defaults       default [datagen] + [judge], backend gemini: share of planned traces with complete text, share of
                 those judged (goal ≥ 95 % each), per seed
- before         the requests the project sent before issue 21, same prompts and stub seed (the named baseline):
                 CHOSEN budget 8192 under a cap of 1024, ADEQUATE no budget under 1024, REJECTED budget 0, a judge
                 with no thinking setting under 256 tokens, no retry with a larger cap
- judge-eval, judge-grpo   the judge alone on the default run's traces, as eval scores them (Judge.score) and as
                 GRPO's reward does (JudgeScorer.score_batch)
- quota          the defaults with a per-minute-like quota window (``--quota`` requests a ``--window`` s window,
                 the documented 429 body with RetryInfo): traces lost, judgements missing, requests sent before the
                 server's delay had passed, waits the ledger counted
- models         the defaults on 2.5 Pro, 3.1 Pro and 3 Flash stubs (the per-model settings of docs/datagen.md)
Writes benchmarks/results/gemini-datagen.json and .md (load, seeds, n, shares with Wilson 95 % intervals).
Shares are properties of the requests, not timings; the wall times are recorded but are no performance figure
on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_datagen import StubProcess  # noqa: E402
from pipeline.config.run import build_config  # noqa: E402
from pipeline.datagen.levels import generator_model  # noqa: E402
from pipeline.datagen.prompts import load_prompt_set  # noqa: E402
from pipeline.datagen.runner import Datagen  # noqa: E402
from pipeline.datagen.store import read_items  # noqa: E402
from pipeline.judge.config import JudgeSection  # noqa: E402
from pipeline.judge.factory import make_judge  # noqa: E402
from pipeline.judge.interface import JudgeItem  # noqa: E402
from pipeline.judge.shaping import Shape  # noqa: E402
from pipeline.rewards.judge import JudgeScorer  # noqa: E402
from pipeline.runs.worker import StageContext, StageFailed  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
NAME = "gemini-datagen"
OLD_TRACE = {"chosen": Shape(1024, 1024, thinking_budget=8192, temperature=0.8),
             "adequate": Shape(1024, 1024, temperature=0.8),
             "rejected": Shape(1024, 1024, thinking_budget=0, temperature=0.8)}
OLD_JUDGE = Shape(256, 256, temperature=0.0)


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    if n == 0:
        return [0.0, 0.0]
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(max(0.0, c - h), 4), round(min(1.0, c + h), 4)]


def prompts_file(folder: Path, n: int) -> Path:
    """The starter set, then more prompts in its categories (a resumed cycle of its turns, renamed)."""
    base = load_prompt_set("builtin:starter")
    rows = []
    for i in range(n):
        p = base[i % len(base)]
        turns = [c for _r, c in p.messages]
        if i >= len(base):
            turns[-1] = f"{turns[-1]} (variant {i // len(base)})"
        rows.append({"id": f"b{i:03d}", "category": p.category, "turns": turns})
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@contextmanager
def stub(seed: int, *extra: str) -> Iterator[StubProcess]:
    s = StubProcess(0.02, "--seed", str(seed), *extra)
    try:
        yield s
    finally:
        s.close()


def datagen_run(url: str, run_dir: Path, prompts: Path, *sets: str, old: bool = False) -> dict[str, Any]:
    cfg = build_config("datagen", sets=[f"datagen.prompts={json.dumps(str(prompts))}", "datagen.backend=\"gemini\"",
                                        f"datagen.base_url=\"{url}\"", "judge.backend=\"gemini\"",
                                        f"judge.base_url=\"{url}\"", *sets])
    run_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    failed = None
    with mock.patch("pipeline.judge.llm.judge_shape", return_value=OLD_JUDGE) if old else _nothing():
        dg = Datagen(StageContext(run_dir, cfg))
        if old:
            dg.shapes = dict(OLD_TRACE)
        try:
            dg.run()
        except StageFailed as exc:
            failed = exc.reason
    wall = time.perf_counter() - t0
    manifest = json.loads((run_dir / "data" / "outputs.json").read_text())
    ledger = json.loads((run_dir / "data" / "ledger.json").read_text())
    t = manifest["tally"]
    return {"planned": t["planned"], "complete": t["complete"], "truncated": t["truncated"], "empty": t["empty"],
            "lost": t["lost"], "blocked": sum(t["blocked"].values()), "judged": t["judged"],
            "judge_missing": t["judge_missing"], "failed_reason": failed, "wall_s": round(wall, 2),
            "model": generator_model(cfg.sections["datagen"]),
            "tokens_thinking": ledger["generator"]["tokens"]["thinking"] + ledger["judge"]["tokens"]["thinking"],
            "cost_usd": round(ledger["generator"]["cost_usd"] + ledger["judge"]["cost_usd"], 6),
            "retries": {**ledger["generator"]["retries"], **{f"judge_{k}": v for k, v in
                                                               ledger["judge"]["retries"].items()}},
            "waits": ledger["generator"]["waits"] + ledger["judge"]["waits"],
            "waited_s": round(ledger["generator"]["waited_s"] + ledger["judge"]["waited_s"], 2)}


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class ClientClock:
    """When the client heard each 429 (the shared pause began, and until when) and when it sent each request
    (the call began after its slot): a request sent while a pause it had heard was running is early. The stub's
    own count (arrivals within a 429's delay, 0.5 s after it left) also catches requests that were already on
    their way, late only because a loaded machine sent them late."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []
        self.sends: list[float] = []

    def __enter__(self) -> ClientClock:
        from pipeline.judge import gemini, pacing

        pause, complete = pacing.Gate.pause, gemini.GeminiClient.complete
        clock = self

        def on_pause(gate: pacing.Gate, seconds: float) -> None:
            now = time.monotonic()
            pause(gate, seconds)
            clock.pauses.append((now, gate.until))

        async def on_send(client: Any, *a: Any, **kw: Any) -> Any:
            clock.sends.append(time.monotonic())
            return await complete(client, *a, **kw)

        self._patches = [mock.patch.object(pacing.Gate, "pause", on_pause),
                         mock.patch.object(gemini.GeminiClient, "complete", on_send)]
        for p in self._patches:
            p.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for p in self._patches:
            p.stop()

    def early(self) -> int:
        return sum(any(t0 < s < until - 1e-3 for t0, until in self.pauses) for s in self.sends)


def pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    planned = sum(r["planned"] for r in runs)
    complete = sum(r["complete"] for r in runs)
    judged = sum(r["judged"] for r in runs)
    per = [r["complete"] / r["planned"] for r in runs]
    perj = [r["judged"] / r["complete"] if r["complete"] else 0.0 for r in runs]
    return {"n_traces": planned, "complete": complete, "complete_share": round(complete / planned, 4),
            "complete_ci95": wilson(complete, planned), "complete_range": [round(min(per), 4), round(max(per), 4)],
            "judged": judged, "judged_share": round(judged / complete, 4) if complete else 0.0,
            "judged_ci95": wilson(judged, complete), "judged_range": [round(min(perj), 4), round(max(perj), 4)]}


def judge_alone(url: str, items: list[JudgeItem], cache: Path) -> dict[str, Any]:
    sec = JudgeSection(backend="gemini", base_url=url, cache=False)
    judge = make_judge(sec, cache_dir=cache)
    js = judge.score(items)
    judge.close()
    scorer = JudgeScorer(sec, cache_dir=cache)
    rs = scorer.score_batch([(i.messages[-1]["content"], i.answer) for i in items])
    scorer.judge.close()
    old = make_judge(JudgeSection(backend="gemini", base_url=url, cache=False, cap_retries=0), cache_dir=cache)
    old.shape = OLD_JUDGE
    olds = old.score(items)
    old.close()

    def share(out: list[Any]) -> dict[str, Any]:
        k = sum(j.ok and not j.missing_dimensions() for j in out)
        return {"n": len(out), "judged": k, "share": round(k / len(out), 4), "ci95": wilson(k, len(out))}
    return {"judge-eval": share(js), "judge-grpo": share(rs), "judge-before": share(olds)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=25)
    ap.add_argument("--quota", type=int, default=60, help="requests a quota window accepts")
    ap.add_argument("--window", type=float, default=30.0, help="seconds of a quota window")
    ap.add_argument("--out", default=str(RESULTS / NAME))
    args = ap.parse_args()
    os.environ.setdefault("GEMINI_API_KEY", "AIzaFAKE-bench-key")
    tmp = Path(tempfile.mkdtemp(prefix="bench-gemini-"))
    prompts = prompts_file(tmp, args.prompts)
    load_before = os.getloadavg()
    t_start = time.time()
    res: dict[str, Any] = {"seeds": list(range(1, args.seeds + 1)), "prompts": args.prompts, "traces_per_prompt": 4,
                           "stub": "tests/support/gemini_stub.py (gemini_model.py: 2.5 Flash thinks 200–1500 tokens)"}
    defaults, before = [], []
    for seed in res["seeds"]:
        with stub(seed) as s:
            defaults.append(datagen_run(s.url, tmp / f"defaults-{seed}", prompts))
            before.append(datagen_run(s.url, tmp / f"before-{seed}", prompts, "datagen.cap_retries=0",
                                      "judge.cap_retries=0", old=True))
            print(f"seed {seed}: defaults {defaults[-1]['complete']}/{defaults[-1]['planned']} complete, "
                  f"{defaults[-1]['judged']} judged; before {before[-1]['complete']} complete, "
                  f"{before[-1]['judged']} judged", flush=True)
            if seed == res["seeds"][0]:
                items = [JudgeItem(tuple(r.messages), r.text or "") for r in read_items(tmp / f"defaults-{seed}")
                         if r.complete]
                res["judge_alone"] = judge_alone(s.url, items, tmp / "judge-cache")
    res["defaults"] = {"runs": defaults, **pooled(defaults)}
    res["before"] = {"runs": before, **pooled(before)}
    log = tmp / "quota-log.json"
    with stub(1, "--quota", str(args.quota), "--window", str(args.window), "--log", str(log)) as s, \
            ClientClock() as clock:
        q = datagen_run(s.url, tmp / "quota", prompts)
    qlog = json.loads(log.read_text())
    statuses = [r["status"] for r in qlog["requests"]]
    res["quota"] = {**q, "quota": args.quota, "window_s": args.window, "requests": len(statuses),
                    "refused_429": statuses.count(429), "early_at_stub": qlog["early"],
                    "early_sent": clock.early(), "pauses_heard": len(clock.pauses)}
    print(f"quota: {q['complete']}/{q['planned']} complete, {q['judged']} judged, lost {q['lost']}, "
          f"429s {statuses.count(429)}, early at the stub {qlog['early']}, sent early {clock.early()}, "
          f"waits {q['waits']}", flush=True)
    res["models"] = {}
    for model in ("gemini-2.5-pro", "gemini-3.1-pro-preview", "gemini-3-flash-preview"):
        with stub(1) as s:
            r = datagen_run(s.url, tmp / f"model-{model}", prompts, f"datagen.model=\"{model}\"",
                            f"judge.model=\"{model}\"")
        res["models"][model] = {**r, **pooled([r])}
        print(f"{model}: {r['complete']}/{r['planned']} complete, {r['judged']} judged", flush=True)
    res["load"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    from benchmarks.results_file import machine  # the block every results file has

    res["machine"] = {**machine({"1m": res["load"]["before"][0], "5m": res["load"]["before"][1],
                                 "15m": res["load"]["before"][2], "end_1m": res["load"]["after"][0]}),
                      "python": sys.version.split()[0]}
    res["sdk"] = __import__("google.genai", fromlist=["__version__"]).__version__
    res["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                   cwd=ROOT).stdout.strip()
    res["wall_s"] = round(time.time() - t_start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(r: dict[str, Any]) -> str:
    d, b, q = r["defaults"], r["before"], r["quota"]
    lines = [
        "# Datagen and the judge against the Flash-like Gemini stub", "",
        f"Written by `benchmarks/bench_gemini.py` (commit {r['commit']}, google-genai {r['sdk']}); "
        f"load {r['load']['before']} → {r['load']['after']} on {r['machine']['cpus']} CPUs; "
        f"{r['prompts']} prompts × {r['traces_per_prompt']} traces, stub seeds {r['seeds']}. "
        "Intervals: Wilson 95 % on the pooled counts; range: the per-seed shares.", "",
        "| settings | traces | complete text | judged (of complete) |", "|---|---|---|---|",
        f"| defaults | {d['n_traces']} | {_pct(d['complete_share'])} {d['complete_ci95']} range {d['complete_range']}"
        f" | {_pct(d['judged_share'])} {d['judged_ci95']} range {d['judged_range']} |",
        f"| before (baseline) | {b['n_traces']} | {_pct(b['complete_share'])} {b['complete_ci95']} | "
        f"{_pct(b['judged_share'])} {b['judged_ci95']} |",
    ]
    for model, m in r["models"].items():
        lines.append(f"| defaults, {model} | {m['n_traces']} | {_pct(m['complete_share'])} {m['complete_ci95']} | "
                     f"{_pct(m['judged_share'])} {m['judged_ci95']} |")
    lines += ["", "| the judge alone, default settings | n | judged |", "|---|---|---|"]
    for name, j in r["judge_alone"].items():
        lines.append(f"| {name} | {j['n']} | {_pct(j['share'])} {j['ci95']} |")
    lines += ["", f"Quota window ({q['quota']} requests a {q['window_s']:g} s window, the documented 429 body): "
              f"{q['complete']}/{q['planned']} traces complete, {q['judged']} judged, {q['lost']} lost, "
              f"{q['judge_missing']} judgements missing; {q['refused_429']} of {q['requests']} requests refused; "
              f"{q['early_sent']} requests sent after a 429 was heard and before its delay had passed "
              f"({q['pauses_heard']} pauses heard); the stub saw {q['early_at_stub']} arrive within a 429's delay "
              f"(requests already on their way count there); the ledger counted {q['waits']} waits "
              f"({q['waited_s']} s summed over callers); run {q['wall_s']} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
