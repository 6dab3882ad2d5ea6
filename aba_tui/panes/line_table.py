"""A row-cursor table drawn with Textual's Line API: each row is one Strip built straight from its cells'
strings with cached Styles, and a row whose cells changed repaints its own line only.

DataTable renders every changed cell through rich (Text → padding → Segments) and keys its caches on a
table-wide update count; a live list whose rows all move once a second paid that for every cell. Here a
row is a tuple of ``(text, style name)`` cells: an unchanged row reuses its Strip, a changed one is
rebuilt by joining padded strings (no rich rendering) and only its line is refreshed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, str]  # the text, and a style name the subclass resolves ("" for none)
Row = tuple[Cell, ...]
PAD = 1  # blank cells either side of a column's text, as DataTable draws them


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    right: bool = False  # justified right (numbers)


class LineTable(ScrollView, can_focus=True):
    """Rows keyed by a string: the columns shown set by `set_columns`, the rows by `set_rows`. The header
    stays put while the rows scroll; the cursor is a whole row and stays on its key as rows come and go."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"line-table--header", "line-table--cursor", "line-table--hover"}
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .line-table--header { background-tint: $foreground 5%; }
        }
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .line-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .line-table--hover { background: $block-hover-background; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to another row (``key`` None: the table is empty)."""

        def __init__(self, table: LineTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.all_columns = tuple(columns)
        self._shown: tuple[int, ...] = tuple(range(len(columns)))
        self._fixed: dict[str, int] = {}  # columns cut to a width (with an ellipsis), not fitted to their cells
        self._widths: list[int] = [0] * len(columns)  # text width of each column (shown or not)
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._rows: dict[str, Row] = {}
        self._cursor = 0
        self._hover: int | None = None  # the row under the mouse, once it moved
        self._strips: dict[str, tuple[tuple[Any, ...], Strip]] = {}  # key → (what it was built from, strip)
        self._header: tuple[tuple[Any, ...], Strip] | None = None
        self._epoch: tuple[Any, ...] = ()
        self._base = Style.null()  # the widget's own style (DOMNode.rich_style walks the ancestors)
        self._styles: dict[tuple[str, str], Style] = {}  # (row kind, style name) → the cell's Style
        self.rows_rendered = 0  # rows built into strips (tests: an unchanged row is not rebuilt)

    # -- what a subclass supplies ----------------------------------------------------------------
    def resolve_style(self, name: str) -> Style:
        """The Style a cell's style name stands for (resolved again when the theme or focus changes)."""
        return Style.parse(name) if name else Style.null()

    # -- contents ------------------------------------------------------------------------------------
    @property
    def order(self) -> tuple[str, ...]:
        return tuple(self._order)

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def shown(self) -> tuple[str, ...]:
        return tuple(self.all_columns[i].key for i in self._shown)

    @property
    def labels(self) -> list[str]:
        return [self.all_columns[i].label for i in self._shown]

    def column_width(self, key: str) -> int:
        """Cells the column ``key`` takes on screen, its padding included."""
        i = next(i for i, c in enumerate(self.all_columns) if c.key == key)
        return self._widths[i] + 2 * PAD

    @property
    def table_width(self) -> int:
        return sum(self._widths[i] + 2 * PAD for i in self._shown)

    def get_row(self, key: str) -> list[str]:
        """The shown columns' texts of row ``key``."""
        row = self._rows[key]
        return [row[i][0] for i in self._shown]

    def set_columns(self, shown: Sequence[str], fixed: Mapping[str, int]) -> None:
        """Show the columns ``shown``; those in ``fixed`` get that text width (cut with an ellipsis)."""
        self._shown = tuple(i for i, c in enumerate(self.all_columns) if c.key in shown)
        self._fixed = dict(fixed)
        self._measure(grow=False)

    def set_rows(self, order: Sequence[str], rows: Mapping[str, Row]) -> None:
        """Rows in ``order``. Rows that came or went re-measure the columns and repaint the table; else
        only the rows whose cells changed are rebuilt and repainted (a column a cell outgrew widens)."""
        if list(order) != self._order:
            current = self.current_key
            self._order = list(order)
            self._index = {k: i for i, k in enumerate(order)}
            self._rows = {k: rows[k] for k in order}
            self._measure(grow=False)
            self._cursor = self._index.get(current, min(self._cursor, max(0, len(order) - 1))) \
                if current is not None else 0
            self._scroll_to_cursor()
            if self.current_key != current:
                self.post_message(self.Highlighted(self, self.current_key))
            return
        changed = [k for k in order if rows[k] != self._rows[k]]
        if not changed:
            return
        for k in changed:
            self._rows[k] = rows[k]
        if self._measure(grow=True):
            return  # a column widened: every line was repainted
        top = self.scroll_offset.y
        for k in changed:
            y = self._index[k]
            if top <= y < top + self._visible_rows():
                self.refresh_line(y + 1)

    def _measure(self, grow: bool) -> bool:
        """Fit the columns' widths to their label and cells (``grow``: only ever wider, as a live row's
        numbers come and go). True when the layout changed (then the whole table is repainted)."""
        widths = []
        for i, col in enumerate(self.all_columns):
            if col.key in self._fixed:
                widths.append(self._fixed[col.key])
                continue
            natural = max([cell_len(col.label), *(cell_len(r[i][0]) for r in self._rows.values())])
            widths.append(max(natural, self._widths[i]) if grow else natural)
        if grow and widths == self._widths:
            return False
        self._widths = widths
        self._strips.clear()
        self._header = None
        self.virtual_size = Size(self.table_width, len(self._order) + 1)
        self.refresh()
        return True

    # -- the cursor ------------------------------------------------------------------------------------
    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def current_key(self) -> str | None:
        return self._order[self._cursor] if 0 <= self._cursor < len(self._order) else None

    def move_cursor(self, row: int) -> None:
        row = max(0, min(row, len(self._order) - 1))
        if row == self._cursor or not self._order:
            self._scroll_to_cursor()
            return
        old, self._cursor = self._cursor, row
        self.refresh_line(old + 1)
        self.refresh_line(row + 1)
        self._scroll_to_cursor()
        self.post_message(self.Highlighted(self, self.current_key))

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # below the header

    def _scroll_to_cursor(self) -> None:
        top, seen = self.scroll_offset.y, self._visible_rows()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + seen:
            self.scroll_to(y=self._cursor - seen + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self._hover_off()
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._hover_off()
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._hover_off()
        self.move_cursor(self._cursor - self._visible_rows())

    def action_page_down(self) -> None:
        self._hover_off()
        self.move_cursor(self._cursor + self._visible_rows())

    def action_first(self) -> None:
        self._hover_off()
        self.move_cursor(0)

    def action_last(self) -> None:
        self._hover_off()
        self.move_cursor(len(self._order) - 1)

    # -- the mouse -------------------------------------------------------------------------------------
    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None  # outside, or the header
        row = offset.y - 1 + self.scroll_offset.y
        return row if row < len(self._order) else None

    def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is not None:
            self.move_cursor(row)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._row_at(event))

    def on_leave(self, _event: events.Leave) -> None:
        self._hover_off()

    def _hover_off(self) -> None:
        self._set_hover(None)

    def _set_hover(self, row: int | None) -> None:
        if row == self._hover:
            return
        for y in (self._hover, row):
            if y is not None:
                self.refresh_line(y + 1)
        self._hover = row

    # -- drawing ---------------------------------------------------------------------------------------
    def render_lines(self, crop: Any) -> list[Strip]:
        # Styles hang on the theme and on focus: re-resolved when either changed, once per paint.
        epoch = (self.app.theme, self.rich_style, self.get_component_rich_style("line-table--header"),
                 self.get_component_rich_style("line-table--cursor"),
                 self.get_component_rich_style("line-table--hover"))
        if epoch != self._epoch:
            self._epoch = epoch
            self._base = epoch[1]
            self._styles.clear()
            self._strips.clear()
            self._header = None
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self._base
        if y == 0:
            strip = self._header_strip(width)
        else:
            index = y - 1 + scroll_y
            if index >= len(self._order):
                return Strip.blank(width, base)
            strip = self._row_strip(index, width)
        if scroll_x or strip.cell_length != width:
            strip = strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, base)
        return strip

    def _style(self, kind: str, name: str) -> Style:
        """A cell's Style on a row of ``kind`` ("row", "cursor", "hover"), as DataTable composes it: the
        widget's, the cursor's or hover's, the cell's own, and the cursor's colour over it all."""
        key = (kind, name)
        style = self._styles.get(key)
        if style is None:
            base = self.rich_style
            if kind == "header":
                style = base + self.get_component_rich_style("line-table--header")
            elif kind == "row":
                style = base + self.resolve_style(name)
            else:
                component = self.get_component_rich_style(f"line-table--{kind}")
                style = base + component + self.resolve_style(name)
                if kind == "cursor" and component.color is not None:
                    style += Style(color=component.color)
            self._styles[key] = style
        return style

    def _header_strip(self, width: int) -> Strip:
        if self._header is None or self._header[0] != (width,):
            cells = [((self.all_columns[i].label, ""), i) for i in self._shown]
            self._header = ((width,), self._build(cells, "header", width))
        return self._header[1]

    def _row_strip(self, index: int, width: int) -> Strip:
        key = self._order[index]
        row = self._rows[key]
        kind = "cursor" if index == self._cursor else "hover" if index == self._hover else "row"
        made_of = (row, kind, width)
        cached = self._strips.get(key)
        if cached is not None and cached[0] == made_of:
            return cached[1]
        strip = self._build([(row[i], i) for i in self._shown], kind, width)
        self._strips[key] = (made_of, strip)
        self.rows_rendered += 1
        return strip

    def _build(self, cells: list[tuple[Cell, int]], kind: str, width: int) -> Strip:
        pad = " " * PAD
        segments: list[Segment] = []
        plain = self._style(kind, "")
        for (text, name), i in cells:
            w = self._widths[i]
            size = cell_len(text)
            left = right = pad
            if size > w:
                text = set_cell_size(text, w - 1) + "…" if w > 1 else set_cell_size(text, w)
            elif size < w:  # labels left, as DataTable draws them
                fill = " " * (w - size)
                if self.all_columns[i].right and kind != "header":
                    left += fill
                else:
                    right = fill + pad
            segments += (Segment(left, plain), Segment(text, self._style(kind, name)), Segment(right, plain))
        room = width - self.table_width
        if room > 0:
            segments.append(Segment(" " * room, plain))
        return Strip(segments).simplify()
