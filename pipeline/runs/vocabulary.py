"""The words a run's events use, shared by the worker that writes them and every reader: every event
type of events.jsonl, the fields each one carries, an alert's level.

Writers name a type with :class:`EventType` (never a bare string) and the checker holds the fields:
``pipeline.runs.emitter.Emitter`` gives ``emit`` one overload per type over that type's TypedDict.
Readers compare ``ev.get("type")`` with the same members (a StrEnum equals its string). docs/events.md's
table is :func:`markdown_table` (a test keeps the two equal; ``python -m pipeline.runs.vocabulary``
prints it).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, Required, TypedDict

# An `alert` event's level; the UI's alert rules (pipeline.monitor.alerts) raise the same two.
AlertLevel = Literal["error", "warning"]


class EventType(StrEnum):
    METRICS = "metrics"
    PROGRESS = "progress"
    ALERT = "alert"
    CHECKPOINT = "checkpoint"
    STATUS = "status"
    ATTEMPT = "attempt"
    CHAIN = "chain"
    RESUME = "resume"
    BRANCH = "branch"
    MERGE = "merge"
    COMPARISON = "comparison"
    EXPORT = "export"
    DATAGEN = "datagen"
    JUDGE = "judge"
    EVAL = "eval"
    ABLITERATE_SETUP = "abliterate_setup"
    BASELINE = "baseline"
    TRIAL = "trial"
    ABLITERATE_CHOSEN = "abliterate_chosen"
    RESOURCES = "resources"


# -- field groups several types share -------------------------------------------------------------------
class Objectives(TypedDict, total=False):
    """Abliteration's objectives, one field each (only those the study optimises)."""

    refusals: float
    kl: float
    hallucination: float | None
    capability: float | None


ObjectiveName = Literal["refusals", "kl", "hallucination", "capability"]
OBJECTIVE_NAMES: tuple[ObjectiveName, ...] = ("refusals", "kl", "hallucination", "capability")


def objective_fields(values: Mapping[str, float]) -> Objectives:
    """A study's objective values by name → the fields its events carry (other names are not objectives)."""
    out = Objectives()
    for name in OBJECTIVE_NAMES:
        if name in values:
            out[name] = values[name]
    return out


class SecondOpinion(TypedDict, total=False):
    """Abliteration with a judge: its refusal verdicts beside the detector's."""

    judge_refusals: int
    judge_missing: int
    judge_disagree: int
    judge_compared: int
    judge_overruled: int


class JudgeStats(TypedDict, total=False):
    """A judge's running totals (GRPO's scorer)."""

    judged: int
    judge_missing: int
    judge_requests: int
    judge_cost_usd: float
    judge_cache_hit_rate: float


# -- one TypedDict per type: the docstring is the table's "what", the keys its "fields" ------------------
class MetricsFields(Objectives, total=False):
    """The numbers a step logged, any name → number (every one is a chart): also `rewards/<dim>`, `eval_*`;
    GRPO's `missing_share` (dimensions the scorer left unscored) and `unscored_share` (completions skipped);
    datagen's progress (`done`, `total`, `items_per_s`, `requests`, `retries`, `errors`, `errors_<kind>`,
    `tokens_*`, `cost_usd`, `judge_missing`) and its dashboard series (`items_per_min` over the last minute,
    `error_rate` and `judge_missing_rate` over the last traces, `judge_mean/<level>`); eval's `answers_per_min`
    (step: answers done) and each model's `headline/<metric>` (step: the model's place in the report);
    abliteration's objectives after each trial with the running best (`best/<objective>`, the trial the
    chosen rule would keep), `trials_since_best` and `trial_s`; a merge run's branches (`progress/<branch>`,
    share done, and `reward/<branch>`; step: the branches' steps summed)"""

    loss: float
    accuracy: float
    reward: float
    margins: float
    lr: float
    grad_norm: float
    epoch: float
    completion_length: float
    samples_per_s: float
    tokens_per_s: float
    eta_s: float
    pid: float
    items_per_min: float
    error_rate: float
    judge_missing_rate: float
    answers_per_min: float
    trials_since_best: int
    trial_s: float


class ProgressFields(TypedDict, total=False):
    """The denominator for step/total and ETA (a resume may announce a new total); `phase`: the part of the
    run it counts (its step is the count within that phase: a new phase starts from 0), `phases`: every phase
    this run will go through, in order (the stage registry's `phases` names them and their units)"""

    total_steps: Required[int]
    epochs: float
    batch_size: int
    grad_accum: int
    samples_per_step: int
    phase: str
    phases: list[str]
    models: list[str]
    quants: list[str]
    checkpoint: str
    prompts: int
    traces_per_prompt: int
    skipped_done: int


