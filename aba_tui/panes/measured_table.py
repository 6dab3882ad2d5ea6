"""A DataTable that repaints its cells once the columns are re-measured, and updates a cell without
re-rendering every other one; and which columns of a table fit a width, by priority."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, RowKey

CELL_PAD = 2  # DataTable's cell padding, both sides


def fit_columns(width: int, natural: Mapping[str, int], drop_order: Sequence[str], flex: str,
                flex_min: int) -> tuple[list[str], int | None]:
    """Which columns of a table fit ``width`` cells: the ones in ``drop_order`` go first, in that order,
    then column ``flex`` is cut (down to ``flex_min``). Returns the kept keys (in ``natural``'s order)
    and the width ``flex`` gets (None: its natural width)."""
    shown = list(natural)
    room = width
    for drop in (None, *drop_order):
        if drop is not None and drop in shown:
            shown.remove(drop)
        room = width - sum(natural[k] + CELL_PAD for k in shown if k != flex) - CELL_PAD
        if room >= natural[flex]:
            return shown, None
    return shown, max(flex_min, room)


def cell_len(value: Any) -> int:
    """Cells a table value takes (a rich Text, or anything shown as its str)."""
    return int(value.cell_len) if hasattr(value, "cell_len") else len(str(value))


class MeasuredTable(DataTable):
    """DataTable measures new rows on idle, but cells it already rendered at the old column widths stay
    cached (keyed by an update count that measuring does not bump), so a row could keep showing
    "20…" for a run id. Bumping the count after measuring renders them again at the right width."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()

    def set_cells(self, changes: Sequence[tuple[str, str, Any]]) -> None:
        """`update_cell` for values that fit their columns. DataTable's own bumps the update count that
        keys every render cache, so each 1 Hz step/loss change re-rendered all cells of the table (the
        largest share of the dashboard's idle CPU); this drops only the changed rows' cached renders,
        one pass over each cache for the whole batch, and repaints those rows. Falls back to
        `update_cell` if DataTable's internals differ."""
        if not changes:
            return
        try:
            header = self.get_row_height(self._header_row_key) if self.show_header else 0
            cells, rows = set(), set()
            for row_key, column_key, value in changes:
                rkey, ckey = RowKey(row_key), ColumnKey(column_key)
                self._data[rkey][ckey] = value
                cells.add((rkey, ckey))
                rows.add(rkey)
            lines = {y + header for y, (k, _) in enumerate(self._y_offsets) if k in rows}
            indexes = {i for i in (self._row_locations.get(rkey) for rkey in rows) if i is not None}
            self._evict(self._cell_render_cache, lambda k: (k[0], k[1]) in cells)
            self._evict(self._row_render_cache, lambda k: k[0] in rows)
            self._evict(self._row_renderable_cache, lambda k: k[1] in indexes)
            self._evict(self._line_cache, lambda k: k[0] in lines)
        except (AttributeError, KeyError, TypeError, IndexError):
            for row_key, column_key, value in changes:
                self.update_cell(RowKey(row_key), ColumnKey(column_key), value)
            return
        for index in indexes:
            self.refresh_row(index)

    @staticmethod
    def _evict(cache: Any, stale: Any) -> None:
        keys = cache.keys()  # textual's LRUCache has keys() but no __iter__
        for key in [k for k in keys if stale(k)]:
            cache.discard(key)
