"""The abliteration study's scatter: KL (x) against refusals (y), one mark a trial, the Pareto front
and the chosen trial marked. Plain text cells (no plotting library): a few dozen trials draw in well
under a millisecond, so the screen redraws on every new trial."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

TRIAL, FRONT, CHOSEN = "·", "●", "★"


def scatter(points: Sequence[tuple[int, float, float]], front: set[int], chosen: int | None,
            width: int = 48, height: int = 12) -> list[str]:
    """(trial, kl, refusals) → text rows (y axis label column, plot, x axis and its labels)."""
    if not points:
        return ["no finished trials yet"]
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(ys)
    x1 = x1 if x1 > x0 else x0 + 1e-9
    y1 = y1 if y1 > y0 else y0 + 1.0
    grid = [[" "] * width for _ in range(height)]
    rank = {TRIAL: 0, FRONT: 1, CHOSEN: 2}
    for number, x, y in points:
        c = min(width - 1, int((x - x0) / (x1 - x0) * (width - 1) + 0.5))
        r = height - 1 - min(height - 1, int((y - y0) / (y1 - y0) * (height - 1) + 0.5))
        mark = CHOSEN if number == chosen else FRONT if number in front else TRIAL
        if rank[mark] >= rank.get(grid[r][c], -1):
            grid[r][c] = mark
    label_w = max(len(f"{y1:g}"), len(f"{y0:g}"))
    rows = []
    for i, row in enumerate(grid):
        label = f"{y1:g}" if i == 0 else f"{y0:g}" if i == height - 1 else ""
        rows.append(f"{label:>{label_w}} │" + "".join(row))
    rows.append(" " * label_w + " └" + "─" * width)
    left, right = f"{x0:.3g}", f"{x1:.3g}"
    rows.append(" " * (label_w + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    rows.append(" " * (label_w + 2) + f"KL →   refusals ↑   {TRIAL} trial  {FRONT} Pareto front  {CHOSEN} chosen")
    return rows


def render(rows: list[str]) -> Text:
    text = Text()
    for row in rows:
        for ch in row:
            style = "bold yellow" if ch == CHOSEN else "bold green" if ch == FRONT else ""
            text.append(ch, style=style)
        text.append("\n")
    return text
