"""A DataTable that repaints its cells once the columns are re-measured."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets._data_table import RowKey


class MeasuredTable(DataTable):
    """DataTable measures new rows on idle, but cells it already rendered at the old column widths stay
    cached (keyed by an update count that measuring does not bump), so a row could keep showing
    "20…" for a run id. Bumping the count after measuring renders them again at the right width."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()