class AlertFields(TypedDict):
    """`level` `warning`/`error`; `code` from the stage: `stage_failed`, `nan_loss`, `nan_grad_norm`,
    `loss_collapse`, `checkpoint_missing`, `best_metric`, `backend_fallback`, `data_duplicates`, `oom_halved`,
    `gguf_eval_failed`, `scorer_*`, `expansion_short`, `judge_no_signal`, `weak_judge`; from the supervisor:
    `chain_failed`, `disk_low`, `stall_timeout` (the warning, with when it acts), `stalled`"""

    code: str
    level: AlertLevel
    message: str


class CheckpointFields(Objectives, total=False):
    """A checkpoint was written: its name and the metrics at that step"""

    name: Required[str]
    kind: str
    also: list[str] | None
    trial: int
    loss: float
    accuracy: float
    margins: float
    reward: float
    metric: str
    metric_value: float
    epoch: float


class StatusFields(TypedDict, total=False):
    """Written by the supervisor at start and end"""

    state: Required[str]
    attempt: int
    reason: str | None
    exit_code: int | None
    signal: int | str | None


class AttemptFields(TypedDict, total=False):
    """An OOM retry with the values it halved"""

    attempt: Required[int]
    reason: str | None
    change: str | None


class ChainFields(TypedDict):
    """The child run a chain started"""

    next_run: str
    next_stage: str


class ResumeFields(TypedDict, total=False):
    """A stage resumed: from `checkpoint` (training, docs/training.md) or a study's trials (`arm`: its cone arm)"""

    checkpoint: str | None
    logged_until: int
    message: str
    arm: str | None


class BranchFields(TypedDict, total=False):
    """A merge run started or resumed (`after`: the state it had) a training branch or its comparison's eval
    run (docs/merge.md)"""

    branch: Required[str]
    run: str | None
    action: Required[Literal["started", "resumed"]]
    weights: str
    after: str


class MergeFields(TypedDict, total=False):
    """The merged adapter was written (`checkpoints/final`); `source_norms` / `merged_norm`: each ‖ΔW‖, `kept`:
    the share of the rule's merged ΔW the saved adapter holds"""

    method: Required[str]
    sources: list[str]
    weights: list[float]
    density: float
    r: int | None
    seconds: float
    source_norms: list[float] | None
    merged_norm: float | None
    kept: float | None


class ComparisonFields(TypedDict, total=False):
    """One line per model of a merge run's comparison report; `role`: `merged`, `source: <branch>`,
    `joint (Strategy A)`, `other`, `base`"""

    model: Required[str]
    role: str
    dimensions_mean: float | None
    elo: float | None
    win_rate: float | None


class ExportFields(TypedDict, total=False):
    """An export phase (`merge`, `convert`, `quantize`, `verify`) finished (docs/export-and-chat.md)"""

    phase: Required[str]
    seconds: float
    kind: str
    checkpoint: str
    file: str
    name: str
    quant: str
    size_bytes: int
    ok: bool
    failures: list[str]
    answer: str


class DatagenFields(TypedDict, total=False):
    """At the end of a datagen run: output row counts, complete items, judged, and the tally of the plan
    (planned, complete, truncated, empty, lost, blocked by harm category, judge_missing; docs/datagen.md);
    its progress is `metrics`"""

    sft: int
    dpo: int
    grpo: int
    items: int
    judged: int
    planned: int
    complete: int
    truncated: int
    empty: int
    lost: int
    blocked: dict[str, int]
    judge_missing: int


class JudgeFields(JudgeStats, total=False):
    """GRPO with `scorer = "judge"`, after each scored batch (docs/judge.md)"""

    batch: Required[int]
    batch_missing: Required[int]


class EvalFields(TypedDict, total=False):
    """An eval run's headline metrics for one model (`eval_report.json` holds them all, docs/evaluation.md)"""

    model: Required[str]
    self_pragmatism: float | None
    self_performative: float | None
    performative: float | None
    ai_disclaimer: float | None
    syllogisms: float | None
    factual: float | None
    factual_over_hedging: float | None
    harmful_refusal: float | None
    benign_refusal: float | None
    consistency: float | None


