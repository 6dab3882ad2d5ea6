"""Runs side by side (`C`): one row per run, a column for each hyper-parameter that differs between
them, then their best metrics, peak RAM/VRAM and tags (LlamaBoard's and W&B's runs table). Sort by a
column: click its header or `s`; `r` reverses. Summaries are read in a worker (whole events files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Header, Label

from aba_tui.errors import guarded
from aba_tui.panes.footer import KeyFooter
from aba_tui.screens.sub import SubScreen
from pipeline.checkpoints.metrics import lower_is_better
from pipeline.monitor import fmt
from pipeline.monitor.summary import Comparison, RunSummary, compare, summarize

FIXED = ("run", "state", "tags")
TAIL = ("steps", "peak RAM", "peak VRAM")


class CompareScreen(SubScreen):
    HELP = """\
## Compare runs
One row per run: the hyper-parameters that differ between them (from each run.toml; those equal in all
are left out), the best value of each metric they logged (lowest loss, highest accuracy or reward),
steps, peak RAM and VRAM (recorded by the supervisor) and your tags. Click a column's header or press
`s` to sort by it, `r` to reverse; **★** marks the best run of each metric column."""
    DEFAULT_CSS = """
    CompareScreen #cmp-table { height: 1fr; }
    CompareScreen #cmp-status { height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort by", id="compare.sort", tooltip="pick the column to sort by"),
        Binding("r", "reverse", "Reverse", id="compare.reverse", tooltip="reverse the order"),
    ]

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__()
        self.run_dirs = [Path(p) for p in run_dirs]
        self.comparison: Comparison | None = None
        self.sort_by: str | None = None
        self.descending = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="cmp-table", cursor_type="row", zebra_stripes=True)
        yield Label(f"reading {len(self.run_dirs)} runs…", id="cmp-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"{len(self.run_dirs)} runs"
        self.query_one(DataTable).focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def _load(self) -> None:
        runs = [summarize(p) for p in self.run_dirs]
        self.app.call_from_thread(self._loaded, compare(runs))

    @guarded()
    def _loaded(self, comparison: Comparison) -> None:
        self.comparison = comparison
        if self.sort_by is None and comparison.metrics:
            self.sort_by = comparison.metrics[0]
            self.descending = not lower_is_better(self.sort_by)
        self._fill()

    def columns(self) -> list[str]:
        c = self.comparison
        return [*FIXED, *(c.params if c else []), *(c.metrics if c else []), *TAIL]

    def value(self, run: RunSummary, column: str) -> Any:
        if column == "run":
            return run.run_id
        if column == "state":
            return run.state
        if column == "tags":
            return " ".join(run.notes.tags)
        if column == "steps":
            return run.step
        if column in ("peak RAM", "peak VRAM"):
            key = "peak_rss_bytes" if column == "peak RAM" else "peak_vram_bytes"
            return (run.peaks or {}).get(key)
        return self.comparison.value(run, column) if self.comparison else None

    def ordered(self) -> list[RunSummary]:
        c = self.comparison
        if c is None:
            return []
        runs = list(c.runs)
        if self.sort_by is None:
            return runs
        col = self.sort_by
        present = [r for r in runs if self.value(r, col) is not None]
        missing = [r for r in runs if self.value(r, col) is None]  # last, whichever way
        present.sort(key=lambda r: _sort_key(self.value(r, col)), reverse=self.descending)
        return present + missing

    def _fill(self) -> None:
        c = self.comparison
        if c is None:
            return
        table = self.query_one(DataTable)
        table.clear(columns=True)
        best = {m: self._best_run(m) for m in c.metrics}
        for col in self.columns():
            label = col + (" ▼" if col == self.sort_by and self.descending else " ▲" if col == self.sort_by else "")
            table.add_column(label, key=col)
        for run in self.ordered():
            cells: list[Any] = []
            for col in self.columns():
                v = self.value(run, col)
                text = Text(_show(col, v), justify="right" if isinstance(v, int | float) else "left")
                if col in best and best[col] is run:
                    text.append(" ★", style="bold")
                cells.append(text)
            table.add_row(*cells, key=run.run_id)
        params = len(c.params)
        self.query_one("#cmp-status", Label).update(
            f"{len(c.runs)} runs · {params} hyper-parameter{'s' * (params != 1)} differ"
            + (f" · sorted by {self.sort_by} ({'high' if self.descending else 'low'} first)" if self.sort_by else "")
            + " · click a header or s to sort, r to reverse")

    def _best_run(self, metric: str) -> RunSummary | None:
        c = self.comparison
        runs = [r for r in (c.runs if c else []) if metric in r.best]
        if not runs:
            return None
        pick = min if lower_is_better(metric) else max
        return pick(runs, key=lambda r: r.best[metric])

    def sort(self, column: str) -> None:
        if column == self.sort_by:
            self.descending = not self.descending
        else:
            self.sort_by = column
            self.descending = column in (self.comparison.metrics if self.comparison else []) and \
                not lower_is_better(column)
        self._fill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.sort(str(event.column_key.value))

    def action_sort(self) -> None:
        from aba_tui.screens.pick import PickScreen

        def chosen(column: str | None) -> None:
            if column:
                self.sort(column)

        self.app.push_screen(PickScreen("Sort runs by", self.columns(), self.sort_by), chosen)

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._fill()


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) and not isinstance(value, bool) else (1, str(value))


def _show(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in ("peak RAM", "peak VRAM"):
        return fmt.size(value)
    if isinstance(value, float):
        return fmt.number(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
