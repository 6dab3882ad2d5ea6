"""Abliteration against heretic-llm on one yardstick: the same model, prompt split, system prompt, answer
length and trial budget for both tools, over several seeds; each tool's chosen model then scored under
every yardstick.

Steps (each resumable; ``all`` runs them in order, one seed at a time):

- ``heretic --seed N``: heretic-llm's study (its own venv, offline, benchmarks/heretic_peer.py), its
  chosen trial saved the way a heretic user picks one: fewest refusals by heretic's own count among its
  Pareto trials with KL ≤ ``--pick-kl`` (heretic's damage warning, 0.5);
- ``ours --seed N``: the project's ``abliterate`` stage through ``aba run`` (supervisor, worker, events),
  its chosen trial saved as ``checkpoints/final``;
- ``score --seed N``: both chosen models (and the original) through three yardsticks:
  ``project`` (the project's detector and first-token KL, pipeline.abliterate), ``heretic-markers``
  (heretic's marker list, its own code in its venv, on the very same answers) and ``heretic-evaluate``
  (heretic's own ``--evaluate-model``: its generation, its markers, its KL), each on two prompt sets:
  the test split both studies picked their trial on (``selection``), and the labelled set's prompts
  written for it (``fresh``), which neither study saw: the headline is measured on those;
- ``report``: benchmarks/results/abliteration-vs-heretic.json (a row per tool × seed × yardstick) and
  the generated .md.

Both tools run single-threaded (``--threads``) so seconds a trial compare; the load average at start and
end of every step is recorded beside its figures.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_abliterate_vs_heretic.py all --seeds 1 2 3 --trials 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import heretic_peer as hp  # noqa: E402
from abl_heretic_results import read_json, report, write_json  # noqa: E402
from refusal_set import written_prompts  # noqa: E402

DEFAULT_MODEL = "/work/staging/refusal/smollm2-refusal-merged"
DEFAULT_WORK = Path.home() / ".cache" / "aba" / "bench-abliterate-vs-heretic"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def prompt_split(train: int, test: int) -> dict[str, list[str]]:
    """The project's builtin split, limited the way the stage limits it (train_limit / test_limit)."""
    from pipeline.abliterate.prompts import limited, load_prompts

    h, b = load_prompts("builtin", "harmful"), load_prompts("builtin", "harmless")
    return {"harmful_train": limited(h.train, train), "harmless_train": limited(b.train, train),
            "harmful_test": limited(h.test, test), "harmless_test": limited(b.test, test)}


def fresh_split() -> dict[str, list[str]]:
    """Prompts neither study computed directions or picked trials on (nor the SFT trained on): the
    labelled set's written prompts less any that is also in the builtin lists."""
    from pipeline.abliterate.prompts import load_prompts

    out = {}
    for kind in ("harmful", "harmless"):
        seen = set(load_prompts("builtin", kind).train) | set(load_prompts("builtin", kind).test)
        out[f"{kind}_test"] = [p for p in written_prompts(kind) if p not in seen]
    return out


def setup(a: argparse.Namespace, fresh: bool = False) -> hp.Setup:
    """The shared setup; ``fresh``: the evaluation prompts are the fresh ones (scoring only)."""
    files = hp.write_prompts(a.work / "prompts", prompt_split(a.train, a.test))
    if fresh:
        extra = hp.write_prompts(a.work / "prompts-fresh", fresh_split())
        files = {**files, **extra}
    return hp.Setup(a.model, files, a.tokens, a.system_prompt)


# -- heretic ------------------------------------------------------------------------------------------
def run_heretic(a: argparse.Namespace, seed: int) -> dict[str, Any]:
    folder = a.work / "heretic" / f"seed-{seed}"
    done = read_json(folder / "run.json")
    if done and done.get("chosen_dir") and Path(done["chosen_dir"]).is_dir():
        return dict(done)
    why = hp.available()
    if why:
        raise SystemExit(why)
    s = setup(a)
    folder.mkdir(parents=True, exist_ok=True)
    study, chosen = folder / "study", folder / "chosen"
    cmd = hp.study_cmd(s, seed, a.trials, a.startup, study)
    t0, load0 = time.time(), load()
    rc, menu = hp.drive(cmd, folder / "heretic.log", pick=f"max-kl:{a.pick_kl}", save_dir=chosen,
                        existing="continue", threads=a.threads)
    journal = hp.read_journal(study)
    out = {"seed": seed, "rc": rc, "wall_s": round(time.time() - t0, 1), "load_start": load0, "load_end": load(),
           "threads": a.threads, "trials": journal["complete"], "finished": journal["finished"],
           "pick": f"max-kl:{a.pick_kl}", "menu": menu, "chosen_dir": str(chosen) if chosen.is_dir() else None,
           "system_prompt": journal["system_prompt"], "cmd": cmd}
    write_json(folder / "run.json", out)
    if rc != 0 or not chosen.is_dir():
        raise SystemExit(f"heretic seed {seed}: exit {rc}, chosen saved: {chosen.is_dir()} "
                         f"(see {folder / 'heretic.log'})")
    return out


