"""Seed 004's heal and concept-cones measurements on a model that refuses (the refusal-trained embedded
model by default), each run once through the real supervisor from its preset:

- ``heal``: the ``abliterate-heal`` chain (abliterate → DPO on the heal pairs → abliterate_eval): the
  original, abliterated and healed models' refusals, KL and capability from the chain's heal_report.json;
- ``cones``: the ``abliterate-cones`` preset's abliterate stage (its SFT is skipped: the model given is
  already that SFT's output): the same trial budget with one direction and with 4 concept cones, from
  the run's comparison.json.

Writes benchmarks/results/abliterate-heal.{json,md} and abliterate-cones.{json,md} with the run ids,
seconds and the load average at start and end. Resumable: a finished run is read again, not redone.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_abliterate_seed004.py heal|cones [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from abl_heretic_results import RESULTS, read_json, write_json  # noqa: E402

DEFAULT_MODEL = "/work/staging/refusal/smollm2-refusal-merged"
PRESETS = ROOT / "pipeline" / "presets"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def toml_value(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def section_sets(preset: str, section: str) -> list[str]:
    """A preset's [section] as --set items (so the run follows the preset as shipped)."""
    data = tomllib.loads((PRESETS / f"{preset}.toml").read_text(encoding="utf-8"))
    return [f"{section}.{k}={toml_value(v)}" for k, v in data.get(section, {}).items()]


def children(store: Any, parent: str) -> list[str]:
    from pipeline.runs.store import load_run_config

    return [i.run_id for i in store.list_runs() if load_run_config(i.path).parent == parent]


def chain_of(store: Any, first: str, length: int, timeout: float) -> list[str]:
    """The runs of a chain from ``first`` once each has ended (a child starts when its parent succeeds)."""
    from pipeline.runs.launcher import wait_for
    from pipeline.runs.status import TERMINAL

    ended = set(TERMINAL) | {"lost"}
    chain, end = [first], time.time() + timeout
    while len(chain) < length and time.time() < end:
        if wait_for(store, chain[-1], ended, timeout=end - time.time()) != "succeeded":
            break
        kids = children(store, chain[-1])
        if kids:
            chain.append(kids[0])
        else:
            time.sleep(2)
    if chain:
        wait_for(store, chain[-1], ended, timeout=max(1.0, end - time.time()))
    return chain


def launch_once(work: Path, tag: str, cfg_fn: Any) -> tuple[Any, str, dict[str, Any]]:
    from pipeline.runs.launcher import launch
    from pipeline.runs.store import RunStore

    store = RunStore(work / "runs")
    state = read_json(work / f"{tag}.json") or {}
    if not state.get("first"):
        state = {"first": launch(store, cfg_fn())[0], "started": time.time(), "load_start": load()}
        write_json(work / f"{tag}.json", state)
    return store, state["first"], state


def run_info(store: Any, run_id: str) -> dict[str, Any]:
    from pipeline.runs.status import read_status

    st = read_status(store.path(run_id))
    secs = (st.ended_at - st.started_at) if st.ended_at and st.started_at else None
    return {"run_id": run_id, "state": st.state, "seconds": round(secs, 1) if secs else None}


def end_load(work: Path, tag: str, state: dict[str, Any]) -> float:
    """The load average when the measured runs ended, kept in the state file (a later read of a finished
    run must not stamp its own)."""
    if "load_end" not in state:
        state["load_end"] = load()
        write_json(work / f"{tag}.json", state)
    return float(state["load_end"])


def dpo_facts(run_dir: Path, pairs: Path) -> dict[str, Any]:
    """What the heal's DPO did: its pairs, and per optimizer step the loss and learning rate it logged."""
    import json

    from pipeline.runs.vocabulary import EventType

    steps = []
    for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines():
        ev = json.loads(line)
        if ev.get("type") == EventType.METRICS and "loss" in ev and "lr" in ev:
            steps.append({"step": ev["step"], "loss": round(ev["loss"], 6), "lr": ev["lr"]})
    n_pairs = sum(1 for line in pairs.read_text(encoding="utf-8").splitlines() if line.strip()) \
        if pairs.is_file() else None
    return {"heal_pairs": n_pairs, "optimizer_steps": len(steps), "steps": steps}


def heal(a: argparse.Namespace) -> dict[str, Any]:
    from pipeline.config.run import build_config
    from pipeline.runs.layout import HEAL_PAIRS

    sets = [f"model.source={a.model}", f"supervisor.threads={a.threads}"]
    store, first, state = launch_once(a.work, "heal", lambda: build_config(None, [PRESETS / "abliterate-heal.toml"],
                                                                             sets))
    chain = chain_of(store, first, 3, 6 * 3600)
    runs = [run_info(store, r) for r in chain]
    out: dict[str, Any] = {"name": "abliterate-heal", "preset": "abliterate-heal", "model": a.model, "runs": runs,
                           "load": [state["load_start"], end_load(a.work, "heal", state)], "threads": a.threads}
    if len(chain) == 3 and all(r["state"] == "succeeded" for r in runs):
        out["study"] = read_json(store.path(chain[0]) / "report.json")
        out["dpo"] = dpo_facts(store.path(chain[1]), store.path(chain[0]) / HEAL_PAIRS)
        out["heal_report"] = read_json(store.path(chain[2]) / "heal_report.json")
    write_json(RESULTS / "abliterate-heal.json", out)
    (RESULTS / "abliterate-heal.md").write_text(heal_md(out), encoding="utf-8")
    return out


