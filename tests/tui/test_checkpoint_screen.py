"""Pilot tests of the checkpoint browser: listing (broken ones marked), ranking, diff, prune, and
the probe/collapse scan through the real probe worker process on the embedded model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Static

from aba_tui.screens.checkpoint_dialogs import DiffScreen, PruneScreen
from aba_tui.screens.checkpoints import CheckpointsScreen
from aba_tui.screens.pick import PickScreen
from pipeline.checkpoints.browser import human_bytes
from pipeline.checkpoints.store import write_metadata
from pipeline.config.run import build_config
from pipeline.runs.status import read_status_raw, write_status
from pipeline.runs.store import RunStore, load_run_config
from tests.support.export import make_collapsed_checkpoint, make_lora_run

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir

    def on_mount(self) -> None:
        self.push_screen(CheckpointsScreen(runs_dir=self.runs_dir, probe_tokens=16))


async def wait_until(pilot, cond, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def _text(renderable) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _ck(run: Path, name: str, meta: dict | None, payload: int = 2000) -> None:
    p = run / "checkpoints" / name
    p.mkdir(parents=True)
    (p / "adapter_model.safetensors").write_bytes(b"w" * payload)
    (p / "adapter_config.json").write_text(json.dumps({"r": 8 if "0030" not in name else 16}))
    if meta is not None:
        write_metadata(p, meta)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    store = RunStore(tmp_path / "runs")
    _rid, run = store.create_run(build_config("dpo"))
    st = read_status_raw(run)
    st.state = "succeeded"
    write_status(run, st)
    _ck(run, "checkpoint-0010", {"step": 10, "epoch": 1.0, "loss": 0.6, "margins": 0.2})
    _ck(run, "checkpoint-0020", {"step": 20, "epoch": 2.0, "loss": 0.2, "margins": 1.0})
    _ck(run, "checkpoint-0030", {"step": 30, "epoch": 3.0, "loss": 0.4, "margins": 3.0, "eval": {"loss": 0.5}})
    _ck(run, "checkpoint-0040", None)
    _ck(run, "checkpoint-0050", {"step": 50})
    (run / "checkpoints" / "checkpoint-0050" / "metadata.json").write_text("{broken")
    return store.root


def _rows(table: DataTable) -> list[list[str]]:
    return [[_text(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


def _cols(table: DataTable) -> list[dict[str, str]]:
    """Each row as column key → text (the browser drops columns on a narrow screen)."""
    keys = [str(c.key.value) for c in table.ordered_columns]
    return [dict(zip(keys, row, strict=True)) for row in _rows(table)]


async def test_lists_ranks_diffs_and_prunes(runs: Path) -> None:
    app = Host(runs)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, CheckpointsScreen)
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 5 and all(r.size is not None for r in screen.rows),
                         what="five rows with sizes")
        rows = _cols(table)
        names = [r["checkpoint"] for r in rows]
        assert names == ["checkpoint-0010", "checkpoint-0020", "checkpoint-0030", "checkpoint-0040",
                         "checkpoint-0050"]
        states = {r["checkpoint"]: r["state"] for r in rows}
        assert states["checkpoint-0040"] == "incomplete" and states["checkpoint-0050"] == "corrupt"
        by_name = {r["checkpoint"]: r for r in rows}
        assert "★" in by_name["checkpoint-0020"]["sel"]  # best loss of the run
        assert by_name["checkpoint-0030"]["eval"] == "loss=0.5"  # eval column
        assert by_name["checkpoint-0010"]["size"].endswith("KB")  # size on disk
        assert "no metadata.json" in by_name["checkpoint-0040"]["note"]
        labels = [str(c.label) for c in table.ordered_columns]
        assert "mean loss" in labels and "metric" not in labels  # ranked by loss: no second loss column

        # Rank by margins (higher is better) through the metric picker.
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen), what="the metric picker")
        picker = app.screen
        picker.dismiss("margins")
        await wait_until(pilot, lambda: screen.ranked and screen.metric == "margins", what="ranking")
        await pilot.pause(0.1)
        ranked = _cols(table)
        assert [r["checkpoint"] for r in ranked[:3]] == ["checkpoint-0030", "checkpoint-0020", "checkpoint-0010"]
        assert ranked[0]["rank"] == "1" and "★" in ranked[0]["sel"]
        status = str(screen.query_one("#ck-status").render())
        assert "ranked by margins (higher is better)" in status
        assert status.startswith("5 checkpoints in 1 run · ") and "KB on disk" in status

        # Select the first two and diff them.
        table.move_cursor(row=0)
        await pilot.press("space", "space")
        assert len(screen.selected) == 2
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff")
        dt = app.screen.query_one(DataTable)
        cells = {(r[0], r[1]): (r[2], r[3]) for r in _rows(dt)}
        assert cells[("metadata", "margins")] == ("3.0", "1.0")
        assert cells[("adapter_config.json", "r")] == ("16", "8")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, what="back to the browser")

        # Prune: keep best 1 by margins and the last complete; the plan names the space freed.
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, PruneScreen), what="the prune dialog")
        dialog = app.screen
        await pilot.press("minus")
        assert dialog.keep_best == 1
        doomed = sorted(r.name for r in dialog.plan.delete)
        assert doomed == ["checkpoint-0010", "checkpoint-0020", "checkpoint-0040", "checkpoint-0050"]
        freed = dialog.plan.bytes_freed
        assert freed == sum(r.size for r in dialog.plan.delete) > 4 * 2000
        assert f"frees {human_bytes(freed)}" in str(dialog.query_one("#prune-title").render())
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 1, what="the pruned list")
        assert [r.name for r in screen.rows] == ["checkpoint-0030"]
        left = sorted(p.name for p in (runs.iterdir().__next__() / "checkpoints").iterdir())
        assert left == ["checkpoint-0030"]



async def test_E_evaluates_the_selected_checkpoints_in_one_eval_run_with_the_baseline(runs: Path) -> None:
    from pipeline.runs.launcher import stop
    from pipeline.runs.status import ACTIVE, read_status

    store = RunStore(runs)
    (trained,) = [i.run_id for i in store.list_runs()]
    app = Host(runs)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 5, what="five rows")
        table.move_cursor(row=0)
        await pilot.press("space")  # checkpoint-0010
        table.move_cursor(row=2)
        await pilot.press("space")  # checkpoint-0030
        await pilot.press("E")
        await wait_until(pilot, lambda: len(store.list_runs()) == 2, what="the eval run")
        (info,) = [i for i in store.list_runs() if i.run_id != trained]
        try:
            cfg = load_run_config(info.path)
            ev = cfg.sections["eval"]
            assert cfg.stage == "eval" and ev.baseline == "embedded"
            assert {cfg.sections["model"].source, *ev.models} == {f"run:{trained}@checkpoint-0010",
                                                                   f"run:{trained}@checkpoint-0030"}
            await wait_until(pilot, lambda: any("eval started" in str(n.message) for n in app._notifications),
                             what="the toast")
        finally:
            if read_status(info.path).state in ACTIVE:
                try:
                    stop(store, info.run_id)
                except Exception:
                    pass  # it ended on its own (the fixture's adapters are not real weights)
            # A stop lands once the worker's imports end (torch alone: a minute at a load of 10).
            await wait_until(pilot, lambda: read_status(info.path).state not in ACTIVE, timeout=180,
                             what="the eval run to end")


@pytest.mark.slow
async def test_probe_side_by_side_and_collapse_scan(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    _rid, run = make_lora_run(store, {10: 0.5})
    make_collapsed_checkpoint(run)
    app = Host(store.root)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, what="two checkpoints")
        table.move_cursor(row=0)
        await pilot.press("space", "space", "p")
        await wait_until(pilot, lambda: screen.probe_result is not None, timeout=240, what="the probe")
        cols = list(screen.query(".probe-col").results(Static))
        assert len(cols) == 2
        left, right = (_text(c.render()) for c in cols)
        assert "checkpoint-0010" in left and "» What is the capital of France?" in left
        assert "checkpoint-0099" in right and "!!!!!!!!" in right and "⚠" in right
        assert "Paris" in left
        saved = list((run / "probes").glob("probe-*.json"))
        assert len(saved) == 1
        # A collapse scan of the whole run marks the collapsed checkpoint in the table.
        screen.probe_result = None
        await pilot.press("c")
        await wait_until(pilot, lambda: screen.probe_result is not None, timeout=240, what="the collapse scan")
        col = {r["checkpoint"]: r["collapse"] for r in _cols(table)}
        assert col["checkpoint-0099"] == "⚠ 3/3"
        assert col["checkpoint-0010"] == "ok 0/3"


async def test_c_opens_the_browser_in_the_app_and_the_chat_screen_registers(runs: Path, tmp_path: Path) -> None:
    from aba_tui.screens import SCREENS, load_screen_class
    from aba_tui.screens.chat import ChatScreen
    from tests.support.tui import make_app

    assert SCREENS["checkpoints"].key == "c" and SCREENS["chat"].key == "a"
    assert load_screen_class("chat") is ChatScreen
    app = make_app(tmp_path, runs_dir=runs)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CheckpointsScreen), what="the browser")
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 5, what="the runs dir's checkpoints")
        assert app.screen.runs_dir == runs
        await app.action_quit()


async def test_best_and_final_are_tags_not_rows_and_narrow_keeps_size_and_note(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    _rid, run = store.create_run(build_config("dpo"))
    _ck(run, "checkpoint-000010", {"step": 10, "loss": 0.6})
    _ck(run, "checkpoint-000020", {"step": 20, "loss": 0.2})
    _ck(run, "best", {"step": 20, "loss": 0.2, "source": "checkpoint-000020"})
    _ck(run, "final", {"step": 20, "loss": 0.2, "source": "checkpoint-000020"})
    _rid2, old = store.create_run(build_config("sft"))
    _ck(old, "checkpoint-000300", {"step": 300, "loss": 0.5})
    _ck(old, "best", {"step": 100, "loss": 0.1, "source": "checkpoint-000100"})  # its source was rotated away
    app = Host(store.root)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 4 and all(r.size is not None for r in screen.rows),
                         what="one row per checkpoint")
        rows = {r["checkpoint"]: r for r in _cols(table)}
        assert set(rows) == {"checkpoint-000010", "checkpoint-000020  best final", "checkpoint-000300", "best"}
        assert rows["checkpoint-000020  best final"]["rank"] == "2" and rows["checkpoint-000010"]["rank"] == "4"
        assert rows["best"]["rank"] == "1" and "copy of checkpoint-000100 (no longer on disk)" in rows["best"]["note"]
        assert all(r["size"].endswith("KB") for r in rows.values())  # narrow: size and note stay
        assert "epoch" not in rows["best"] and "mean loss" in [str(c.label) for c in table.ordered_columns]
        assert sum(c.get_render_width(table) for c in table.ordered_columns if c.key.value != "note") < 100
        assert str(screen.query_one("#ck-status").render()).startswith("4 checkpoints in 2 runs")
