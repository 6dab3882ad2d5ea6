"""Checks a config can pass before any process starts: data rows and stage settings.

Light (json only): `aba run` calls it so a bad dataset or an impossible GRPO group is refused with
one line before a run folder exists; the stage calls it again in the worker (a run.toml edited by
hand, or data changed since the launch) and trains on the rows it returns.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pipeline import registry
from pipeline.config.paths import lookup_runs_dir
from pipeline.config.runref import is_run_ref, parse_run_ref
from pipeline.data.loaders import Dataset
from pipeline.errors import ConfigError, RunNotFound
from pipeline.models.hub import check_hub_id
from pipeline.models.runsource import run_checkpoint
from pipeline.rewards.scorer import SCORERS
from pipeline.rewards.weights import parse_weights
from pipeline.runs.status import ACTIVE
from pipeline.runs.store import RunStore


def check_grpo(cfg: Any, sec: Any, runs_dir: Path | None = None) -> None:
    parse_weights(sec.reward_weights)
    if sec.scorer not in SCORERS:
        raise ConfigError(f"grpo.scorer={sec.scorer!r}: unknown scorer (expected one of {', '.join(SCORERS)})")
    if importlib.util.find_spec(SCORERS[sec.scorer].partition(":")[0]) is None:
        raise ConfigError(f"grpo.scorer={sec.scorer!r}: this scorer is not available in this install "
                          "(use grpo.scorer = \"rubric\")")
    per_round = sec.batch_size * sec.grad_accum
    if per_round % sec.num_generations:
        raise ConfigError(f"grpo: batch_size × grad_accum = {per_round} completions a generation round, which is "
                          f"not a multiple of grpo.num_generations={sec.num_generations} (each prompt needs a "
                          "full group)")


def check_model(cfg: Any, _sec: Any, runs_dir: Path | None = None) -> None:
    model_sec = cfg.sections.get("model")
    if model_sec is None:
        return
    tpl = model_sec.chat_template
    if tpl not in ("", "auto") and not Path(tpl).expanduser().is_file():
        raise ConfigError(f"model.chat_template={tpl!r}: no such file (expected auto or a Jinja template file)")


def preflight(cfg: Any, stage: str | None = None, runs_dir: Path | None = None) -> Dataset | None:
    """Run ``stage``'s registered checks (default: the config's stage) and return the dataset its loader
    reads; None for a stage without a loader. ``run:<id>`` references (a model source, a datagen run's
    data) are looked up in ``runs_dir``: the CLI's and the UI's runs dir, a worker's own (its run folder's
    parent), else config.paths.lookup_runs_dir."""
    info = registry.get(stage or cfg.stage)
    root = runs_dir or lookup_runs_dir()
    sec = cfg.sections.get(info.own_section) if info.own_section else None
    for ref in info.checks:
        registry.resolve(ref)(cfg, sec, root)
    if not info.loader or sec is None:
        return None
    return registry.resolve(info.loader)(sec.data, f"{info.name}.data", root)


def check_model_source(cfg: Any, runs_dir: Path) -> None:
    """The model source resolves before a folder exists: ``run:<id>`` as ``aba status`` finds runs (a unique
    prefix or suffix, in ``runs_dir``) with a complete checkpoint once that run has ended; a path that
    exists; else a hub id, cached or known to the hub (pipeline.models.hub)."""
    model = cfg.sections.get("model")
    src = str(getattr(model, "source", "embedded"))
    if src == "embedded" or Path(src).expanduser().exists():
        return
    if is_run_ref(src):
        ref = parse_run_ref(src, "model.source")
        try:
            info = RunStore(runs_dir).get(ref.run)
        except RunNotFound as exc:
            raise ConfigError(f"model.source='{ref}': {exc}") from None
        if info.status is not None and info.status.state in ACTIVE:
            return  # a parent still training (aba run --after): its checkpoint is looked up when this starts
        run_checkpoint(runs_dir, ref)
        return
    if src.endswith(".gguf") or src.startswith((".", "/", "~")):
        raise ConfigError(f"model.source={src!r}: no such file or folder")
    check_hub_id(src)


def preflight_chain(cfg: Any, runs_dir: Path) -> None:
    """Every stage of a config and its chain (`then`), before the first one starts, against the runs dir
    the run will be created in; and what the machine must have (pipeline/train/needs.py). Every problem
    found is named in one message, so an operator fixes them all before the first try."""
    from pipeline.train.needs import missing_pieces

    problems = missing_pieces(cfg)
    try:
        check_model_source(cfg, runs_dir)
    except ConfigError as exc:
        if not any(str(exc) in p for p in problems):  # needs.py named the same model already
            problems.append(str(exc))
    for stage in [cfg.stage, *cfg.then]:
        own = registry.get(stage).own_section
        if own in cfg.sections:
            # A later stage reading its parent's output (parent:<file>) is checked when it starts.
            if stage != cfg.stage and str(getattr(cfg.sections[own], "data", "")).startswith("parent:"):
                continue
            try:
                preflight(cfg, stage, runs_dir)
            except ConfigError as exc:
                if not any(str(exc) in p for p in problems):  # a key both the stage and the needs found
                    problems.append(str(exc))
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        what = cfg.name or cfg.stage
        raise ConfigError(f"{what} cannot start here; {len(problems)} things are missing: "
                          + "; ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))
