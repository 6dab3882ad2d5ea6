"""A DataTable that repaints its cells once the columns are re-measured; and which columns of a table
fit a width, by priority."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets._data_table import RowKey

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