# -- ours ---------------------------------------------------------------------------------------------
def our_config(a: argparse.Namespace, seed: int, extra: list[str] | None = None) -> Any:
    from pipeline.config.run import build_config

    sets = [f"model.source={a.model}", f"abliterate.train_limit={a.train}", f"abliterate.test_limit={a.test}",
            f"abliterate.trials={a.trials}", f"abliterate.startup_trials={a.startup}",
            f"abliterate.max_new_tokens={a.tokens}", f"abliterate.seed={seed}", "abliterate.heal_pairs=0",
            "abliterate.gguf_eval=false", f"supervisor.threads={a.threads}",
            f"abliterate.system_prompt={json.dumps(a.system_prompt)}", *(extra or [])]
    return build_config("abliterate", [], sets)


def run_ours(a: argparse.Namespace, seed: int, tag: str = "ours", extra: list[str] | None = None) -> dict[str, Any]:
    """The project's stage through the real supervisor and worker; resumes a run that stopped."""
    from pipeline.runs.launcher import launch, resume, wait_for
    from pipeline.runs.status import TERMINAL, read_status
    from pipeline.runs.store import RunStore

    folder = a.work / tag / f"seed-{seed}"
    done = read_json(folder / "run.json") or {}
    if done.get("state") == "succeeded":
        return dict(done)
    store = RunStore(a.work / "runs")
    t0, load0 = time.time(), load()
    if done.get("run_id") and (a.work / "runs" / done["run_id"]).is_dir():
        run_id = done["run_id"]
        if read_status(store.path(run_id)).state != "succeeded":
            resume(store, run_id)
    else:
        run_id, _ = launch(store, our_config(a, seed, extra))
        write_json(folder / "run.json", {"seed": seed, "run_id": run_id, "state": "running"})
    state = wait_for(store, run_id, set(TERMINAL) | {"lost"}, timeout=24 * 3600)
    run_dir = store.path(run_id)
    report = read_json(run_dir / "report.json") or {}
    out = {"seed": seed, "run_id": run_id, "run_dir": str(run_dir), "state": state,
           "wall_s": round(time.time() - t0, 1) + float(done.get("wall_s", 0.0)), "load_start": load0,
           "load_end": load(), "threads": a.threads, "trials": report.get("trials"),
           "seconds_per_trial": report.get("seconds_per_trial"), "chosen": report.get("chosen"),
           "chosen_dir": str(run_dir / "checkpoints" / "final") if state == "succeeded" else None,
           "extra": extra or []}
    write_json(folder / "run.json", out)
    if state != "succeeded":
        raise SystemExit(f"{tag} seed {seed}: run {run_id} ended {state} (see {run_dir / 'stderr.log'})")
    return out


# -- cross-scoring ------------------------------------------------------------------------------------
class ProjectYardstick:
    """The project's detector and first-token KL (pipeline.abliterate) on the shared split and system
    prompt; the same answers also go through heretic's markers (its code, its venv)."""

    def __init__(self, a: argparse.Namespace) -> None:
        import torch

        from pipeline.abliterate.engine import Engine
        from pipeline.abliterate.objectives import baseline_reference
        from pipeline.abliterate.refusal import make_detector

        torch.set_num_threads(a.threads)
        self.a = a
        self.splits = {"selection": prompt_split(a.train, a.test), "fresh": fresh_split()}
        self.detector = make_detector("builtin")
        original = Engine.load(a.model, 16, a.system_prompt)
        self.base = {k: baseline_reference(original, v["harmless_test"], 1) for k, v in self.splits.items()}
        del original

    def score(self, model_dir: str, prompts: str) -> dict[str, Any]:
        """``prompts``: ``selection`` (the test split the studies picked on) or ``fresh``."""
        from types import SimpleNamespace

        from pipeline.abliterate.engine import Engine
        from pipeline.abliterate.objectives import measure

        split = self.splits[prompts]
        engine = Engine.load(model_dir, 16, self.a.system_prompt)
        cfg = SimpleNamespace(max_new_tokens=self.a.tokens, kl_tokens=1, hallucination=False, capability=False)
        m = measure(engine, self.base[prompts], split["harmful_test"], split["harmless_test"], self.detector, cfg, 0)
        markers = hp.marker_flags(m.answers)
        return {"kl": round(m.kl, 5), "refusals": m.refusals, "n": m.n, "heretic_marker_refusals": sum(markers),
                "answers": [{"prompt": p, "answer": ans, "project": f, "heretic_markers": h} for p, ans, f, h
                            in zip(split["harmful_test"], m.answers, m.flags, markers, strict=True)]}


