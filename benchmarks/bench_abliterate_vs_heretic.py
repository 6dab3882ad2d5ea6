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
  (heretic's own ``--evaluate-model``: its generation, its markers, its KL);
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

RESULTS = ROOT / "benchmarks" / "results"
NAME = "abliteration-vs-heretic"
DEFAULT_MODEL = "/work/staging/refusal/smollm2-refusal-merged"
DEFAULT_WORK = Path.home() / ".cache" / "aba" / "bench-abliterate-vs-heretic"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def prompt_split(train: int, test: int) -> dict[str, list[str]]:
    """The project's builtin split, limited the way the stage limits it (train_limit / test_limit)."""
    from pipeline.abliterate.prompts import limited, load_prompts

    h, b = load_prompts("builtin", "harmful"), load_prompts("builtin", "harmless")
    return {"harmful_train": limited(h.train, train), "harmless_train": limited(b.train, train),
            "harmful_test": limited(h.test, test), "harmless_test": limited(b.test, test)}


def setup(a: argparse.Namespace) -> hp.Setup:
    files = hp.write_prompts(a.work / "prompts", prompt_split(a.train, a.test))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["heretic", "ours", "score", "report", "all"])
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
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        if a.step in ("heretic", "all"):
            print(json.dumps(run_heretic(a, seed)), flush=True)


if __name__ == "__main__":
    main()