class AbliterateSetupFields(TypedDict, total=False):
    """A study began: `objectives` ([name, direction] pairs), its search space and splits (docs/abliteration.md)"""

    objectives: list[list[str]]
    n_layers: int
    variant: str
    norm: str
    cones: int
    directions: int
    components: list[str]
    train: list[int]
    test: list[int]
    model: str
    arm: str | None
    system_prompt: str
    scope: str
    max_kl: float
    kl_constraint: bool
    detector: str


class BaselineFields(Objectives, SecondOpinion, total=False):
    """The original model on the test split (`kl` 0)"""

    n: int
    undecided: int
    examples: list[dict[str, str]]


class TrialFields(Objectives, SecondOpinion, total=False):
    """Optuna's trial (`step` = trial + 1) with its objectives; a `metrics` event with them follows for the
    charts"""

    trial: Required[int]
    n: int
    undecided: int
    params: dict[str, float | str]
    seconds: float
    batch_size: int
    arm: str | None


class AbliterateChosenFields(Objectives, total=False):
    """The trial kept as `checkpoints/final`, with the healing pairs and the GGUF measurement (or its error)"""

    trial: Required[int]
    checkpoint: str
    heal_pairs: int
    gguf: dict[str, Any] | None


class ResourcesFields(TypedDict, total=False):
    """Written by the supervisor: the attempt's peak use so far, sampled every 5 s over the worker's
    processes — RSS and CPU (% of one core) summed, `cpus` the cores the run may use (affinity and cgroup
    quota, pipeline/runs/cpu.py), VRAM they hold on NVIDIA GPUs (NVML; absent without);
    when a peak grows (at most once a minute) and, `final`, when the attempt ends (pipeline/runs/peaks.py)"""

    peak_rss_bytes: Required[int]
    peak_cpu_pct: Required[float]
    peak_vram_bytes: int
    ram_total_bytes: int
    vram_total_bytes: int | None
    cpus: int
    gpus: int
    attempt: int
    final: bool


FIELDS: dict[EventType, type] = {
    EventType.METRICS: MetricsFields, EventType.PROGRESS: ProgressFields, EventType.ALERT: AlertFields,
    EventType.CHECKPOINT: CheckpointFields, EventType.STATUS: StatusFields, EventType.ATTEMPT: AttemptFields,
    EventType.CHAIN: ChainFields, EventType.RESUME: ResumeFields, EventType.BRANCH: BranchFields,
    EventType.MERGE: MergeFields, EventType.COMPARISON: ComparisonFields, EventType.EXPORT: ExportFields,
    EventType.DATAGEN: DatagenFields, EventType.JUDGE: JudgeFields, EventType.EVAL: EvalFields,
    EventType.ABLITERATE_SETUP: AbliterateSetupFields, EventType.BASELINE: BaselineFields,
    EventType.TRIAL: TrialFields, EventType.ABLITERATE_CHOSEN: AbliterateChosenFields,
    EventType.RESOURCES: ResourcesFields,
}


_GROUPS = (Objectives, SecondOpinion, JudgeStats)


def field_names(type: EventType) -> list[str]:
    """The fields ``type`` carries: its own in their declared order, then those of the groups it shares."""
    names = list(FIELDS[type].__annotations__)
    shared = {k for g in _GROUPS if g is not FIELDS[type] for k in g.__annotations__}
    return [k for k in names if k not in shared] + [k for k in names if k in shared]


def markdown_table() -> str:
    """docs/events.md's table of types."""
    rows = ["| type | fields | what |", "|---|---|---|"]
    for t in EventType:
        doc = " ".join((FIELDS[t].__doc__ or "").split())
        rows.append(f"| `{t}` | " + ", ".join(f"`{f}`" for f in field_names(t)) + f" | {doc} |")
    return "\n".join(rows) + "\n"


TABLE_START = "<!-- generated from pipeline/runs/vocabulary.py"
TABLE_END = "<!-- end of generated table -->"


def with_table(doc: str) -> str:
    """``doc`` (docs/events.md) with the table between its markers made from this vocabulary."""
    head, sep, rest = doc.partition(TABLE_START)
    marker, _, rest = rest.partition("\n")
    _old, sep2, tail = rest.partition(TABLE_END)
    if not sep or not sep2:
        raise ValueError(f"the events table's markers ({TABLE_START!r} … {TABLE_END!r}) are missing")
    return f"{head}{TABLE_START}{marker}\n{markdown_table()}{TABLE_END}{tail}"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        doc = Path(sys.argv[2])
        doc.write_text(with_table(doc.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(markdown_table(), end="")
