"""The dashboard on recorded runs of the stages that are not trainers (tests/fixtures/stage_runs): the
charts follow the highlighted run's stage, the runs pane shows each run's phase and an ETA, and the
stages' own alerts (a datagen run's rising error rate, a study that stopped improving) are raised."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aba_tui.panes.alerts import AlertsTable
from aba_tui.panes.charts_pane import ChartsPane
from aba_tui.panes.runs import RunsTable
from pipeline import registry
from tests.support.paths import FIXTURES
from tests.support.tui import make_app, settle, wait_until

pytestmark = pytest.mark.asyncio

DATAGEN = "20250301-1500-datagen-local"
EVAL = "20250301-1510-eval-demo"
ABLITERATE = "20250301-1530-abliterate-demo"
MERGE = "20250301-1540-strategy-b"

# run → (its stage, the phase it is in, its ETA (+: later phases follow), the series its charts draw)
EXPECTED = {
    DATAGEN: ("datagen", "generate", "5m00s", {"items_per_min", "error_rate", "judge_missing_rate",
                                               "judge_mean/chosen", "judge_mean/rejected", "judge_mean/adequate"}),
    EVAL: ("eval", "judge", "2m00s+", {"answers_per_min"}),
    ABLITERATE: ("abliterate", "trials", "8m00s+", {"refusals", "best/refusals", "kl", "best/kl", "trial_s"}),
    MERGE: ("merge", "branches", "8m10s+", {"progress/coherence", "progress/epistemic", "reward/coherence",
                                  "reward/epistemic"}),
}


def stage_runs(tmp_path: Path) -> Path:
    dst = tmp_path / "runs"
    shutil.copytree(FIXTURES / "stage_runs", dst, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return dst


@pytest.mark.parametrize("run_id", list(EXPECTED))
async def test_the_charts_follow_the_runs_stage_and_the_row_shows_its_phase_and_eta(tmp_path: Path, run_id: str):
    app = make_app(tmp_path, runs_dir=stage_runs(tmp_path))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        table = app.screen.query_one(RunsTable)
        pane = app.screen.query_one(ChartsPane)
        table.select_run(run_id)
        stage, phase, eta, series = EXPECTED[run_id]
        await wait_until(pilot, lambda: pane.metrics == list(registry.stages()[stage].charts), what="its charts")
        await settle(pilot, app)
        drawn = {t.series for c in pane.charts() for t in c._traces}
        assert drawn == series
        row = [str(c) for c in table.get_row(run_id)]
        assert row[2:7] == [stage, "running", phase, row[5], eta] and "/" in row[5]


async def test_a_picked_metric_is_kept_for_that_stage_and_a_rising_error_rate_alerts(tmp_path: Path):
    app = make_app(tmp_path, runs_dir=stage_runs(tmp_path))
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot, app)
        alerts = app.screen.query_one(AlertsTable)
        await wait_until(pilot, lambda: {("error_rate_high", DATAGEN), ("study_stalled", ABLITERATE)}
                         <= {(a.code, a.run_id) for a in alerts.alerts}, what="the stages' alerts")
        assert not any(a.code == "judge_missing_high" for a in alerts.alerts)  # its rate stayed at 0
        table = app.screen.query_one(RunsTable)
        pane = app.screen.query_one(ChartsPane)
        table.select_run(DATAGEN)
        await wait_until(pilot, lambda: pane.metrics[0] == "items_per_min", what="datagen's charts")
        await settle(pilot, app)
        pane.pick(pane.charts()[0], "errors")
        table.select_run(MERGE)
        await wait_until(pilot, lambda: pane.metrics == ["progress/*", "reward/*"], what="merge's charts")
        table.select_run(DATAGEN)
        await wait_until(pilot, lambda: pane.metrics[0] == "errors", what="the pick, kept for datagen")
        await settle(pilot, app)
        assert pane.charts()[0]._traces[0].data.raw_y[-1] == 8  # the cumulative count the operator chose
