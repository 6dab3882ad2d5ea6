"""Trials and their Pareto front from a run's events (light: the control centre and reports read it).

The worker writes one ``abliterate_setup`` event (the objectives and their directions), one
``baseline`` event and one ``trial`` event per finished trial (docs/abliteration.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.runs.events import iter_events
from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.vocabulary import EventType

DEFAULT_OBJECTIVES = (("refusals", "minimize"), ("kl", "minimize"))
# The events a study writes (from_events reads them; the abliteration screen follows them).
STUDY_EVENTS = frozenset({EventType.ABLITERATE_SETUP, EventType.BASELINE, EventType.TRIAL, EventType.ABLITERATE_CHOSEN})
EXTRA = ("judge_disagree", "judge_compared", "judge_refusals", "undecided", "batch_size")


@dataclass
class Trial:
    number: int
    values: dict[str, float]
    params: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    n: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    arm: str = ""  # the cones on/off comparison's arm ("" in a single study)

    @property
    def label(self) -> str:
        return f"{self.arm}:{self.number}" if self.arm else str(self.number)


@dataclass
class StudyView:
    objectives: list[tuple[str, str]]
    trials: list[Trial]
    baseline: dict[str, Any] | None = None
    chosen: dict[str, Any] | None = None
    setup: dict[str, Any] | None = None

    def front(self) -> list[Trial]:
        """The Pareto front of each arm (one study: its front)."""
        out: list[Trial] = []
        for arm in dict.fromkeys(t.arm for t in self.trials):
            out += pareto_front([t for t in self.trials if t.arm == arm], self.objectives)
        return out


def _dominates(a: Trial, b: Trial, objectives: Sequence[tuple[str, str]]) -> bool:
    better = False
    for name, direction in objectives:
        x, y = a.values.get(name), b.values.get(name)
        if x is None or y is None:
            return False
        if direction == "maximize":
            x, y = -x, -y
        if x > y:
            return False
        better = better or x < y
    return better


def pareto_front(trials: Sequence[Trial], objectives: Sequence[tuple[str, str]] = DEFAULT_OBJECTIVES) -> list[Trial]:
    """Non-dominated trials, sorted by the first objective then the second."""
    front = [t for t in trials if not any(_dominates(o, t, objectives) for o in trials if o is not t)]
    names = [n for n, _ in objectives]
    return sorted(front, key=lambda t: tuple(t.values.get(n, 0.0) for n in names))


def from_events(events: Iterable[dict[str, Any]]) -> StudyView:
    view = StudyView(list(DEFAULT_OBJECTIVES), [])
    by_number: dict[tuple[str, int], Trial] = {}
    for ev in events:
        kind = ev.get("type")
        if kind == EventType.ABLITERATE_SETUP:
            view.setup = ev
            objs = ev.get("objectives")
            if isinstance(objs, list):
                view.objectives = [(str(o[0]), str(o[1])) for o in objs if isinstance(o, list | tuple) and len(o) == 2]
        elif kind == EventType.BASELINE:
            view.baseline = ev
        elif kind == EventType.ABLITERATE_CHOSEN:
            view.chosen = ev
        elif kind == EventType.TRIAL and isinstance(ev.get("trial"), int):
            names = [n for n, _ in view.objectives]
            values = {n: float(ev[n]) for n in names if isinstance(ev.get(n), int | float)}
            arm = str(ev.get("arm", ""))
            by_number[(arm, ev["trial"])] = Trial(ev["trial"], values, dict(ev.get("params") or {}), ev.get("seconds"),
                                                  ev.get("n"), {k: ev[k] for k in EXTRA if k in ev}, arm)
    order = {arm: i for i, arm in enumerate(dict.fromkeys(a for a, _ in by_number))}
    view.trials = [by_number[k] for k in sorted(by_number, key=lambda k: (order[k[0]], k[1]))]
    return view


def read_study(run_dir: Path) -> StudyView:
    path = Path(run_dir) / EVENTS_FILE
    if not path.is_file():
        return StudyView(list(DEFAULT_OBJECTIVES), [])
    return from_events(ev for _off, ev in iter_events(path))


def choose(trials: Sequence[Trial], max_kl: float) -> Trial | None:
    """Fewest refusals among trials with KL ≤ max_kl (ties: lowest KL); none under it: the lowest KL."""
    ok = [t for t in trials if "refusals" in t.values and t.values.get("kl", float("inf")) <= max_kl]
    if ok:
        return min(ok, key=lambda t: (t.values["refusals"], t.values["kl"]))
    rest = [t for t in trials if "kl" in t.values]
    return min(rest, key=lambda t: t.values["kl"]) if rest else None
