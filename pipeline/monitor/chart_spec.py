"""What a dashboard chart shows, written as one string: a metric (``loss``), several in one chart
(``refusals+best/refusals``) or every metric of a family (``judge_mean/*``, one line per level).

Each stage names its default charts in the stage registry (``Stage.charts``); the charts follow the
highlighted run's stage, and the operator's own pick of a chart's metric is kept per stage.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline import registry


def expand(spec: str, names: Iterable[str]) -> list[str]:
    """The metrics ``spec`` stands for among ``names`` (what the runs logged), in the spec's order; a plain
    name stands for itself whether logged or not (its chart says "no data")."""
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if len(parts) == 1 and not parts[0].endswith("/*"):
        return parts
    known = sorted(set(names))
    out: list[str] = []
    for part in parts:
        if part.endswith("/*"):
            family = part[:-1]
            out += [n for n in known if n.startswith(family) and n not in out]
        elif part not in out:
            out.append(part)
    return out


def stage_charts(stage: str | None, default: list[str]) -> tuple[str, list[str]]:
    """(the layout's key, its charts) for a run of ``stage``: the registry's charts for that stage, else
    ``default`` (the user's charts.metrics) under the key ``""``."""
    st = registry.stages().get(stage or "")
    if st is not None and st.charts:
        return st.name, list(st.charts)
    return "", list(default)
