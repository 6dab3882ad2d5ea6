"""Which adapters a merge reads, and whether they can be merged. Light: JSON files only.

A source is ``run:<id>[@checkpoint]`` (pipeline.models.runsource) or a checkpoint folder. Adapters merge
only when they were trained on one base, with one rank layout (PEFT's non-SVD methods need equal ranks)
and the same target modules; each mismatch is refused in one line naming both sources.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checkpoints.store import Checkpoint, read_checkpoint
from pipeline.config.paths import lookup_runs_dir
from pipeline.config.runref import is_run_ref, parse_run_ref
from pipeline.errors import ConfigError
from pipeline.merge.schema import METHODS, SUMMING
from pipeline.runs.store import load_run_config

ADAPTER_CONFIG = "adapter_config.json"


@dataclass
class AdapterSource:
    ref: str  # as written in the config
    path: Path  # the checkpoint folder (adapter_config.json + adapter weights)
    base_source: str  # the model.source it was trained on ("embedded", a folder, run:<id>)
    config: dict[str, Any] = field(default_factory=dict)  # adapter_config.json
    meta: dict[str, Any] = field(default_factory=dict)  # the checkpoint's metadata.json
    run_id: str | None = None
    checkpoint: str = ""

    @property
    def label(self) -> str:
        return f"{self.run_id}@{self.checkpoint}" if self.run_id else str(self.path)

    @property
    def base_model(self) -> str:
        return str(self.config.get("base_model_name_or_path") or self.meta.get("base_model") or "")

    def rank_layout(self) -> tuple[int, tuple[tuple[str, int], ...]]:
        pattern = self.config.get("rank_pattern") or {}
        return int(self.config.get("r", 0)), tuple(sorted(pattern.items()))

    def target_modules(self) -> tuple[str, ...] | str:
        tm = self.config.get("target_modules")
        return tm if isinstance(tm, str) else tuple(sorted(tm or ()))

    def describe(self) -> dict[str, Any]:
        """What a merged checkpoint's metadata records of this source."""
        return {"ref": self.ref, "run": self.run_id, "checkpoint": self.checkpoint, "path": str(self.path),
                "base_source": self.base_source, "r": self.config.get("r"),
                "lora_alpha": self.config.get("lora_alpha"), "step": self.meta.get("step"),
                "metric": self.meta.get("metric"), "metric_value": self.meta.get("metric_value")}


def _adapter_config(path: Path, where: str) -> dict[str, Any]:
    cfg_path = path / ADAPTER_CONFIG
    if not cfg_path.is_file():
        raise ConfigError(f"{where}: {path} is not a LoRA adapter (no {ADAPTER_CONFIG}; a full fine-tune "
                          "cannot be merged with PEFT's adapter methods)")
    try:
        data = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {cfg_path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or str(data.get("peft_type", "LORA")).upper() != "LORA":
        raise ConfigError(f"{where}: {cfg_path} is not a LoRA adapter config (peft_type LORA expected)")
    return data


def resolve_source(ref: str, runs_dir: Path, where: str = "merge.sources") -> AdapterSource:
    """One source reference → the adapter folder and what it was trained on."""
    where = f"{where}: {ref!r}"
    if is_run_ref(ref):
        from pipeline.models.runsource import run_checkpoint

        run_dir, ck = run_checkpoint(runs_dir, ref, key=where.split(":")[0])
        try:
            parent = load_run_config(run_dir)
            base = parent.sections["model"].source if "model" in parent.sections else ""
        except ConfigError as exc:
            raise ConfigError(f"{where}: the run's run.toml is unreadable ({exc})") from None
        if not base:
            raise ConfigError(f"{where}: run {run_dir.name} (stage {parent.stage}) trains no model")
        cfg = _adapter_config(ck.path, where)
        return AdapterSource(ref, ck.path, base, cfg, ck.meta, run_dir.name, ck.name)
    path = Path(ref).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{where}: no such run or folder (expected run:<id>[@checkpoint] or a checkpoint "
                          "folder holding a LoRA adapter)")
    folder: Checkpoint = read_checkpoint(path)
    if folder.state == "corrupt":
        raise ConfigError(f"{where}: corrupt checkpoint ({folder.error})")
    cfg = _adapter_config(path, where)
    base = str(folder.meta.get("model_source") or cfg.get("base_model_name_or_path") or "")
    return AdapterSource(ref, path.resolve(), base, cfg, folder.meta, None, path.name)


def check_compatible(sources: list[AdapterSource], method: str) -> None:
    """One base, one rank layout (except the SVD methods, which re-factorise), the same target modules."""
    first = sources[0]
    for other in sources[1:]:
        pair = f"merge.sources: {first.label} and {other.label}"
        same_base = other.base_source == first.base_source or (
            bool(first.base_model) and other.base_model == first.base_model)
        if not same_base:
            raise ConfigError(f"{pair} were trained on different base models ({first.base_source!r} vs "
                              f"{other.base_source!r}); adapters merge only on the base they share")
        if not method.endswith("_svd") and other.rank_layout() != first.rank_layout():
            raise ConfigError(f"{pair} have different LoRA ranks (r={first.rank_layout()[0]} vs "
                              f"r={other.rank_layout()[0]}); merge.method={method!r} needs equal ranks "
                              "(use a *_svd method to merge different ranks)")
        if other.target_modules() != first.target_modules():
            raise ConfigError(f"{pair} adapt different modules ({first.target_modules()} vs "
                              f"{other.target_modules()}); train both with the same target modules")


def parse_weights(raw: list[str], n: int, method: str) -> list[float]:
    """merge.weights → one float per source; empty → 1/n each (summing methods) or 1 each (TIES family)."""
    if not raw:
        return [1.0 / n if method in SUMMING else 1.0] * n
    out = []
    for item in raw:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"merge.weights: {item!r} is not a number (expected one number per source, "
                              "e.g. [\"0.5\", \"0.5\"])") from None
        if not math.isfinite(value):
            raise ConfigError(f"merge.weights: {item!r} must be a finite number")
        out.append(value)
    if len(out) != n:
        raise ConfigError(f"merge.weights: {len(out)} weight(s) for {n} adapters (expected one per adapter: "
                          "the trained branches first, then merge.sources; or none)")
    if not any(out):
        raise ConfigError("merge.weights: all weights are 0 (the merged adapter would do nothing)")
    return out


