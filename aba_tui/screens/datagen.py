"""Datagen items browser: a datagen run's traces (prompt, trace, the 9 scores), filtered by level.

Keys: [ / ] previous / next datagen run · l cycle the level filter · f5 reload. The logic lives in
pipeline.datagen.browse (no Textual); items are read from data/items.jsonl, so a running run can be
browsed while it writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.runs_dir import RunsDirScreen
from pipeline.datagen.browse import ItemRow, datagen_runs, detail, item_rows, summary

LEVEL_FILTERS = ("", "chosen", "adequate", "rejected")
COLUMNS = ("#", "prompt", "category", "level", "finish", "mean", "missing")


class DatagenScreen(RunsDirScreen):
    DEFAULT_CSS = """
    DatagenScreen #dg-table { height: 1fr; }
    DatagenScreen #dg-status { height: 1; padding: 0 1; background: $boost; }
    DatagenScreen #dg-detail { height: 1fr; border: round $secondary 60%; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "cycle_level", "Level filter", id="datagen.level"),
        Binding("right_square_bracket", "next_run", "Next run", id="datagen.next", key_display="]"),
        Binding("left_square_bracket", "prev_run", "Prev run", id="datagen.prev", key_display="["),
        Binding("f5,ctrl+r", "reload", "Reload", id="datagen.reload", show=False),
    ]

    def __init__(self, runs_dir: Path | str | None = None) -> None:
        super().__init__(runs_dir)
        self.runs: list[Path] = []
        self.run_index = 0
        self.level = ""
        self.rows: list[ItemRow] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="dg-status", markup=False)
        yield DataTable(id="dg-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="dg-detail"):
            yield Static("", id="dg-text", markup=False)  # a trace's text as written ("[/]" is no markup)
        yield KeyFooter()

    @guarded("datagen items")
    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.runs = datagen_runs(self.runs_dir)  # a directory listing: cheap
        wanted = getattr(self.app, "selected_run", None)
        names = [p.name for p in self.runs]
        if wanted in names:
            self.run_index = names.index(wanted)
        self.reload()

    @property
    def run_dir(self) -> Path | None:
        return self.runs[self.run_index] if self.runs else None

    def reload(self) -> None:
        self._load(self.run_dir, self.level)

    @work(thread=True, exclusive=True, exit_on_error=False, group="datagen-items")
    def _load(self, run_dir: Path | None, level: str) -> None:
        # Off the event loop: items.jsonl of a big run is thousands of lines.
        rows = item_rows(run_dir, level) if run_dir is not None else []
        self.app.call_from_thread(self._fill, run_dir, rows)

    @guarded("datagen items")
    def _fill(self, run_dir: Path | None, rows: list[ItemRow]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        status = self.query_one("#dg-status", Static)
        self.rows = rows
        if run_dir is None:
            status.update(f"no datagen runs in {self.runs_dir} (start one: aba run --preset datagen-local)")
            self.query_one("#dg-text", Static).update("")
            return
        for r in self.rows:
            table.add_row(str(r.n), *(Text(v) for v in (r.prompt_id, r.category, r.level, r.finish)),
                          "-" if r.mean is None else f"{r.mean:.2f}", str(r.missing))
        filt = self.level or "all levels"
        status.update(f"{run_dir.name} ({self.run_index + 1}/{len(self.runs)}) · {filt} · {summary(self.rows)}")
        self.show(0)

    def show(self, index: int) -> None:
        text = detail(self.rows[index]) if 0 <= index < len(self.rows) else ""
        self.query_one("#dg-text", Static).update(text)

    @guarded("datagen item")
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show(event.cursor_row)

    def action_cycle_level(self) -> None:
        self.level = LEVEL_FILTERS[(LEVEL_FILTERS.index(self.level) + 1) % len(LEVEL_FILTERS)]
        self.reload()

    def action_next_run(self) -> None:
        if self.runs:
            self.run_index = (self.run_index + 1) % len(self.runs)
            self.reload()

    def action_prev_run(self) -> None:
        if self.runs:
            self.run_index = (self.run_index - 1) % len(self.runs)
            self.reload()

    def action_reload(self) -> None:
        self.runs = datagen_runs(self.runs_dir)
        self.run_index = min(self.run_index, max(0, len(self.runs) - 1))
        self.reload()
