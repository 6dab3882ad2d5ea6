"""The datagen preflight: every request the run will send is shaped once, before its folder exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.datagen.config import category_counts
from pipeline.datagen.levels import LEVELS, expand_shape, trace_shape
from pipeline.datagen.prompts import load_prompt_set
from pipeline.judge.config import check_backend, check_section


def check(cfg: Any, sec: Any, runs_dir: Path | None = None) -> None:
    """Registry check for datagen: the prompt set, the generator's key or server, a thinking or safety
    value the model would refuse (budget 0 on 2.5 Pro …), and the [judge] section when it judges."""
    prompts = load_prompt_set(sec.prompts)
    have: dict[str, int] = {}
    for p in prompts:
        have[p.category] = have.get(p.category, 0) + 1
    for level in LEVELS:
        trace_shape(sec, level)
    if sec.per_category or any(n > have.get(c, 0) for c, n in category_counts(sec).items()):
        expand_shape(sec)
    check_backend(sec, "datagen")
    judge = cfg.sections.get("judge")
    if sec.judge and judge is not None:
        check_section(judge)