def check_settings(sec: Any, n: int) -> list[float]:
    """Method, density and weights, given the number of adapters ``n`` the merge will read."""
    if sec.method not in METHODS:
        raise ConfigError(f"merge.method={sec.method!r}: unknown method (expected one of {', '.join(METHODS)})")
    d = sec.density
    if isinstance(d, bool) or not isinstance(d, int | float) or not (0.0 < d <= 1.0) or not math.isfinite(d):
        raise ConfigError(f"merge.density={d!r}: expected a number in (0, 1] (the fraction of each adapter's "
                          "values kept; 1 keeps all)")
    if n < 2:
        raise ConfigError(f"merge: {n} adapter(s) to merge (expected two or more: merge.sources and/or "
                          "merge.train)")
    return parse_weights(list(sec.weights), n, sec.method)


def check_merge(cfg: Any, sec: Any, runs_dir: Path | None = None) -> None:
    """Preflight of the merge stage: everything checkable before a run folder exists; ``run:`` sources are
    looked up in ``runs_dir`` (default: config.paths.lookup_runs_dir)."""
    from pipeline.merge.plan import branch_weights

    for item in sec.train:
        branch_weights(item)
    if sec.joint not in ("off", "equal"):
        branch_weights(sec.joint, key="merge.joint")
    check_settings(sec, len(sec.train) + len(sec.sources))
    if sec.compare and "eval" in cfg.sections:  # the comparison's eval run: its question sets and settings now
        from pipeline.evaluate.runner import load_all, settings

        load_all(cfg.sections["eval"])
        settings(cfg.sections["eval"])
        if cfg.sections["eval"].judge == "judge" and "judge" in cfg.sections:
            from pipeline.judge.config import check_section

            check_section(cfg.sections["judge"])
    root = runs_dir or lookup_runs_dir()
    found = [resolve_source(ref, root) for ref in sec.sources]
    for ref in sec.compare_with:
        parse_run_ref(ref, "merge.compare_with")
        resolve_source(ref, root, "merge.compare_with")
    model = cfg.sections.get("model")
    if sec.train or sec.joint != "off":
        if model is None or model.lora_r <= 0:
            raise ConfigError("merge.train: branches must train LoRA adapters (expected model.lora_r > 0)")
        from pipeline.judge.config import check_grpo_judge
        from pipeline.train.preflight import check_grpo

        check_grpo(cfg, cfg.sections["grpo"])
        check_grpo_judge(cfg, cfg.sections["grpo"])
        for s in found:  # an existing adapter merged with the branches must share their base
            if s.base_source != model.source:
                raise ConfigError(f"merge.sources: {s.label} was trained on {s.base_source!r}, the branches "
                                  f"train on model.source={model.source!r}; adapters merge only on one base")
    elif found:
        check_compatible(found, sec.method)
        if model is not None:  # the merged adapter's base is its sources' base (export and chat read it)
            model.source = found[0].base_source
