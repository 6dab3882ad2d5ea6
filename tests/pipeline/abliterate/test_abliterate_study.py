"""The study's bookkeeping with real Optuna on a journal file (no model: a trial's measurement is a
closed-form function of its parameters): resume without repeated parameters, the journal before the
event, the KL constraint, the per-trial scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("optuna")

from pipeline.abliterate.kernel import TrialParams
from pipeline.abliterate.study import (
    EVENT_ATTR,
    Outcome,
    distributions,
    finished,
    open_study,
    reconcile,
    recover,
    run_trials,
)

OBJ = [("refusals", "minimize"), ("kl", "minimize")]
COMPS = ("attn", "mlp")


def fake_measure(params: TrialParams) -> tuple[float, float]:
    """Stronger ablation → fewer refusals, more KL (a smooth trade-off the sampler can learn)."""
    strength = sum(k.max_weight * k.min_weight_distance for k in params.kernels.values())
    return max(0.0, 24 - 14 * strength), 0.4 * strength ** 2


def study_run(folder: Path, total: int, seed: int = 42, startup: int = 4, constrained: bool = False,
              max_kl: float = 0.5, stop_after: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
    study = open_study(folder, OBJ, "tpe", startup, seed)
    recover(study)
    events: list[dict[str, Any]] = []

    def evaluate(number: int, params: TrialParams, _t0: float) -> Outcome:
        refusals, kl = fake_measure(params)
        return Outcome([refusals, kl], {"trial": number, "refusals": refusals, "kl": kl, "params": params.as_flat()},
                       kl - max_kl if constrained else None)

    def stop() -> bool:
        return stop_after is not None and len(finished(study)) >= stop_after

    run_trials(study, total, COMPS, True, "search", evaluate, lambda n, ev: events.append(ev), stop)
    return study, events


def params_of(study: Any) -> list[tuple[Any, ...]]:
    return [tuple(sorted(t.params.items())) for t in finished(study)]


def test_resume_reseeds_so_no_parameters_repeat(tmp_path: Path):
    # interrupted during the random start-up phase, where a replayed random stream repeats parameters
    first, ev1 = study_run(tmp_path / "a", total=10, startup=8, stop_after=4)
    assert len(finished(first)) == 4 and ev1[0]["params"]["direction_index"] == pytest.approx(0.6)  # warm start
    before = params_of(first)
    import shutil

    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    resumed, ev2 = study_run(tmp_path / "a", total=10, startup=8)
    assert len(finished(resumed)) == 10 and [e["trial"] for e in ev2] == [4, 5, 6, 7, 8, 9]
    after = params_of(resumed)
    assert after[:4] == before and len(set(after)) == 10  # nothing after the resume repeats a trial before it
    # the defect this guards against: a sampler rebuilt with the bare seed replays its random stream
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "copy" / "study.journal")))
    replay = optuna.load_study(study_name="abliterate", storage=storage,
                               sampler=optuna.samplers.TPESampler(seed=42, n_startup_trials=8, multivariate=True))
    assert tuple(sorted(replay.ask(distributions(COMPS)).params.items())) in before


def test_uninterrupted_study_is_reproducible(tmp_path: Path):
    a, _ = study_run(tmp_path / "a", total=6)
    b, _ = study_run(tmp_path / "b", total=6)
    assert params_of(a) == params_of(b)


def test_event_written_after_the_journal_and_reconciled(tmp_path: Path):
    study, events = study_run(tmp_path / "s", total=4)
    stored = {t.number: t.user_attrs[EVENT_ATTR] for t in finished(study)}
    assert stored == {e["trial"]: e for e in events}  # the journal holds each trial's event
    # a worker killed after tell() but before its event: the next start writes the missing ones
    written: list[tuple[int, dict]] = []
    late = reconcile(study, [0, 2], lambda n, ev: written.append((n, ev)))
    assert late == [1, 3] and [n for n, _ in written] == [1, 3] and written[0][1] == stored[1]
    assert reconcile(study, [0, 1, 2, 3], lambda n, ev: written.append((n, ev))) == []


def test_kl_constraint_marks_trials_infeasible(tmp_path: Path):
    study, events = study_run(tmp_path / "c", total=12, constrained=True, max_kl=0.3)
    for t in finished(study):
        assert t.constraints == {"kl": pytest.approx(t.values[1] - 0.3)}  # what Optuna's samplers read
    feasible = [e for e in events if e["kl"] <= 0.3]
    assert feasible, "the constrained search found no trial under the cap"
    free, _ = study_run(tmp_path / "f", total=3)
    assert all(t.constraints == {} for t in finished(free))


def test_scope_is_sampled_per_trial(tmp_path: Path):
    _study, events = study_run(tmp_path / "p", total=12, startup=12)
    scopes = {e["params"]["scope"] for e in events}
    assert scopes == {"global", "per_layer"}
    assert TrialParams.from_flat(events[-1]["params"], COMPS).scope in scopes
    assert "scope" not in distributions(COMPS, "global")
