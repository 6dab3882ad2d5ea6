"""The Optuna study (worker only): storage in the run folder, ask-and-tell, one event per trial.

The storage is Optuna's JournalStorage on ``abliterate/study.journal`` (an append-only log: a SIGKILL
loses at most the trial in flight). On resume, trials left RUNNING by a killed worker are marked
FAIL and the study continues until ``trials`` have finished; finished ones are never redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.abliterate.kernel import COMPONENTS, DEFAULT_FLAT, TrialParams
from pipeline.runs.layout import STUDY_JOURNAL

if TYPE_CHECKING:
    from pipeline.abliterate.objectives import Measure

STUDY_NAME = "abliterate"


def distributions(components: tuple[str, ...]) -> dict[str, Any]:
    from optuna.distributions import FloatDistribution

    out: dict[str, Any] = {"direction_index": FloatDistribution(0.2, 0.95)}
    for c in components:
        out[f"{c}.max_weight"] = FloatDistribution(0.6, 1.6)
        out[f"{c}.max_weight_position"] = FloatDistribution(0.3, 1.0)
        out[f"{c}.min_weight_frac"] = FloatDistribution(0.0, 1.0)
        out[f"{c}.min_weight_distance"] = FloatDistribution(0.1, 0.8)
    return out


def open_study(folder: Path, objectives: list[tuple[str, str]], sampler: str, startup: int, seed: int) -> Any:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder / STUDY_JOURNAL)))
    if sampler == "nsga2":
        smp: Any = optuna.samplers.NSGAIISampler(seed=seed)
    elif sampler == "random":
        smp = optuna.samplers.RandomSampler(seed=seed)
    else:
        smp = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    study = optuna.create_study(storage=storage, study_name=STUDY_NAME, load_if_exists=True, sampler=smp,
                                directions=[d for _n, d in objectives])
    names = [n for n, _ in objectives]
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


def run_trials(study: Any, total: int, components: tuple[str, ...], warm_start: bool,
               evaluate: Callable[[int, TrialParams], Measure],
               on_done: Callable[[int, TrialParams, Measure, float], list[float]],
               stop: Callable[[], bool]) -> None:
    """Ask/tell until ``total`` trials are complete or ``stop()``; ``on_done`` returns the trial's values."""
    dists = distributions(components)
    if warm_start and not study.get_trials(deepcopy=False):
        study.enqueue_trial({k: v for k, v in DEFAULT_FLAT.items() if k in dists})
    while len(finished(study)) < total and not stop():
        trial = study.ask(dists)
        params = TrialParams.from_flat(trial.params, components)
        t0 = time.time()
        m = evaluate(trial.number, params)
        values = on_done(trial.number, params, m, time.time() - t0)
        study.tell(trial, values)


__all__ = ["COMPONENTS", "distributions", "finished", "open_study", "recover", "run_trials"]