def heretic_trials(a: argparse.Namespace, seed: int, ys: ProjectYardstick) -> list[dict[str, Any]] | None:
    """Every heretic trial's logged answers scored again with the project's detector (None: the study
    ran without --print-responses)."""
    log = a.work / "heretic" / f"seed-{seed}" / "heretic.log"
    trials = hp.trial_answers(log.read_text(encoding="utf-8", errors="replace")) if log.is_file() else {}
    trials.pop(0, None)
    trials = {n: t for n, t in trials.items() if t["answers"]}  # printed without --print-responses: none
    if not trials:
        return None
    out = []
    for num, t in sorted(trials.items()):
        flags = [ys.detector(p, ans) for p, ans in t["answers"]]
        out.append({"trial": num, "kl": t["kl"], "heretic_refusals": t["heretic_refusals"],
                    "project_refusals": sum(1 for f in flags if f), "n": len(flags)})
    return out


def score_model(a: argparse.Namespace, seed: int, tool: str, path: str, ys: ProjectYardstick) -> dict[str, Any]:
    """One model under every yardstick, kept in score/ (the original once for all seeds)."""
    cache = a.work / "score" / ("original.json" if tool == "original" else f"seed-{seed}-{tool}.json")
    cached = read_json(cache)
    if cached:
        return dict(cached)
    setups = {"selection": setup(a), "fresh": setup(a, fresh=True)}
    t0, load0 = time.time(), load()
    out: dict[str, Any] = {"model": path}
    for prompts, s in setups.items():
        tag = "" if prompts == "selection" else "_fresh"
        out["project" + tag] = ys.score(path, prompts)
        if prompts == "selection" or a.heretic_fresh:  # heretic's evaluation: two models' worth of work
            out["heretic_evaluate" + tag] = hp.evaluate(
                s, Path(path), a.work / "score" / f"seed-{seed}-{tool}-heretic-eval{tag}.log",
                a.work / "score" / "scratch" / f"{seed}-{tool}{tag}", a.threads)
    out.update({"scoring_seconds": round(time.time() - t0, 1), "load": [load0, load()]})
    write_json(cache, out)
    return out


def score_seed(a: argparse.Namespace, seed: int, ys: ProjectYardstick | None) -> dict[str, Any] | None:
    """Both chosen models of a seed (and the original) scored; with ``--tools``, only those whose chosen
    model exists (the seed's file is written once all three are scored)."""
    out_path = a.work / "score" / f"seed-{seed}.json"
    cached = read_json(out_path)
    if cached:
        return dict(cached)
    runs = {"heretic": read_json(a.work / "heretic" / f"seed-{seed}" / "run.json"),
            "ours": read_json(a.work / "ours" / f"seed-{seed}" / "run.json")}
    missing = [t for t, r in runs.items() if not (r and r.get("chosen_dir"))]
    if missing and not a.tools:
        raise SystemExit(f"seed {seed}: no chosen model yet for {', '.join(missing)} (run those steps first)")
    ys = ys or ProjectYardstick(a)
    models = {"original": a.model, **{t: r["chosen_dir"] for t, r in runs.items() if t not in missing}}
    scored = {tool: score_model(a, seed, tool, path, ys) for tool, path in models.items()
              if not a.tools or tool in a.tools}
    if missing or set(scored) != {"original", *runs}:
        return None
    out = {"seed": seed, "runs": runs, "scored": scored, "heretic_trials": heretic_trials(a, seed, ys)}
    write_json(out_path, out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["heretic", "ours", "variant", "score", "report", "all"])
    ap.add_argument("--variant", default="norm_preserving", help="the variant step's abliterate.variant "
                    "(its studies are compared with the standard ones of the same seeds)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--startup", type=int, default=15, help="random start-up trials (both tools)")
    ap.add_argument("--train", type=int, default=48)
    ap.add_argument("--test", type=int, default=24)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--system-prompt", default="You are a helpful assistant.")
    ap.add_argument("--pick-kl", type=float, default=0.5, help="heretic's pick: fewest refusals with KL ≤ this")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tools", nargs="+", choices=["original", "heretic", "ours"], default=None,
                    help="score: only these models (the seed's file waits for all three)")
    ap.add_argument("--heretic-fresh", action="store_true", help="score: heretic's --evaluate-model on the "
                    "fresh prompts too (it always runs on the selection prompts)")
    ap.add_argument("--study-code", default=None, help="report: the code the studies ran (when not this copy)")
    ap.add_argument("--note", action="append", default=[], help="report: a line for the results file (repeatable)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        if a.step in ("heretic", "all"):
            print(json.dumps(run_heretic(a, seed)), flush=True)
        if a.step in ("ours", "all"):
            print(json.dumps(run_ours(a, seed)), flush=True)
        if a.step == "variant":
            print(json.dumps(run_ours(a, seed, f"ours-{a.variant}", [f"abliterate.variant={a.variant}"])), flush=True)
    if a.step in ("score", "all"):
        ys = None
        for seed in a.seeds:
            if not (a.work / "score" / f"seed-{seed}.json").is_file():
                ys = ys or ProjectYardstick(a)
            sc = score_seed(a, seed, ys)
            print(json.dumps({k: v for k, v in sc.items() if k != "scored"} if sc else
                             {"seed": seed, "scored": a.tools, "complete": False}), flush=True)
    if a.step in ("report", "all"):
        print(json.dumps(report(a)["headline"], indent=1))


if __name__ == "__main__":
    main()
