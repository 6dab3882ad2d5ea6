"""The Optuna study (worker only): storage in the run folder, ask-and-tell, one event per trial.

The storage is Optuna's JournalStorage on ``abliterate/study.journal`` (an append-only log: a SIGKILL
loses at most the trial in flight). On resume, trials left RUNNING by a killed worker are marked
FAIL and the study continues until ``trials`` have finished; finished ones are never redone.

- **Search space** (heretic's, per trial): the scope (one interpolated direction for all layers, or
  each layer its own), the direction index in the upper-middle layers, and per component the peak
  weight, its position, the weight at the kernel's edge (as a fraction of the peak) and the kernel's
  reach; positions and distances are fractions of the depth.
- **KL constraint**: with ``kl_constraint`` a trial whose KL is above ``max_kl`` is infeasible
  (``Trial.set_constraint``, which TPE and NSGA-II read), so the sampler looks for fewer refusals
  *under* the cap instead of spending trials where the chooser will never pick.
- **Resume reseeds** the sampler with the seed and the number of trials already in the journal: a
  sampler rebuilt with the bare seed would replay its random stream and repeat earlier parameters.
- **Journal first, event second**: a trial is told to the study (with its event fields as a user
  attribute) before its event is written; a worker killed between the two leaves a finished trial
  without an event, which ``reconcile`` writes on the next start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.abliterate.kernel import COMPONENTS, DEFAULT_FLAT, TrialParams
from pipeline.runs.layout import STUDY_JOURNAL

STUDY_NAME = "abliterate"
EVENT_ATTR = "event"  # the trial's event fields, stored with the trial before its event is written
CONSTRAINT = "kl"  # the constraint's name: KL − max_kl (≤ 0: feasible)


def distributions(components: tuple[str, ...], scope: str = "search") -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out: dict[str, Any] = {}
    if scope == "search":
        out["scope"] = CategoricalDistribution(("global", "per_layer"))
    # Sampled even when a trial's scope is per_layer: multivariate TPE needs a fixed set of parameters.
    out["direction_index"] = FloatDistribution(0.4, 0.9)
    for c in components:
        out[f"{c}.max_weight"] = FloatDistribution(0.8, 1.5)
        out[f"{c}.max_weight_position"] = FloatDistribution(0.6, 1.0)
        out[f"{c}.min_weight_frac"] = FloatDistribution(0.0, 1.0)
        out[f"{c}.min_weight_distance"] = FloatDistribution(0.03, 0.6)
    return out


def make_sampler(sampler: str, startup: int, seed: int) -> Any:
    import optuna

    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)


def open_study(folder: Path, objectives: list[tuple[str, str]], sampler: str, startup: int, seed: int) -> Any:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder / STUDY_JOURNAL)))
    names = [n for n, _ in objectives]
    directions = [d for _n, d in objectives]
    try:
        existing = len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials)
    except KeyError:
        existing = 0
    study = optuna.create_study(storage=storage, study_name=STUDY_NAME, load_if_exists=True,
                                sampler=make_sampler(sampler, startup, seed + existing),
                                directions=directions)
    stored = study.user_attrs.get("objectives")
    if stored is None:
        study.set_user_attr("objectives", names)
    elif stored != names:
        from pipeline.errors import ConfigError

        raise ConfigError(f"{folder / STUDY_JOURNAL}: the study has objectives {stored}, the config asks for {names} "
                          "(hallucination/capability changed since it started: start a new run)")
    return study


def recover(study: Any) -> int:
    """Mark trials a killed worker left RUNNING as FAIL; returns how many."""
    from optuna.trial import TrialState

    stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL)
    return len(stale)


def finished(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]


def reconcile(study: Any, emitted: Iterable[int], emit: Callable[[int, dict[str, Any]], None]) -> list[int]:
    """Write the events of finished trials that have none (killed between ``tell`` and the event)."""
    have = set(emitted)
    missing = [t for t in finished(study) if t.number not in have and EVENT_ATTR in t.user_attrs]
    for t in missing:
        emit(t.number, dict(t.user_attrs[EVENT_ATTR]))
    return [t.number for t in missing]


@dataclass
class Outcome:
    """A finished trial: its objective values, its event's fields, its KL constraint (≤ 0: feasible;
    None: the search is not constrained)."""

    values: list[float]
    event: dict[str, Any] = field(default_factory=dict)
    constraint: float | None = None


def run_trials(study: Any, total: int, components: tuple[str, ...], warm_start: bool, scope: str,
               evaluate: Callable[[int, TrialParams, float], Outcome],
               emit: Callable[[int, dict[str, Any]], None], stop: Callable[[], bool]) -> None:
    """Ask/tell until ``total`` trials are complete or ``stop()``: evaluate, tell the study (journal),
    then write the trial's event."""
    dists = distributions(components, scope)
    if warm_start and not study.get_trials(deepcopy=False):
        study.enqueue_trial({k: v for k, v in DEFAULT_FLAT.items() if k in dists})
    while len(finished(study)) < total and not stop():
        trial = study.ask(dists)
        params = TrialParams.from_flat(trial.params, components)
        out = evaluate(trial.number, params, time.time())
        trial.set_user_attr(EVENT_ATTR, out.event)
        if out.constraint is not None:
            trial.set_constraint(CONSTRAINT, out.constraint)
        study.tell(trial, out.values)
        emit(trial.number, out.event)


__all__ = ["COMPONENTS", "Outcome", "distributions", "finished", "open_study", "reconcile", "recover", "run_trials"]
