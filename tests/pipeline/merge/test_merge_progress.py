"""A Strategy B run's dashboard while its branches train (real branch runs: selftest in GRPO's place): its
progress is the branches' steps summed, its charts each branch's share done and latest reward."""

from __future__ import annotations

import json

from pipeline.runs.layout import EVENTS_FILE
from pipeline.runs.store import RunStore
from tests.pipeline.merge.test_merge_branches import merge_ctx, runner


def test_the_merge_runs_progress_sums_its_branches_steps(store: RunStore) -> None:
    ctx = merge_ctx(store)
    assert runner(ctx, {}).run() is True
    events = [json.loads(x) for x in (ctx.run_dir / EVENTS_FILE).read_text().splitlines()]
    progress = [e for e in events if e["type"] == "progress"]
    assert progress and all(e["phase"] == "branches" and e["phases"][0] == "branches" for e in progress)
    last = progress[-1]
    assert last["step"] == last["total_steps"] == 4  # two branches of 2 selftest steps each, all done
    charted = [e for e in events if e["type"] == "metrics"][-1]
    assert charted["progress/entropy"] == charted["progress/calibrated"] == 1.0
    assert [e["step"] for e in progress] == sorted(e["step"] for e in progress)  # never goes back
