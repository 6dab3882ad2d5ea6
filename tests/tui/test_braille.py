"""The braille chart layout (aba_tui.panes.braille): no Textual, exact cells."""

from __future__ import annotations

from aba_tui.panes.braille import AXIS, TITLE, Canvas, Line, layout, tick


def _text(row) -> str:
    return "".join(t for t, _ in row)


def test_canvas_dots_lines_and_last_ink_wins():
    c = Canvas(2, 1)
    c.polyline([(0, 0), (0, 3)], "a")  # the left column of cell 0, top to bottom
    assert c.row(0) == [("⡇", "a"), (" ", None)]
    c.polyline([(0, 3), (3, 0)], "b")  # a diagonal into cell 1, drawn over cell 0
    assert c.row(0)[0][1] == "b" and c.row(0)[0][0] != "⡇" and c.bits[1]
    c.mark(3, 3, "×", "c")
    assert c.row(0)[-1] == ("×", "c")


def test_layout_has_title_axes_labels_and_every_row_the_full_width():
    lines = [Line([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0], "#ff0000"), Line([2, 4], [3.5, 1.5], "#00ff00", marker="×")]
    rows = layout(40, 12, "loss  (4 pts)", lines)
    assert len(rows) == 12 and all(len(_text(r)) == 40 for r in rows)
    assert rows[0] == [("loss  (4 pts)".center(40), TITLE)]
    assert _text(rows[1]).lstrip().startswith("4 ┤") and _text(rows[-3]).lstrip().startswith("1 ┤")
    assert "└" in _text(rows[-2]) and _text(rows[-1]).split() == ["1", "2.5", "4"]
    inks = {ink for r in rows for _t, ink in r}
    assert {"#ff0000", "#00ff00", AXIS} <= inks
    assert sum(_text(r).count("×") for r in rows) == 2
    # The descending line starts top-left and ends bottom-right.
    plot = [r for r in rows[1:-2]]
    first_red = next(i for i, r in enumerate(plot) if any(ink == "#ff0000" for _t, ink in r))
    last_red = max(i for i, r in enumerate(plot) if any(ink == "#ff0000" for _t, ink in r))
    assert first_red == 0 and last_red == len(plot) - 1


def test_log_scale_nonfinite_and_degenerate_ranges():
    rows = layout(40, 10, "t", [Line([1, 2, 3], [1e-4, 1e-2, 1.0], "x")], log_y=True)
    assert _text(rows[1]).strip().startswith("1 ┤") and "1.00e-4 ┤" in _text(rows[-3])
    rows = layout(40, 10, "t", [Line([5, 6], [float("nan"), 2.0], "x")])  # one finite point, flat range
    assert any(ink == "x" for r in rows for _t, ink in r)
    assert layout(40, 10, "empty", []) == [[("empty".center(40), TITLE)]] + [[(" " * 40, None)]] * 9
    assert tick(0.5) == "0.5" and tick(123456.0) == "1.23e5" and tick(0) == "0"
