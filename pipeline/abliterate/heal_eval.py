"""The heal chain's report (worker only): a model measured on its abliterate ancestor's yardstick.

The ``abliterate_eval`` stage ends the ``abliterate → dpo → abliterate_eval`` chain. It finds the
nearest ``abliterate`` run among its parents and measures three models with that run's prompts, system
prompt, answer length and detector: the **original** (the ancestor's model), the **abliterated** one
(its ``checkpoints/final``) and this stage's own ``model.source`` (the **healed** model, the DPO run's
checkpoint). Each gets refusals on the held-out harmful prompts, KL against the original on the
held-out harmless ones, and accuracy on the project's multiple-choice set, with 95 % Wilson intervals
for the two proportions; ``heal_report.json`` and ``heal_report.md`` hold the before/after table.
"""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pipeline.abliterate.engine import Engine
from pipeline.abliterate.objectives import baseline_reference, measure
from pipeline.abliterate.prompts import capability_items, limited, load_prompts
from pipeline.abliterate.refusal import make_detector
from pipeline.atomic import atomic_write_json, atomic_write_text
from pipeline.errors import ConfigError
from pipeline.evaluate import stats
from pipeline.runs.layout import CHECKPOINTS_DIR, FINAL, HEAL_REPORT_JSON, HEAL_REPORT_MD
from pipeline.runs.vocabulary import EventType
from pipeline.runs.worker import StageContext

MODELS = ("original", "abliterated", "healed")


def wilson(k: int, n: int) -> list[float] | None:
    """95 % Wilson interval, rounded for the report (None for n = 0)."""
    return [round(x, 4) for x in stats.wilson(k, n)] if n else None


def ancestor(run_dir: Path, parent: str | None, stage: str = "abliterate") -> tuple[Path, Any]:
    """The nearest run up the chain whose stage is ``stage``: its folder and config."""
    from pipeline.runs.store import RunStore, load_run_config

    store = RunStore(run_dir.parent)
    seen: list[str] = []
    while parent:
        path = store.path(parent)
        if not path.is_dir():
            break
        cfg = load_run_config(path)
        if cfg.stage == stage:
            return path, cfg
        seen.append(f"{parent} ({cfg.stage})")
        parent = cfg.parent
    raise ConfigError(f"abliterate_eval: no {stage} run among this run's parents ({', '.join(seen) or 'none'}); "
                      "it ends a chain that starts with abliterate (preset abliterate-heal)")


def measure_model(path: str, a: Any, prompts: dict[str, list[str]], base: Any, items: list[dict]) -> dict[str, Any]:
    engine = Engine.load(path, a.batch_size, a.system_prompt)
    cfg = SimpleNamespace(max_new_tokens=a.max_new_tokens, kl_tokens=a.kl_tokens, hallucination=False,
                          capability=False)
    detector = make_detector(a.detector, a.markers)
    m = measure(engine, base, prompts["harmful"], prompts["harmless"], detector, cfg, a.seed)
    acc = engine.choice_accuracy(items)
    right = round(acc * len(items))
    del engine
    gc.collect()
    return {"model": path, "refusals": m.refusals, "n": m.n, "refusal_rate_ci95": wilson(m.refusals, m.n),
            "kl": float(f"{m.kl:.6g}"), "capability": round(acc, 4), "capability_n": len(items),
            "capability_ci95": wilson(right, len(items)),
            "examples": [{"prompt": p, "answer": ans[:200]} for p, ans in zip(prompts["harmful"][:3], m.answers[:3],
                                                                          strict=False)]}


def run(ctx: StageContext) -> None:
    from pipeline.models.resolve import resolve_model

    try:
        anc_dir, anc_cfg = ancestor(ctx.run_dir, ctx.cfg.parent)
    except ConfigError as exc:
        ctx.fail(str(exc))
    a = anc_cfg.section("abliterate")
    h, b = load_prompts(a.harmful, "harmful"), load_prompts(a.harmless, "harmless")
    prompts = {"harmful": limited(h.test, a.test_limit), "harmless": limited(b.test, a.test_limit)}
    paths = {"original": str(resolve_model(anc_cfg.section("model").source)),
             "abliterated": str(anc_dir / CHECKPOINTS_DIR / FINAL),
             "healed": str(resolve_model(ctx.cfg.section("model").source))}
    if not Path(paths["abliterated"]).is_dir():
        ctx.fail(f"abliterate_eval: {anc_dir.name} saved no {CHECKPOINTS_DIR}/{FINAL} (did its study finish?)")
    items = capability_items()
    original = Engine.load(paths["original"], a.batch_size, a.system_prompt)
    base = baseline_reference(original, prompts["harmless"], a.kl_tokens)
    del original
    rows: dict[str, Any] = {}
    for i, name in enumerate(MODELS):
        ctx.log(f"abliterate_eval: measuring the {name} model ({paths[name]})")
        rows[name] = measure_model(paths[name], a, prompts, base, items)
        # steps 1, 2, 3: original, abliterated, healed (the report names them)
        ctx.emit(EventType.METRICS, i + 1, refusals=rows[name]["refusals"], kl=rows[name]["kl"],
                 capability=rows[name]["capability"])
        if ctx.stop_requested.is_set():
            ctx.log("abliterate_eval: stop requested")
            return
    report = {"abliterate_run": anc_dir.name, "system_prompt": a.system_prompt, "max_new_tokens": a.max_new_tokens,
              "detector": a.detector, "test_prompts": [len(prompts["harmful"]), len(prompts["harmless"])],
              "models": rows,
              "heal": {"refusals": rows["healed"]["refusals"] - rows["abliterated"]["refusals"],
                       "kl": float(f"{rows['healed']['kl'] - rows['abliterated']['kl']:.6g}"),
                       "capability": round(rows["healed"]["capability"] - rows["abliterated"]["capability"], 4)}}
    atomic_write_text(ctx.run_dir / HEAL_REPORT_MD, markdown(report))
    atomic_write_json(ctx.run_dir / HEAL_REPORT_JSON, report)


def markdown(r: dict[str, Any]) -> str:
    def ci(v: list[float] | None) -> str:
        return f"{v[0]:.2f}–{v[1]:.2f}" if v else "–"

    lines = ["# Heal report", "",
             f"Abliterate run {r['abliterate_run']}: {r['test_prompts'][0]} held-out harmful prompts (refusals, "
             f"detector {r['detector']}, {r['max_new_tokens']} new tokens), {r['test_prompts'][1]} held-out harmless "
             f"prompts (first-token KL against the original), the project's multiple-choice set (capability); "
             f"system prompt {r['system_prompt']!r}.", "",
             "| model | refusals | refusal rate 95% CI | KL | capability | capability 95% CI |",
             "|---|---|---|---|---|---|"]
    for name, m in r["models"].items():
        lines.append(f"| {name} | {m['refusals']}/{m['n']} | {ci(m['refusal_rate_ci95'])} | {m['kl']:.4g} | "
                     f"{m['capability']:.3f} ({round(m['capability'] * m['capability_n'])}/{m['capability_n']}) | "
                     f"{ci(m['capability_ci95'])} |")
    hl = r["heal"]
    lines += ["", f"The heal changed refusals by {hl['refusals']:+d}, KL by {hl['kl']:+.4g} and capability by "
              f"{hl['capability']:+.3f} (healed − abliterated)."]
    return "\n".join(lines) + "\n"
