"""Line charts in braille cells (2×4 dots a cell), drawn straight from the already-downsampled points.

No Textual and no plotext here: :func:`layout` turns traces into rows of ``(text, ink)`` runs (ink: a
colour string, or one of the keys ``AXIS``/``TITLE``, or None for blank), and the chart widget maps each
ink to a style once per frame. A 75×12 chart of two 600-point lines takes ~0.9 ms, well under a tenth of
plotext's build plus the ANSI parse of its output (benchmarks/bench_tui_latency.py, idle CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

AXIS = "axis"
TITLE = "title"
# Dot bit of (row, column) inside a braille cell: U+2800 + the OR of the dots set.
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
Row = list[tuple[str, str | None]]


@dataclass
class Line:
    """One polyline (or scatter marks when ``marker`` is set) in one ink."""

    xs: Sequence[float]
    ys: Sequence[float]
    ink: str
    marker: str = ""


@dataclass
class Canvas:
    cols: int
    rows: int
    bits: list[int] = field(init=False)
    ink: list[str | None] = field(init=False)
    marks: dict[int, tuple[str, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.bits = [0] * (self.cols * self.rows)
        self.ink = [None] * (self.cols * self.rows)

    def polyline(self, pts: list[tuple[int, int]], ink: str) -> None:
        """Dots along the segments between consecutive pixel points (the last ink wins a cell)."""
        cols, w, h = self.cols, self.cols * 2, self.rows * 4
        bits, inks, dots = self.bits, self.ink, _DOTS
        prev = pts[0]
        for cur in pts if len(pts) == 1 else pts[1:]:
            x0, y0 = prev
            dx, dy = cur[0] - x0, cur[1] - y0
            n = max(abs(dx), abs(dy))
            for k in range(n + 1):
                px = x0 + (dx * k + (n >> 1)) // n if n else x0
                py = y0 + (dy * k + (n >> 1)) // n if n else y0
                if 0 <= px < w and 0 <= py < h:
                    i = (py >> 2) * cols + (px >> 1)
                    bits[i] |= dots[py & 3][px & 1]
                    inks[i] = ink
            prev = cur

    def mark(self, px: int, py: int, char: str, ink: str) -> None:
        if 0 <= px < self.cols * 2 and 0 <= py < self.rows * 4:
            self.marks[(py >> 2) * self.cols + (px >> 1)] = (char, ink)

    def row(self, r: int) -> Row:
        """Cells of row ``r`` as runs of one ink."""
        out: Row = []
        text: list[str] = []
        cur: str | None = None
        base = r * self.cols
        for c in range(self.cols):
            i = base + c
            m = self.marks.get(i)
            ink: str | None
            if m is not None:
                ch, ink = m
            elif self.bits[i]:
                ch, ink = chr(0x2800 + self.bits[i]), self.ink[i]
            else:
                ch, ink = " ", None
            if ink != cur and text:
                out.append(("".join(text), cur))
                text = []
            cur = ink
            text.append(ch)
        if text:
            out.append(("".join(text), cur))
        return out


def tick(v: float) -> str:
    """A short axis label: 4 significant digits, scientific only for very small or big values."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        return f"{v:.4g}"
    return f"{v:.2e}".replace("e-0", "e-").replace("e+0", "e")


def _span(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo <= abs(hi) * 1e-12:
        pad = abs(hi) * 0.05 or 0.5
        return lo - pad, hi + pad
    return lo, hi


def layout(width: int, height: int, title: str, lines: list[Line], log_y: bool = False) -> list[Row]:
    """The chart as ``height`` rows of ``width`` cells: a title, y labels and axis, the plot, x labels."""
    rows: list[Row] = [[(title[:width].center(width), TITLE)]]
    if height < 5 or width < 16:
        return rows + [[(" " * width, None)] for _ in range(height - 1)]

    # Each line's finite points, y already on the axis scale (log10 for a log axis): computed once and
    # used for both the spans and the pixels (the chart redraws every second while a run logs).
    isfinite, log10 = math.isfinite, math.log10
    pairs = [[(x, log10(y) if log_y else y) for x, y in zip(ln.xs, ln.ys, strict=False)
              if isfinite(x) and isfinite(y) and (y > 0 or not log_y)] for ln in lines]
    xs_all = [x for pts in pairs for x, _ in pts]
    ys_all = [y for pts in pairs for _, y in pts]
    if not xs_all:
        return rows + [[(" " * width, None)] for _ in range(height - 1)]
    x0, x1 = _span(xs_all)
    y0, y1 = _span(ys_all)
    plot_rows = height - 3
    n_ticks = max(2, min(5, plot_rows // 3 + 1))
    tick_rows = sorted({round(i * (plot_rows - 1) / (n_ticks - 1)) for i in range(n_ticks)})

    def yval(r: int) -> float:  # top row: the highest value, bottom row: the lowest
        t = y1 - r / (plot_rows - 1) * (y1 - y0)
        return 10**t if log_y else t

    labels = {r: tick(yval(r)) for r in tick_rows}
    lw = max(len(s) for s in labels.values()) + 1
    cols = width - lw - 1
    canvas = Canvas(cols, plot_rows)
    w, h = cols * 2 - 1, plot_rows * 4 - 1
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    for ln, finite in zip(lines, pairs, strict=True):
        pts: list[tuple[int, int]] = []
        for x, t in finite:
            p = (int((x - x0) * sx + 0.5), int((y1 - t) * sy + 0.5))
            if not pts or p != pts[-1]:  # many points share a pixel once a run is long
                pts.append(p)
        if not pts:
            continue
        if ln.marker:
            for px, py in pts:
                canvas.mark(px, py, ln.marker, ln.ink)
        else:
            canvas.polyline(pts, ln.ink)
    for r in range(plot_rows):
        label = labels.get(r)
        head = (label.rjust(lw - 1) + " ┤") if label is not None else (" " * lw + "│")
        rows.append([(head, AXIS), *canvas.row(r)])
    rows.append([(" " * lw + "└" + "─" * cols, AXIS)])
    left, mid, right = tick(x0), tick((x0 + x1) / 2), tick(x1)
    xl = [" "] * cols
    for pos, s in ((0, left), (max(0, (cols - len(mid)) // 2), mid), (max(0, cols - len(right)), right)):
        for k, ch in enumerate(s):
            if pos + k < cols:
                xl[pos + k] = ch
    rows.append([(" " * (lw + 1) + "".join(xl), AXIS)])
    return rows
