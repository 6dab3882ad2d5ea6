"""Resolve, validate and persist run configs (run.toml).

A run config is a stage name plus the sections that stage reads (model, the stage's own section,
supervisor), every field resolved, so ``run.toml`` alone relaunches the run. Every error names the
file or flag, the key, the value and the expected form, in one line.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from pipeline import registry
from pipeline.config.fields import FieldInfo, check_text, coerce, field_type
from pipeline.config.runref import is_run_ref, parse_run_ref, run_ref
from pipeline.config.schema import section_fields as class_fields
from pipeline.errors import ConfigError
from pipeline.redact import register_config

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"

DATA_STAGES = ("datagen",)  # stages whose output is a dataset (chains set the children's data)
# Stages that read a model and write a report, not a model: the next stage of a chain reads the same model.
REPORT_STAGES = ("eval",)
TOP_KEYS = ("stage", "name", "then", "parent", "description", "after", "requires")
REQUIREMENTS = ("gpu",)  # what a config may say the machine must have (checked before anything is created)
# Old preset names that still work (the files and their `name` agree; these are the names they had).
PRESET_ALIASES = {"seed000-sft-grpo": "seed000"}


def stage_sections(stage: str) -> tuple[str, ...]:
    return tuple(registry.get(stage).sections)


@dataclass
class RunConfig:
    stage: str
    sections: dict[str, Any]
    name: str = ""
    then: list[str] = field(default_factory=list)
    parent: str | None = None
    description: str = ""
    after: list[str] = field(default_factory=list)  # run ids that must succeed before this run starts
    requires: list[str] = field(default_factory=list)  # what the machine must have (REQUIREMENTS)

    def section(self, name: str) -> Any:
        return self.sections[name]

    @property
    def stage_section(self) -> Any:
        return self.sections[self.stage]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stage": self.stage}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.then:
            out["then"] = list(self.then)
        if self.parent:
            out["parent"] = self.parent
        if self.after:
            out["after"] = list(self.after)
        if self.requires:
            out["requires"] = list(self.requires)
        for key, obj in self.sections.items():
            out[key] = dataclasses.asdict(obj)
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def model_label(self) -> str:
        if "model" not in self.sections:
            return self.name
        model = self.sections["model"]
        if model.label:
            return model.label
        if model.source == "embedded":
            return "smollm2"
        if is_run_ref(model.source):
            return parse_run_ref(model.source).run.split("-")[-1] or "run"
        return Path(model.source.rstrip("/")).name.removesuffix(".gguf") or "model"


def section_fields(section: str) -> list[FieldInfo]:
    """The schema of one section (any stage's) as data, for forms and docs."""
    return class_fields(registry.sections()[section])


def _field_map(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(registry.sections()[section])}


def _apply(values: dict[str, Any], section: str, data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{section}] must be a table of key = value")
    fmap = _field_map(section)
    owner = registry.sections()[section]
    for key, value in data.items():
        if key not in fmap:
            raise ConfigError(
                f"{source}: unknown key {section}.{key} (known keys of [{section}]: {', '.join(fmap)})"
            )
        f = fmap[key]
        values[key] = coerce(value, field_type(f, owner), f.metadata, f"{source}: {section}.{key}")


def check_stage(stage: str, where: str = "stage") -> str:
    return registry.get(stage, where).name


def parse_set(item: str) -> tuple[str, str, Any]:
    """``section.key=value`` → parts; the value is read as TOML when it parses, else as a string."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set dpo.beta=0.2")
    lhs, raw = item.split("=", 1)
    section, key = lhs.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def read_toml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (expected a TOML file)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file (expected TOML)") from None


def list_presets() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESETS_DIR.glob("*.toml"))}


def preset_path(name: str) -> Path:
    presets = list_presets()
    name = name if name in presets else PRESET_ALIASES.get(name, name)
    if name not in presets:
        raise ConfigError(f"--preset {name!r}: no such preset (expected one of {', '.join(presets) or 'none'})")
    return presets[name]


def build_config(stage: str | None = None, files: list[Path] | None = None, sets: list[str] | None = None,
                 check_paths: bool = True) -> RunConfig:
    """Defaults ← each file in order ← ``--set`` items; validated, with nothing written."""
    layers: list[tuple[str, dict[str, Any]]] = [(str(p), read_toml(p)) for p in (files or [])]
    file_stage = None
    for source, data in layers:
        if "stage" in data:
            file_stage = check_stage(str(data["stage"]), f"{source}: stage")
    if stage is not None:
        check_stage(stage)
    stage = stage or file_stage
    if stage is None:
        raise ConfigError("no stage given: expected aba run STAGE, or a config file with stage = \"…\"")

    top: dict[str, Any] = {}
    for _source, data in layers:
        top.update({k: v for k, v in data.items() if k in TOP_KEYS})
    then = top.get("then", [])
    if isinstance(then, str):
        then = [then]
    for i, s in enumerate(then):
        check_stage(str(s), f"then[{i}]")
    after = top.get("after", [])
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) and a for a in after):
        raise ConfigError(f"after={after!r}: expected a list of run ids, e.g. after = [\"20260101-…-dpo-smollm2\"]")
    requires = top.get("requires", [])
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(r in REQUIREMENTS for r in requires):
        raise ConfigError(f"requires={requires!r}: expected a list of {', '.join(REQUIREMENTS)}, "
                          "e.g. requires = [\"gpu\"]")
    wanted = stage_sections(stage)
    # A chain's later stages keep their sections too, validated now, so run.toml relaunches the chain.
    kept = list(wanted) + [s for st in then for s in stage_sections(str(st)) if s not in wanted]
    values: dict[str, dict[str, Any]] = {s: {} for s in kept}
    all_sections = registry.sections()
    for source, data in layers:
        for key, val in data.items():
            if key in TOP_KEYS:
                continue
            if key in kept:
                _apply(values[key], key, val, source)
            elif key not in all_sections:
                raise ConfigError(f"{source}: unknown section [{key}] (expected: {', '.join(kept)})")
    for item in sets or []:
        section, key, value = parse_set(item)
        if section not in wanted:
            raise ConfigError(
                f"--set {item!r}: unknown section {section!r} for stage {stage} (expected: {', '.join(wanted)})"
            )
        _apply(values[section], section, {key: value}, "--set")

    for i, a in enumerate(after):
        check_text(a, f"after[{i}]")
    cfg = RunConfig(
        stage=stage,
        sections={s: all_sections[s](**values[s]) for s in kept},
        name=check_text(str(top.get("name", "")), "name"),
        then=[str(s) for s in then],
        parent=top.get("parent"),
        description=check_text(str(top.get("description", "")), "description", multiline=True),
        after=list(after),
        requires=list(requires),
    )
    register_config(cfg)  # every api_key_env it names: their values are masked in whatever is written
    if check_paths:
        validate_paths(cfg)
    return cfg


def validate_paths(cfg: RunConfig) -> None:
    model = cfg.sections.get("model")
    if model is not None:
        src = model.source
        looks_like_path = src.startswith(("/", ".", "~")) or src.endswith(".gguf") or src.count("/") > 1
        if is_run_ref(src):
            parse_run_ref(src, "model.source")  # its form now; the run itself is looked up by the preflight
        elif src != "embedded" and looks_like_path:
            p = Path(src).expanduser()
            if not p.exists():
                raise ConfigError(
                    f"model.source={src!r}: no such file or folder (expected 'embedded', an HF model folder, "
                    "a .gguf file, or a hub id like org/name)"
                )
            if p.is_file() and p.suffix != ".gguf":
                raise ConfigError(f"model.source={src!r}: a file must be a .gguf model (or give an HF folder)")
            model.source = str(p.resolve())  # run.toml must relaunch from any working directory
    section = cfg.sections.get(cfg.stage)
    data = getattr(section, "data", "")
    if section is not None and is_run_ref(data):
        parse_run_ref(data, f"{cfg.stage}.data")  # a datagen run, looked up by the preflight
    elif section is not None and data and not data.startswith(("builtin:", "parent:")):
        p = Path(data).expanduser()
        if not p.is_file():
            raise ConfigError(f"{cfg.stage}.data={data!r}: no such file (expected builtin:<name> or a JSONL file)")
        section.data = str(p.resolve())


def chain_child(cfg: RunConfig, parent_id: str) -> RunConfig | None:
    """The next stage's config of a pipeline preset: it reads the parent run's output."""
    if not cfg.then:
        return None
    nxt, rest = cfg.then[0], cfg.then[1:]
    needed = [s for st in cfg.then for s in stage_sections(st)]
    known = registry.sections()
    sections = {s: dataclasses.replace(cfg.sections[s]) if s in cfg.sections else known[s]() for s in needed}
    if "model" in sections and "model" in cfg.sections and cfg.stage not in (*DATA_STAGES, *REPORT_STAGES):
        sections["model"].source = run_ref(parent_id)  # an eval's child reads the model the eval read
    if cfg.stage in DATA_STAGES:  # a data run feeds every later stage's data, not its model
        for st in cfg.then:
            if hasattr(sections.get(st), "data"):
                sections[st].data = run_ref(parent_id)
    return RunConfig(stage=nxt, sections=sections, name=cfg.name, then=rest, parent=parent_id,
                     description=cfg.description, requires=list(cfg.requires))
