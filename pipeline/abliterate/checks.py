"""Preflight checks of [abliterate] before any process starts (light)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.abliterate.prompts import load_prompts
from pipeline.errors import ConfigError


def check(cfg: Any, section: Any = None, runs_dir: Path | None = None) -> None:
    a = cfg.section("abliterate") if hasattr(cfg, "section") else section
    load_prompts(a.harmful, "harmful")
    load_prompts(a.harmless, "harmless")
    bad = [c for c in a.components if c not in ("attn", "mlp")]
    if bad or not a.components:
        raise ConfigError(f"abliterate.components={list(a.components)!r}: expected a non-empty list of attn, mlp")
    if a.startup_trials > a.trials:
        a.startup_trials = a.trials
