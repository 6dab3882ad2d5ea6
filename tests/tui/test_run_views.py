"""A run's details (config, peaks, best metrics, note and tags), three runs compared side by side, and
a new run prefilled from one, in the app (Pilot) on real run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TextArea

from aba_tui.panes.runs import RunsTable
from aba_tui.screens.compare import CompareScreen
from aba_tui.screens.launch import LaunchScreen
from aba_tui.screens.pick import PickScreen
from aba_tui.screens.run_details import RunDetailsScreen
from pipeline.config.run import build_config
from pipeline.runs.notes import read_notes
from pipeline.runs.store import RunStore
from tests.support.tui import make_app, wait_until

pytestmark = pytest.mark.asyncio
GiB = 1 << 30


def _run(store: RunStore, sets: list[str], losses: list[float], rss_gib: float) -> str:
    rid, path = store.create_run(build_config("dpo", sets=sets))
    lines = [{"ts": 1.0 + i, "type": "metrics", "step": i + 1, "loss": loss, "accuracy": 0.5 + i / 10,
              "lr": 1e-5} for i, loss in enumerate(losses)]
    lines.append({"ts": 9.0, "type": "resources", "peak_rss_bytes": int(rss_gib * GiB), "peak_cpu_pct": 180.0,
                  "ram_total_bytes": 24 * GiB, "cpus": 2, "attempt": 1, "final": True})
    (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return rid


@pytest.fixture
def three(tmp_path: Path) -> tuple[RunStore, list[str]]:
    store = RunStore(tmp_path / "runs")
    a = _run(store, ["dpo.beta=0.1", "dpo.learning_rate=1e-5"], [0.69, 0.50, 0.41], 1.5)
    b = _run(store, ["dpo.beta=0.3", "dpo.learning_rate=1e-5"], [0.69, 0.30, 0.35], 2.5)
    c = _run(store, ["dpo.beta=0.1", "dpo.learning_rate=5e-5"], [0.69, 0.60, 0.55], 1.0)
    return store, [a, b, c]


async def _listed(pilot, app) -> None:
    await wait_until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count == 3,
                     what="three runs")


def _cells(table: DataTable) -> list[dict[str, str]]:
    keys = [str(col.key.value) for col in table.ordered_columns]
    return [{k: str(v).removesuffix(" ★") for k, v in zip(keys, table.get_row_at(i), strict=True)}
            for i in range(table.row_count)]


async def test_three_runs_compared_by_what_differs_and_their_best_metrics(tmp_path: Path, three) -> None:
    store, (a, b, c) = three
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await _listed(pilot, app)
        table = app.screen.query_one(RunsTable)
        for rid in (a, b):
            table.select_run(rid)
            await pilot.press("space")
        table.select_run(c)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.comparison is not None,
                         what="the comparison")
        screen = app.screen
        cmp_table = screen.query_one(DataTable)
        cols = [str(col.key.value) for col in cmp_table.ordered_columns]
        assert {"dpo.beta", "dpo.learning_rate"} <= set(cols)
        assert "dpo.max_length" not in cols and "model.source" not in cols  # the same in all three
        assert cols.index("dpo.beta") < cols.index("loss") < cols.index("peak RAM")
        rows = _cells(cmp_table)
        # Sorted by the best loss, lowest first: b (0.30), a (0.41), c (0.55).
        assert [r["run"] for r in rows] == [b, a, c]
        assert [r["loss"] for r in rows] == ["0.3", "0.41", "0.55"] and rows[0]["dpo.beta"] == "0.3"
        assert rows[0]["accuracy"] == "0.7" and rows[1]["peak RAM"] == "1.5G"
        assert "★" in str(cmp_table.get_row_at(0)[cols.index("loss")])
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the column picker")
        app.screen.dismiss("peak RAM")
        await wait_until(pilot, lambda: screen.sort_by == "peak RAM", what="sorted by peak RAM")
        assert [r["run"] for r in _cells(cmp_table)] == [c, a, b]
        await pilot.press("r")
        assert [r["run"] for r in _cells(cmp_table)] == [b, a, c]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen), what="back")
        assert app.current_mode == "dashboard"


async def test_details_show_config_peaks_and_keep_a_note(tmp_path: Path, three) -> None:
    store, (a, _b, _c) = three
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await _listed(pilot, app)
        app.screen.query_one(RunsTable).select_run(a)
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, RunDetailsScreen) and app.screen.summary is not None,
                         what="the details")
        screen = app.screen
        head = str(screen.query_one("#rd-head", Static).render())
        assert "peak RAM 1.5G of 24.0G" in head and "CPU 180 % of one core (2 cores)" in head
        assert "best: loss 0.41 · accuracy 0.7" in head
        rows = {r["key"]: r for r in _cells(screen.query_one(DataTable))}
        assert rows["dpo.beta"]["mark"] == "" and rows["dpo.learning_rate"]["mark"] == ""  # the defaults
        assert rows["model.source"]["value"] == "embedded"
        screen.query_one("#rd-tags", Input).value = "#baseline, lr-sweep"
        screen.query_one("#rd-note", TextArea).text = "first try at beta 0.1"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: read_notes(store.path(a)).tags == ["baseline", "lr-sweep"], what="the note")
        assert read_notes(store.path(a)).note == "first try at beta 0.1"
        screen.query_one("#rd-tags", Input).value = "bad/tag"
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert any("tag 'bad/tag'" in str(n.message) for n in app._notifications)
        assert read_notes(store.path(a)).tags == ["baseline", "lr-sweep"]  # nothing half-written


async def test_a_new_run_prefilled_from_the_highlighted_one(tmp_path: Path, three) -> None:
    store, (_a, b, _c) = three
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await _listed(pilot, app)
        app.screen.query_one(RunsTable).select_run(b)
        await pilot.press("N")
        await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen.query("#f-dpo-beta"),
                         what="the prefilled form")
        form = app.screen
        assert form.query_one("#f-dpo-beta", Input).value == "0.3"
        form.query_one("#f-dpo-learning_rate", Input).value = "2e-5"
        cfg = form.collect()
        assert cfg.stage == "dpo" and cfg.sections["dpo"].beta == 0.3 and cfg.sections["dpo"].learning_rate == 2e-5
        assert cfg.parent is None


async def test_compare_without_pins_takes_the_highlighted_runs_stage(tmp_path: Path, three) -> None:
    store, (a, b, c) = three
    _sft, path = store.create_run(build_config("sft"))
    (path / "events.jsonl").write_text(json.dumps({"ts": 1.0, "type": "metrics", "step": 1, "loss": 0.01}) + "\n")
    app = make_app(tmp_path, runs_dir=store.root)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count == 4,
                         what="four runs")
        app.screen.query_one(RunsTable).select_run(a)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.comparison is not None,
                         what="the comparison")
        assert {r.run_id for r in app.screen.comparison.runs} == {a, b, c}  # the sft run is not a dpo run's peer
