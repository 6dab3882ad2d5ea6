"""Which columns of a table fit a width, by priority; the cells a value takes. No Textual import: the runs
list needs these before the first frame, the DataTable they were written beside is not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