def heal_md(out: dict[str, Any]) -> str:
    lines = ["# abliterate-heal on a refusing model", "",
             "Generated by benchmarks/bench_abliterate_seed004.py with abliterate-heal.json.", "",
             f"Model `{out['model']}`, preset abliterate-heal as shipped; {out['threads']} thread(s); load average "
             f"{out['load'][0]} at the start, {out['load'][1]} at the end.", "", "| run | state | seconds |",
             "|---|---|---|"]
    lines += [f"| {r['run_id']} | {r['state']} | {r['seconds']} |" for r in out["runs"]]
    rep = out.get("heal_report")
    if rep:
        lines += ["", "| model | refusals | refusal rate 95% CI | KL | capability | capability 95% CI |",
                  "|---|---|---|---|---|---|"]
        for name in ("original", "abliterated", "healed"):
            m = rep["models"][name]
            rc, cc = m["refusal_rate_ci95"], m["capability_ci95"]
            lines.append(f"| {name} | {m['refusals']}/{m['n']} | {rc[0]:.2f}–{rc[1]:.2f} | {m['kl']:.4g} | "
                         f"{m['capability']:.3f} | {cc[0]:.2f}–{cc[1]:.2f} |")
        d = out.get("dpo")
        if d:
            first, last = (d["steps"][0], d["steps"][-1]) if d["steps"] else ({}, {})
            lines += ["", f"DPO heal: {d['heal_pairs']} pairs, {d['optimizer_steps']} optimizer steps; loss "
                      f"{first.get('loss')} → {last.get('loss')}, learning rate {first.get('lr')} → {last.get('lr')}."]
        h = rep["heal"]
        lines += ["", f"Heal (healed − abliterated): refusals {h['refusals']:+d}, KL {h['kl']:+.4g}, capability "
                  f"{h['capability']:+.3f}; system prompt {rep['system_prompt']!r}, {rep['test_prompts'][0]}+"
                  f"{rep['test_prompts'][1]} held-out prompts."]
    else:
        lines += ["", "The chain did not finish; see the runs above."]
    return "\n".join(lines) + "\n"


def cones(a: argparse.Namespace) -> dict[str, Any]:
    from pipeline.config.run import build_config
    from pipeline.runs.launcher import wait_for
    from pipeline.runs.status import TERMINAL

    sets = [f"model.source={a.model}", f"supervisor.threads={a.threads}",
            *section_sets("abliterate-cones", "abliterate")]
    store, first, state = launch_once(a.work, "cones", lambda: build_config("abliterate", [], sets))
    wait_for(store, first, set(TERMINAL) | {"lost"}, timeout=6 * 3600)
    info = run_info(store, first)
    out: dict[str, Any] = {"name": "abliterate-cones", "preset": "abliterate-cones (its abliterate stage)",
                           "model": a.model, "run": info,
                           "load": [state["load_start"], end_load(a.work, "cones", state)], "threads": a.threads,
                           "comparison": read_json(store.path(first) / "comparison.json")}
    write_json(RESULTS / "abliterate-cones.json", out)
    (RESULTS / "abliterate-cones.md").write_text(cones_md(out), encoding="utf-8")
    return out


def cones_md(out: dict[str, Any]) -> str:
    r = out["run"]
    lines = ["# Concept cones on/off on a refusing model", "",
             "Generated by benchmarks/bench_abliterate_seed004.py with abliterate-cones.json.", "",
             f"Model `{out['model']}`; the abliterate-cones preset's abliterate stage; run {r['run_id']} "
             f"({r['state']}, {r['seconds']} s); {out['threads']} thread(s); load average {out['load'][0]} → "
             f"{out['load'][1]}.", ""]
    comp = out.get("comparison")
    if not comp:
        return "\n".join([*lines, "The run wrote no comparison.json."]) + "\n"
    cols = ("trials", "lowest_refusals", "best_kl_at_lowest", "kl_mean", "seconds_per_trial", "peak_rss_mb",
            "directions_mb")
    lines += [f"Original model: {comp['baseline']['refusals']}/{comp['baseline']['n']} refusals.", "",
              "| arm | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for arm, row in comp["arms"].items():
        lines.append(f"| {arm} | " + " | ".join(f"{row.get(c):.4g}" if isinstance(row.get(c), float)
                                                else str(row.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["heal", "cones"])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "aba" / "bench-abliterate-seed004")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    out = heal(a) if a.what == "heal" else cones(a)
    print(f"wrote {RESULTS / (out['name'] + '.json')}")


if __name__ == "__main__":
    main()
