"""The abliteration screen follows a study live (Pilot): a recorded study's events are appended in two
parts and the trial table, the Pareto marks and the scatter follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aba_tui.panes.pareto import CHOSEN, FRONT, TRIAL, scatter
from pipeline.runs.status import Status, write_status
from tests.support.paths import FIXTURES

RECORDED = FIXTURES / "abliterate-study.jsonl"


def test_scatter_marks_front_and_chosen():
    rows = scatter([(0, 0.1, 5.0), (1, 0.5, 1.0), (2, 0.6, 4.0)], front={0, 1}, chosen=1, width=20, height=6)
    plot = "\n".join(rows[:-3])  # without the axis labels and the legend
    assert plot.count(FRONT) == 1 and plot.count(CHOSEN) == 1 and plot.count(TRIAL) >= 1
    assert rows[0].strip().startswith("5") and "0.1" in rows[-2] and "0.6" in rows[-2]
    # the low-KL, many-refusals trial sits top left; the chosen one bottom right
    assert rows[0].index(FRONT) < next(r for r in rows if CHOSEN in r and "│" in r).index(CHOSEN)
    assert scatter([], set(), None) == ["no finished trials yet"]


async def _wait(pilot, cond, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    assert cond()


@pytest.mark.asyncio
async def test_screen_follows_a_recorded_study_live(tmp_path: Path):
    """RECORDED is a real study (the refusal-trained embedded model, 6 trials, 12 held-out prompts):
    the original refused 12/12; trial 0 (the warm start) 8/12 at KL 0.41; trial 4 12/12 at KL 0.022."""
    from textual.app import App
    from textual.widgets import DataTable, Static

    from aba_tui.screens.abliteration import AbliterationScreen

    run_id = "20261204-0625-abliterate-smollm2"
    run_dir = tmp_path / "runs" / run_id
    run_dir.mkdir(parents=True)
    write_status(run_dir, Status(run_id=run_id, stage="abliterate", state="running"))
    lines = RECORDED.read_text().splitlines(keepends=True)
    cut1 = next(i for i, x in enumerate(lines) if json.loads(x).get("trial") == 2) + 1
    cut2 = next(i for i, x in enumerate(lines) if json.loads(x)["type"] == "checkpoint")
    events = run_dir / "events.jsonl"
    events.write_text("".join(lines[:cut1]))  # baseline, setup and the first 3 trials

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(AbliterationScreen(runs_dir=tmp_path / "runs", poll_s=0.05))

    def plot_area() -> str:  # the cells, without the axis labels and the legend
        return "\n".join(str(app.screen.query_one("#ab-plot", Static).render()).splitlines()[:-3])

    app = Host()
    async with app.run_test(size=(150, 40)) as pilot:
        screen = app.screen
        trials = screen.query_one("#ab-trials", DataTable)
        await _wait(pilot, lambda: trials.row_count == 3)
        assert screen.query_one("#ab-runs", DataTable).get_row_at(0)[0] == run_id
        assert [trials.get_row_at(i)[3] for i in range(3)] == [FRONT, "", FRONT]  # 2 is on the front so far
        with events.open("a") as fh:
            fh.write("".join(lines[cut1:cut2]))
        await _wait(pilot, lambda: trials.row_count == 6)
        marks = [trials.get_row_at(i)[3] for i in range(6)]
        assert marks == [FRONT, "", "", "", FRONT, ""]  # trial 4 (KL 0.022) now dominates trial 2 (KL 0.053)
        assert FRONT in plot_area() and TRIAL in plot_area() and CHOSEN not in plot_area()
        with events.open("a") as fh:
            fh.write("".join(lines[cut2:]))
        await _wait(pilot, lambda: trials.get_row_at(0)[3] == CHOSEN)
        assert CHOSEN in plot_area()
        status = str(screen.query_one("#ab-status").render())
        assert "6 trials" in status and "12/12" in status and "chosen trial 0" in status
