"""Pipeline overhead: the dpo stage (supervisor + worker + callback + events) vs a plain TRL script.

Both train the embedded SmolLM2-135M with the same DPOConfig, LoRA, data and seed, in this same
run, alternating A/B to share the machine's noise. Steps/s is measured between the logs of step 1
and step N (warm-up and model loading excluded; the pipeline's time comes from events.jsonl, the
plain script's from a one-line on_log timer at the same point in the loop). Goal: overhead ≤ 3 %.
The headline ratio compares the best run of each side: on a shared machine other processes only ever
slow a run down, so the fastest of several alternated runs is the fairest estimate; medians are
printed too. The pipeline runs with default settings (its threads: every allowed core), straight after
the plain script's run (and the other way round): each side's run is the "other job" the next one
starts after. Writes benchmarks/results/dpo-overhead.json and .md; asserts nothing.

    .venv/bin/python benchmarks/bench_dpo_overhead.py [--steps 20] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = "builtin:epistemic-stance-25"


def settings(steps: int) -> list[str]:
    return [f"dpo.data={DATA}", f"dpo.max_steps={steps}", "dpo.checkpoint_every=0", "dpo.max_length=192",
            "dpo.learning_rate=5e-5", "dpo.warmup_steps=0", "dpo.logging_steps=1", "model.lora_r=8",
            "model.lora_alpha=16", "model.lora_dropout=0.0"]


def run_pipeline(steps: int, runs_dir: Path, said: list[str]) -> float:
    from pipeline.config.run import build_config
    from pipeline.runs.launcher import launch, wait_for
    from pipeline.runs.store import RunStore
    from pipeline.runs.vocabulary import EventType

    store = RunStore(runs_dir)
    run_id, path = launch(store, build_config("dpo", [], settings(steps)))
    state = wait_for(store, run_id, {"succeeded", "failed", "oom", "stopped", "lost"}, timeout=3600)
    if state != "succeeded":
        raise SystemExit(f"pipeline run {run_id} ended {state}; see {path}/stderr.log")
    said.extend(ln for ln in (path / "stdout.log").read_text().splitlines() if ln.startswith("worker: "))
    ts = {}
    for line in (path / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev.get("type") == EventType.METRICS:
            ts[ev["step"]] = ev["ts"]
    return (steps - 1) / (ts[steps] - ts[1])


def plain_worker(steps: int, out: Path) -> None:
    """The plain TRL script: what an operator would write by hand, same config as the stage."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from pipeline.config.run import build_config
    from pipeline.data.loaders import load_pairs
    from pipeline.models.resolve import resolve_model

    cfg = build_config("dpo", [], settings(steps))
    sec, msec = cfg.stage_section, cfg.sections["model"]
    path = resolve_model("embedded")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=msec.lora_r, lora_alpha=msec.lora_alpha,
                                             lora_dropout=msec.lora_dropout, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    times: dict[int, float] = {}

    class Timer(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):  # type: ignore[no-untyped-def]
            times[state.global_step] = time.time()

    with tempfile.TemporaryDirectory() as tmp:
        args = DPOConfig(output_dir=tmp, learning_rate=sec.learning_rate, max_steps=steps,
                         num_train_epochs=sec.epochs, per_device_train_batch_size=sec.batch_size,
                         gradient_accumulation_steps=sec.grad_accum, warmup_steps=sec.warmup_steps,
                         weight_decay=sec.weight_decay, max_grad_norm=sec.max_grad_norm, seed=sec.seed,
                         logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                         use_cpu=not torch.cuda.is_available(), bf16=False, gradient_checkpointing=False,
                         dataloader_pin_memory=False, beta=sec.beta, max_length=sec.max_length)
        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(load_pairs(DATA).rows),
                             processing_class=tok, callbacks=[Timer()])
        trainer.train()
        trainer.save_model(f"{tmp}/final")
    out.write_text(json.dumps({"steps_per_s": (steps - 1) / (times[steps] - times[1])}))


def run_plain(steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "plain.json"
        subprocess.run([sys.executable, __file__, "--plain-worker", str(out), "--steps", str(steps)], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return float(json.loads(out.read_text())["steps_per_s"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--plain-worker", type=Path)
    args = ap.parse_args()
    if args.plain_worker:
        plain_worker(args.steps, args.plain_worker)
        return
    from pipeline.models.resolve import resolve_model

    resolve_model("embedded")  # convert once, outside the timings
    from benchmarks.record import Check, Record

    rec = Record("dpo-overhead", "DPO stage overhead: the pipeline against a plain TRL script", reps=args.reps)
    pipe: list[float] = []
    plain: list[float] = []
    said: list[str] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory() as runs:
        for rep in range(args.reps):
            # Alternate the order so a slow stretch of the machine does not favour one side.
            order = ("plain", "pipeline") if rep % 2 == 0 else ("pipeline", "plain")
            for side in order:
                t0 = time.time()
                loads.append(round(os.getloadavg()[0], 2))
                if side == "plain":
                    plain.append(run_plain(args.steps))
                else:
                    pipe.append(run_pipeline(args.steps, Path(runs), said))
                value = (plain if side == "plain" else pipe)[-1]
                print(f"rep {rep + 1} {side:<8} {value:.3f} steps/s  ({time.time() - t0:.0f} s wall)", flush=True)
    base = (f"plain TRL DPOTrainer script, same config ({args.steps} steps, embedded SmolLM2-135M, LoRA r=8, "
            "max_length 192), alternating with the pipeline")
    print(f"\nbaseline: {base}")
    print(f"plain    best {max(plain):.3f}  median {statistics.median(plain):.3f} steps/s   "
          f"runs {', '.join(f'{v:.3f}' for v in plain)}")
    print(f"pipeline best {max(pipe):.3f}  median {statistics.median(pipe):.3f} steps/s   "
          f"runs {', '.join(f'{v:.3f}' for v in pipe)}")
    rec.finish([
        Check(f"steps/s, best of {args.reps}", max(pipe), max(plain), "steps/s", "plain TRL script",
              budget_ratio=0.97, higher_is_better=True,
              note="budget: ≤ 3 % overhead, i.e. ≥ 0.97× the plain script's steps/s"),
        Check(f"steps/s, median of {args.reps}", statistics.median(pipe), statistics.median(plain), "steps/s",
              "plain TRL script", budget_ratio=0.97, higher_is_better=True),
    ], figures={"baseline": base, "steps": args.steps, "pipeline_steps_per_s": pipe, "plain_steps_per_s": plain,
                "load_at_each_run": loads, "worker_said": sorted(set(said))},
        notes=[f"the pipeline's worker said: {sorted(set(said))[0]}" if said else "no worker line found"])


if __name__ == "__main__":
    main()
