"""What a preset does, in a line an operator reads before running it: its chain and where its data comes from.

Read from the preset's resolved config (defaults filled in), so ``aba presets`` says what a run would use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.run import RunConfig, build_config, list_presets


@dataclass(frozen=True)
class PresetInfo:
    name: str
    chain: str  # "datagen → sft → grpo"
    data: str  # where the first stage's data comes from, and what the later ones read
    description: str
    requires: tuple[str, ...] = ()


def _datagen(cfg: RunConfig) -> str:
    sec = cfg.sections["datagen"]
    gen = sec.backend + (f" {sec.model}" if sec.model else " (embedded model)" if sec.backend == "local" else "")
    counts = ", ".join(sec.category_counts) or (f"{sec.per_category} a category" if sec.per_category else "as is")
    judge = cfg.sections.get("judge")
    judged = f"; judged by {judge.backend}{' ' + judge.model if judge.model else ''}" if judge and sec.judge else ""
    cut = f", at most {sec.max_prompts}" if sec.max_prompts else ""
    readers = [st for st in cfg.then if hasattr(cfg.sections.get(st), "data")]  # eval, export read models
    later = f"; {', '.join(readers)} read its outputs" if readers else ""
    return f"written by {gen}: {sec.prompts} ({counts}{cut}) × {sec.traces} traces{judged}{later}"


def _first_data(cfg: RunConfig) -> str:
    st = cfg.stage
    sec: Any = cfg.sections.get(st)
    if st == "datagen":
        return _datagen(cfg)
    if st == "merge":
        grpo = cfg.sections["grpo"]
        train = f"branches trained by GRPO ({grpo.scorer}) on {grpo.data}" if sec.train else ""
        return "; ".join(x for x in (train, ", ".join(sec.sources)) if x) or "merge.sources"
    if st == "eval":
        return ", ".join(sec.questions)
    if st == "abliterate":
        return f"harmful prompts {sec.harmful}, harmless prompts {sec.harmless}"
    data = getattr(sec, "data", "")
    if data.startswith("parent:"):
        return f"the parent run's {data.removeprefix('parent:')}"
    return data or "-"


def describe(path: Path) -> PresetInfo:
    cfg = build_config(None, [path], check_paths=False)
    chain = " → ".join([cfg.stage, *cfg.then])
    data = _first_data(cfg)
    # A later stage that names its own data (not its parent's output) is worth a mention.
    extra = [f"{st}: {_stage_data(cfg, st)}" for st in cfg.then
             if cfg.stage != "datagen" and _stage_data(cfg, st) not in ("", data)]
    if "eval" in cfg.then or cfg.stage == "merge":
        extra.append(f"eval: {', '.join(cfg.sections['eval'].questions)}")
    return PresetInfo(path.stem, chain, "; ".join([data, *extra]), cfg.description, tuple(cfg.requires))


def _stage_data(cfg: RunConfig, stage: str) -> str:
    data: Any = getattr(cfg.sections.get(stage), "data", "")
    if isinstance(data, str) and data.startswith("parent:"):
        return ""
    return str(data)


def all_presets() -> list[PresetInfo]:
    return [describe(p) for p in list_presets().values()]
