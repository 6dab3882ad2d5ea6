"""The stage registry: everything the light side (config, schema, supervisor, preflight, UI) knows of a stage.

A stage is one entry here plus one worker module exposing ``run(ctx)``. The entry is plain data: the
config sections the stage reads (name → ``"module:Class"``), its OOM knobs and floors, its data loader and
preflight checks (``"module:function"`` strings, imported only when called), the metric semantics the
UI needs, and its presets. Nothing here imports a heavy library, so the UI and the CLI can read it, and
nothing here imports the config package: ``pipeline.config.run`` reads this table, so the registry sits
below it (docs/architecture.md, "Packages").

Stages from outside the package (a plugin, a test's toy stage) are added with the environment variable
``ABA_STAGE_PLUGINS``: a comma list of modules that each define ``STAGE`` (or ``STAGES``, a list). The
variable is inherited by the supervisor and the worker, so a plugin stage runs like a built-in one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.errors import ConfigError

PLUGINS_ENV = "ABA_STAGE_PLUGINS"
# The built-in stages' names (a plugin stage's name is any str). tests/test_types.py keeps this equal
# to BUILTIN's names: a new built-in stage adds its name here too.
BuiltinStage = Literal["sft", "dpo", "grpo", "datagen", "export", "merge", "eval", "abliterate", "abliterate_eval",
                       "selftest"]
TRAIN_CHECKS = ("pipeline.train.preflight:check_model",)
_SCHEMA = "pipeline.config.schema"  # the sections every stage shares
MODEL, SUPERVISOR = f"{_SCHEMA}:ModelSection", f"{_SCHEMA}:SupervisorSection"
JUDGE = "pipeline.judge.config:JudgeSection"  # shared by datagen, grpo and eval
SLURM = "pipeline.runs.cluster.schema:SlurmSection"  # every stage can run as a Slurm job


@dataclass(frozen=True)
class Phase:
    """A part of a stage's run: ``name`` is the ``phase`` its progress events carry (their step counts within
    it), ``unit`` what that step counts (the runs pane and docs say it)."""

    name: str
    unit: str


# Where a run's done count comes from: the step of its `metrics` events (a trainer's optimizer step, a
# datagen item) or the step of its `progress` events (stages whose metrics use another x, or none).
CountedBy = Literal["metrics", "progress"]


@dataclass(frozen=True)
class Stage:
    """One stage. ``sections`` lists every config section it reads, in run.toml order: name → ``"module:Class"``
    (imported when first needed, so the registry imports neither the config package nor any subsystem and
    sits below them all in docs/architecture.md's layers), or the dataclass itself (a plugin's own)."""

    name: str
    help: str
    sections: Mapping[str, type | str]
    module: str = ""  # the worker module with run(ctx); default pipeline.stages.<name>
    oom_halve: tuple[str, ...] = ()  # keys an OOM retry halves (seed 000's risk register)
    oom_double: str = ""  # doubled when batch_size halves, so the effective batch stays
    floors: Mapping[str, int] = field(default_factory=dict)  # an OOM halving never goes below (default 1)
    loader: str = ""  # "module:function" (spec, key) -> Dataset, reading the section's `data`
    checks: tuple[str, ...] = ()  # "module:function" (cfg, section) -> None, run before any process starts
    collapse_alert: bool = False  # a loss collapsing toward 0 is a fault (sft, dpo; GRPO's loss sits near 0)
    presets: tuple[str, ...] = ()  # preset names (pipeline/presets/<name>.toml) this stage starts
    # The dashboard: the charts shown while one of its runs is highlighted, left to right ("a+b": several
    # series in one chart, "a/*": every series of a family; empty: the user's charts.metrics), where its
    # done count comes from, and its phases in order (a run announces those it will go through).
    charts: tuple[str, ...] = ()
    counted_by: CountedBy = "metrics"
    phases: tuple[Phase, ...] = ()

    @property
    def worker_module(self) -> str:
        return self.module or f"pipeline.stages.{self.name}"

    def section_types(self) -> dict[str, type]:
        """``sections`` with every ``"module:Class"`` reference imported."""
        out: dict[str, type] = {}
        for name, ref in self.sections.items():
            out[name] = resolve(ref) if isinstance(ref, str) else ref
        return out

    @property
    def own_section(self) -> str | None:
        """The section named after the stage, when it has one (the one `--set STAGE.key=…` edits)."""
        return self.name if self.name in self.sections else None


TRAIN_PHASES = (Phase("train", "steps"),)


def _train(name: str, help: str, section: str, extra: Mapping[str, type | str] | None = None, **kw: Any) -> Stage:
    return Stage(name, help, {"model": MODEL, name: f"{_SCHEMA}:{section}", **(extra or {}), "supervisor": SUPERVISOR,
                              "slurm": SLURM},
                 checks=(*TRAIN_CHECKS, *kw.pop("checks", ())), phases=TRAIN_PHASES, **kw)


BUILTIN: tuple[Stage, ...] = (
    _train("sft", "supervised fine-tuning (TRL SFTTrainer + LoRA)", "SFTSection",
           oom_halve=("batch_size",), oom_double="grad_accum", loader="pipeline.data.loaders:load_sft",
           collapse_alert=True),
    _train("dpo", "direct preference optimisation (TRL DPOTrainer)", "DPOSection",
           oom_halve=("batch_size",), oom_double="grad_accum", loader="pipeline.data.loaders:load_pairs",
           collapse_alert=True, presets=("demo", "seed003-dpo", "seed004-dpo-heal", "stance-cpu", "eval-demo")),
    _train("grpo", "group relative policy optimisation with the 9-dimension reward (TRL GRPOTrainer)",
           "GRPOSection", extra={"judge": JUDGE}, oom_halve=("num_generations",),
           floors={"num_generations": 2}, loader="pipeline.data.loaders:load_prompts",
           checks=("pipeline.train.preflight:check_grpo", "pipeline.judge.config:check_grpo_judge"),
           presets=("seed000-smoke",)),
    Stage("datagen", "seed 000's data: prompts → traces at three quality levels → 9-dimension judgements",
          {"datagen": "pipeline.datagen.config:DatagenSection", "judge": JUDGE, "supervisor": SUPERVISOR,
           "slurm": SLURM},
          checks=("pipeline.datagen.checks:check",),
          presets=("datagen-local", "datagen-sft-grpo-local", "seed000", "seed000-cpu"),
          charts=("items_per_min", "error_rate+judge_missing_rate", "judge_mean/*"),
          phases=(Phase("expand", "prompts"), Phase("generate", "traces"))),
    Stage("export", "merge LoRA, convert to GGUF with llama.cpp, quantise and verify",
          {"model": MODEL, "export": f"{_SCHEMA}:ExportSection", "supervisor": SUPERVISOR,
           "slurm": SLURM}, counted_by="progress", phases=(Phase("export", "parts"),)),
    Stage("merge", "merge LoRA adapters with PEFT (TIES, DARE, linear …); Strategy B: train, merge, compare",
          {"model": MODEL, "merge": "pipeline.merge.schema:MergeSection", "grpo": f"{_SCHEMA}:GRPOSection",
           "judge": JUDGE, "eval": "pipeline.evaluate.config:EvalSection", "supervisor": SUPERVISOR, "slurm": SLURM},
          checks=("pipeline.merge.sources:check_merge",), presets=("strategy-b",),
          charts=("progress/*", "reward/*"), counted_by="progress",
          phases=(Phase("branches", "steps"), Phase("merge", "adapters"), Phase("compare", "answers"))),
    Stage("eval", "probes, stance analysis, battery, judge and pairwise tournament → before/after report",
          {"model": MODEL, "eval": "pipeline.evaluate.config:EvalSection", "judge": JUDGE,
           "supervisor": SUPERVISOR, "slurm": SLURM},
          checks=("pipeline.evaluate.runner:preflight_check",),
          charts=("answers_per_min", "headline/*"), counted_by="progress",
          phases=(Phase("answer", "answers"), Phase("judge", "answers"), Phase("tournament", "matches"))),
    Stage("abliterate", "refusal-direction removal tuned by an Optuna study (seed 004)",
          {"model": MODEL, "abliterate": "pipeline.abliterate.config:AbliterateSection", "judge": JUDGE,
           "supervisor": SUPERVISOR, "slurm": SLURM},
          oom_halve=("batch_size",),
          checks=("pipeline.abliterate.checks:check", "pipeline.judge.config:check_grpo_judge"),
          presets=("abliterate-demo", "abliterate-cones", "abliterate-heal"),
          charts=("refusals+best/refusals", "kl+best/kl", "trial_s"), counted_by="progress",
          phases=(Phase("prepare", "parts"), Phase("trials", "trials"), Phase("save", "parts"),
                  Phase("gguf", "prompts"))),
    Stage("abliterate_eval", "a model on its abliterate ancestor's yardstick: refusals, KL and capability of the "
          "original, the abliterated and this model (the heal chain's before/after report)",
          {"model": MODEL, "supervisor": SUPERVISOR, "slurm": SLURM}),
    Stage("selftest", "a worker with no ML library (supervisor checks, fault injection)",
          {"selftest": f"{_SCHEMA}:SelftestSection", "supervisor": SUPERVISOR, "slurm": SLURM},
          oom_halve=("batch_size",), phases=TRAIN_PHASES),
)

_cache: tuple[str, dict[str, Stage]] | None = None


def _plugin_stages(spec: str) -> list[Stage]:
    out: list[Stage] = []
    for name in (s.strip() for s in spec.split(",")):
        if not name:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"{PLUGINS_ENV}: cannot import stage plugin {name!r} ({exc})") from None
        found = getattr(mod, "STAGES", None) or ([mod.STAGE] if hasattr(mod, "STAGE") else [])
        if not found or not all(isinstance(s, Stage) for s in found):
            raise ConfigError(f"{PLUGINS_ENV}: module {name!r} defines no STAGE (expected a pipeline.registry.Stage)")
        out.extend(found)
    return out


def stages() -> dict[str, Stage]:
    """Every stage by name: the built-ins, then the plugins named in ``ABA_STAGE_PLUGINS``."""
    global _cache
    spec = os.environ.get(PLUGINS_ENV, "")
    if _cache is None or _cache[0] != spec:
        table: dict[str, Stage] = {}
        for st in (*BUILTIN, *_plugin_stages(spec)):
            table[st.name] = st
        _check_sections(table)
        _cache = (spec, table)
    return _cache[1]


def _check_sections(table: Mapping[str, Stage]) -> None:
    seen: dict[str, type] = {}
    for st in table.values():
        for name, cls in st.section_types().items():
            if seen.setdefault(name, cls) is not cls:
                raise ConfigError(f"stage {st.name}: section [{name}] is declared with two different schemas")


def get(name: str, where: str = "stage") -> Stage:
    table = stages()
    if name not in table:
        raise ConfigError(f"{where}: unknown stage {name!r} (expected one of {', '.join(table)})")
    return table[name]


def sections() -> dict[str, type]:
    """Every config section any stage reads, name → dataclass."""
    out: dict[str, type] = {}
    for st in stages().values():
        out.update(st.section_types())
    return out


def resolve(ref: str) -> Any:
    """``"module:function"`` → the function (imported now, so only when a check or loader is used)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)
