"""The abliteration screen follows a study live (Pilot): a recorded study's events are appended in two
parts and the trial table, the Pareto marks and the scatter follow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aba_tui.panes.pareto import CHOSEN, FRONT, TRIAL, scatter
from pipeline.runs.status import Status, write_status

RECORDED = Path(__file__).parent / "fixtures" / "abliterate-study.jsonl"


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
    from textual.app import App
    from textual.widgets import DataTable, Static

    from aba_tui.screens.abliteration import AbliterationScreen

    run_id = "20261204-0600-abliterate-smollm2"
    run_dir = tmp_path / "runs" / run_id
    run_dir.mkdir(parents=True)
    write_status(run_dir, Status(run_id=run_id, stage="abliterate", state="running"))
    lines = RECORDED.read_text().splitlines(keepends=True)
    events = run_dir / "events.jsonl"
    events.write_text("".join(lines[:10]))  # setup, baseline and the first 3 trials

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(AbliterationScreen(runs_dir=tmp_path / "runs", poll_s=0.05))

    app = Host()
    async with app.run_test(size=(150, 40)) as pilot:
        screen = app.screen
        trials = screen.query_one("#ab-trials", DataTable)
        await _wait(pilot, lambda: trials.row_count == 3)
        assert screen.query_one("#ab-runs", DataTable).get_row_at(0)[0] == run_id
        with events.open("a") as fh:
            fh.write("".join(lines[10:]))
        await _wait(pilot, lambda: trials.row_count == 8)
        marks = {trials.get_row_at(i)[0]: trials.get_row_at(i)[3] for i in range(8)}
        assert marks["4"] == "" and marks["5"] == FRONT and marks["3"] == FRONT  # 4 is dominated by 7
        def plot_area() -> str:  # the cells, without the legend
            return "\n".join(str(screen.query_one("#ab-plot", Static).render()).splitlines()[:-3])

        plot = plot_area()
        assert FRONT in plot and TRIAL in plot and CHOSEN not in plot
        with events.open("a") as fh:
            fh.write(json.dumps({"type": "abliterate_chosen", "trial": 7, "refusals": 5.0, "kl": 0.30}) + "\n")
        await _wait(pilot, lambda: trials.get_row_at(7)[3] == CHOSEN)
        assert CHOSEN in plot_area()
        status = str(screen.query_one("#ab-status").render())
        assert "8 trials" in status and "21/24" in status and "chosen trial 7" in status
