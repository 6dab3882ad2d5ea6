"""An eval run of chosen checkpoints (the checkpoint browser's evaluate action), baseline included."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pipeline.config.run import RunConfig, build_config
from pipeline.config.runref import run_ref

# Cheap settings: a browser-started eval should take minutes on a CPU, not an hour.
QUICK = ("eval.questions=[\"builtin:stance-heldout\"]", "eval.samples=2", "eval.max_tokens=96",
         "eval.battery=\"builtin:battery-12\"", "eval.judge=\"rubric\"", "eval.tournament=true")


def checkpoints_config(picks: Sequence[tuple[str, str, str]], sets: Sequence[str] = QUICK) -> RunConfig:
    """``picks``: (run id, checkpoint name, that run's base model source). One eval run compares the
    first pick's base model (the baseline) with every picked checkpoint."""
    if not picks:
        raise ValueError("pick at least one checkpoint to evaluate")
    refs = [run_ref(run, name) for run, name, _ in picks]
    base = picks[0][2] or "embedded"
    return build_config("eval", sets=[f"model.source={refs[0]}", f"eval.baseline={json.dumps(base)}",
                                      f"eval.models={json.dumps(refs[1:])}", *sets])
