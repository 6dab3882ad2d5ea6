"""Abliteration figures, all measured in the same run on the same model and the same prompt split:

- trial reset (hooks removed) vs reloading the model (the alternative a reset replaces): ms and ratio;
- seconds per trial (generate on the harmful test prompts + KL on the harmless ones);
- refusals and KL of the original model, of a plain single-direction ablation (the classic recipe:
  the difference-of-means direction of the best-separating layer, weight 1 on every layer's attention
  and MLP output) and, with ``--run``, of a finished study's chosen trial (read from its report.json,
  same split when the run used the same limits).

heretic-llm is measured against the study on one yardstick by benchmarks/bench_abliterate_vs_heretic.py.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_abliterate.py [--model embedded|run:<sft id>|DIR]
        [--test 12] [--train 16] [--tokens 12] [--run RUN_DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--test", type=int, default=12)
    ap.add_argument("--train", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=12)
    ap.add_argument("--layer", type=int, default=-1,
                    help="the plain ablation's direction layer (default: the largest raw separation, which "
                         "favours deep layers whose residual norms are large)")
    ap.add_argument("--run", type=Path, default=None, help="a finished abliterate run to compare against")
    ap.add_argument("--system-prompt", default="You are a helpful assistant.")
    args = ap.parse_args()


    from pipeline.abliterate import directions as dirs
    from pipeline.abliterate.ablate import Ablator
    from pipeline.abliterate.engine import Engine
    from pipeline.abliterate.kernel import ComponentKernel, TrialParams
    from pipeline.abliterate.objectives import baseline_reference, measure
    from pipeline.abliterate.prompts import limited, load_prompts
    from pipeline.abliterate.refusal import make_detector
    from pipeline.models.resolve import resolve_model

    path = str(resolve_model(args.model))
    t0 = time.perf_counter()
    engine = Engine.load(path, batch_size=16, system_prompt=args.system_prompt)
    load_s = time.perf_counter() - t0
    h, b = load_prompts("builtin", "harmful"), load_prompts("builtin", "harmless")
    h_test, b_test = limited(h.test, args.test), limited(b.test, args.test)
    d, _mean, info = dirs.compute(engine, limited(h.train, args.train), limited(b.train, args.train))
    cfg = SimpleNamespace(max_new_tokens=args.tokens, kl_tokens=1, hallucination=False, capability=False)
    detector = make_detector()
    base = baseline_reference(engine, b_test, 1)
    original = measure(engine, base, h_test, b_test, detector, cfg, 0)

    best = args.layer if args.layer >= 0 else max(range(len(info["separation"])), key=lambda i: info["separation"][i])
    n = d.shape[0]
    full = ComponentKernel(1.0, 0.5, 1.0, 1.0)
    plain = TrialParams(direction_index=best / max(n - 1, 1), kernels={"attn": full, "mlp": full})
    ab = Ablator(engine.model, d, "standard")
    resets = []
    for _ in range(20):
        ab.apply(plain)
        t0 = time.perf_counter()
        ab.reset()
        resets.append(time.perf_counter() - t0)
    ab.apply(plain)
    t0 = time.perf_counter()
    ablated = measure(engine, base, h_test, b_test, detector, cfg, 0)
    trial_s = time.perf_counter() - t0
    ab.reset()

    reset_ms = 1000 * sorted(resets)[len(resets) // 2]
    out = {
        "model": path, "system_prompt": args.system_prompt, "test_prompts": len(h_test), "layers": n,
        "plain_direction_layer": best,
        "reset_ms_median": round(reset_ms, 3), "reload_ms": round(load_s * 1000, 1),
        "reset_vs_reload": round(reset_ms / (load_s * 1000), 6), "seconds_per_trial": round(trial_s, 2),
        "original": {"refusals": original.refusals, "kl": 0.0},
        "plain_single_direction": {"refusals": ablated.refusals, "kl": round(ablated.kl, 4)},
    }
    if args.run is not None and (args.run / "report.json").is_file():
        rep = json.loads((args.run / "report.json").read_text())
        out["study"] = {"chosen": rep.get("chosen"), "baseline": rep.get("baseline"),
                        "seconds_per_trial": rep.get("seconds_per_trial"), "trials": rep.get("trials")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
