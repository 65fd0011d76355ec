"""A table that holds many rows and draws only the visible ones (Textual's Line API).

Rows are records in a keyed store; the table asks the view for a record's cells only when it
draws the record's line (and once on insert, to size the columns). The display order is a
list of ``(sort value, key)`` kept sorted with ``bisect``: an insert, update or removal finds
its place in O(log n) comparisons and moves the rest with one C ``memmove`` (microseconds at
100,000 rows), where DataTable re-sorts and renumbers every row. A change redraws its own line
when it is on screen, the visible window when it moves rows on screen, and nothing otherwise.

The cursor is a key: it stays on its row while other rows come and go, and moves to the row
that took its place when its own row goes. Filter (a predicate over records) and sort by a
column keep the same structure. Cells are Rich ``Text`` or plain strings, drawn as they are
(a string is never parsed as markup).

It looks like DataTable with ``cursor_type="row"`` and zebra stripes: same widths (content,
plus one cell of padding each side), same component styles, same cursor colours.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from .row_styles_cache import RowStylesCache
from .scroll_size import set_virtual_size
from .steady_scrollbar import steady_vertical_scrollbar


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # Sort value of a record when the user sorts by this column; None: the cell's plain text.
    sort: Callable[[Any], Any] | None = None
    # Content width fixed in advance, for a column whose text changes with time (an age): the
    # widths of the others are the widest of their cells, kept up to date on every change.
    width: int | None = None
    # The least content width, for a column of a few words that take turns (a status): a step
    # going from "pending" to "executed" then does not widen it and redraw every line.
    min_width: int = 0


def as_text(cell: Any) -> Text:
    if isinstance(cell, Text):
        return cell
    return Text("" if cell is None else str(cell))


def plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else ("" if cell is None else str(cell))


def text_width(cell: Any) -> int:
    """Cells of a one-line row's cell as DataTable measures it: a string by its first line
    (the rest is never shown), a Text by its widest line."""
    if isinstance(cell, Text):
        text = cell.plain
        if "\n" in text:
            return max(map(cell_len, text.splitlines()), default=0)
        return cell_len(text)
    text = "" if cell is None else str(cell)
    return cell_len(text.split("\n", 1)[0] if "\n" in text else text)


def cell_width(cell: Any) -> int:
    """``text_width``; a string of printable ASCII (nearly every cell) is its length, two C
    calls instead of rich's measure."""
    if isinstance(cell, str) and cell.isascii() and cell.isprintable():
        return len(cell)
    return text_width(cell)


def column_widths(cells: Sequence[Any]) -> Sequence[int]:
    """``cell_width`` of each of a column's cells; a column of strings that are all printable
    ASCII (checked on their concatenation) is their lengths, with no Python call per cell."""
    try:
        joined = "".join(cells)
    except TypeError:  # not all strings
        joined = None
    if joined is not None and joined.isascii() and joined.isprintable():
        return list(map(len, cells))
    return list(map(cell_width, cells))


LINE_CACHE = 512  # drawn rows kept: a few screens' worth
BULK_MIN = 256  # more changes than this (and than a quarter of the rows): re-sort once


class VirtualTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even-row",
        "virtual-table--odd-row",
    }
    # DataTable's look, so both tables read the same in both themes.
    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .virtual-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .virtual-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark {
            & > .virtual-table--even-row {
                background: $surface-darken-1 40%;
            }
        }
        & > .virtual-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .virtual-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .virtual-table--odd-row {
        }
        & > .virtual-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table-up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="table-page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table-page-down"),
        Binding("home,g", "top", "Top", show=False, id="table-top"),
        Binding("end,G", "bottom", "Bottom", show=False, id="table-bottom"),
        Binding("enter", "select", "Select", show=False, id="table-select"),
        Binding("s", "sort_next", "Sort by next column", show=False, id="table-sort",
                tooltip="Sort by the next column (after the last: the view's own order)"),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="table-sort-reverse",
                tooltip="Reverse the sort order"),
    ]

    class Highlighted(Message):
        """The cursor is on another row (``key`` None: the table is empty)."""

        def __init__(self, table: "VirtualTable", key: str | None):
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    class Selected(Message):
        """Enter (or a click on the cursor's row)."""

        def __init__(self, table: "VirtualTable", key: str):
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    def __init__(self, columns: Sequence[Column], cells: Callable[[Any], Sequence[Any]],
                 order: Callable[[Any], Any], *, reverse: bool = False, zebra_stripes: bool = True,
                 cell_padding: int = 1, texts: Callable[[Any], Sequence[str]] | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None):
        """``cells(record)`` gives a record's cells in column order; ``order(record)`` its place
        in the view's own order (``reverse`` for descending); keys break ties. ``texts(record)``,
        when given, is the cells' plain text, cheaper than the cells to size the columns."""
        super().__init__(name=name, id=id, classes=classes)
        self._styles_cache = RowStylesCache()
        self.columns = list(columns)
        self._cells = cells
        self._texts = texts
        self._order_of = order
        self._default_reverse = reverse
        self.zebra_stripes = zebra_stripes
        self.cell_padding = cell_padding
        self._records: dict[str, Any] = {}
        self._order: list[tuple[Any, str]] = []  # ascending (sort value, key)
        self._shown: list[tuple[Any, str]] | None = None  # the filtered subset, same order
        self._filter: Callable[[Any], bool] | None = None
        self.sort_column: str | None = None  # None: the view's order
        self.sort_reverse = reverse
        self._width_counts = [Counter() for _ in self.columns]
        self._row_widths: dict[str, tuple[int, ...]] = {}  # what each row added to the counts
        self._widths = [0] * len(self.columns)
        self._cursor_key: str | None = None
        self._styles: dict[str, Style] | None = None
        self._cached_styles: dict[str, Style] | None = None
        # key -> (the record it was drawn from, the column geometry, its cells drawn before the
        # row's style, {(stripe, cursor, scroll_x, width): strip})
        self._lines: dict[str, tuple[Any, int, list, dict[tuple, Strip]]] = {}
        self._geometry = 0  # bumped when column widths or labels change
        # (styles, width, scroll_x, scroll_y, blank line) while render_lines draws
        self._pass: tuple[dict[str, Style], int, int, int, Strip] | None = None
        self._blank: tuple[tuple[int, Style], Strip] | None = None
        self._recompute_widths_of_labels()

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        return steady_vertical_scrollbar(self)

    # -- reading --------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self._visible)

    @property
    def total_count(self) -> int:
        return len(self._records)

    @property
    def current_key(self) -> str | None:
        return self._cursor_key

    @property
    def cursor_row(self) -> int:
        index = self.get_row_index(self._cursor_key) if self._cursor_key is not None else None
        return 0 if index is None else index

    def record(self, key: str) -> Any:
        return self._records.get(key)

    def key_at(self, index: int) -> str:
        visible = self._visible
        n = len(visible)
        if not 0 <= index < n:
            raise IndexError(index)
        return visible[n - 1 - index if self.sort_reverse else index][1]

    def get_row_index(self, key: str) -> int | None:
        """Display index of ``key``, None when it is not shown; O(log n)."""
        record = self._records.get(key)
        if record is None:
            return None
        entry = (self._sort_value(record), key)
        visible = self._visible
        i = bisect_left(visible, entry)
        if i == len(visible) or visible[i] != entry:
            return None
        return len(visible) - 1 - i if self.sort_reverse else i

    def keys(self) -> list[str]:
        """Every shown key in display order (O(n): for tests and small tables)."""
        keys = [key for _value, key in self._visible]
        return keys[::-1] if self.sort_reverse else keys

    def cell(self, key: str, column: str) -> Text:
        index = [c.key for c in self.columns].index(column)
        return as_text(self._cells(self._records[key])[index])

    @property
    def _visible(self) -> list[tuple[Any, str]]:
        return self._order if self._shown is None else self._shown

    # -- changing -------------------------------------------------------------------------------

    def replace(self, rows: Mapping[str, Any]) -> None:
        """Show exactly ``rows`` (key -> record): unchanged records are left alone."""
        changes: dict[str, Any] = {key: None for key in self._records if key not in rows}
        changes.update(rows)
        if not self._records and len(rows) > 64:
            self._load(rows)
        else:
            self.update(changes)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``key -> record`` (None removes); a record equal to the shown one is skipped."""
        if len(changes) > max(BULK_MIN, len(self._records) // 4):
            self._bulk(changes)
            return
        before_key, before_index, count_before = self._cursor_key, self.cursor_row, len(self._visible)
        top, rows_on_screen = self._window()
        bottom = top + rows_on_screen
        lines: set[int] = set()
        widths_changed = False
        moved_from: int | None = None  # the first display index whose row moved (None: none did)

        def moved(index: int | None) -> None:
            nonlocal moved_from
            if index is not None and index < bottom:
                moved_from = index if moved_from is None else min(moved_from, index)

        for key, new in changes.items():
            old = self._records.get(key)
            if new is None and old is None:
                continue
            if old is not None and new is not None and (old is new or old == new):
                continue
            old_entry = None if old is None else (self._sort_value(old), key)
            new_entry = None if new is None else (self._sort_value(new), key)
            where = self._display_index_of_entry(old_entry) if old_entry is not None else None
            stays = (old_entry is not None and new_entry is not None and old_entry == new_entry
                     and (self._filter is None or self._filter(new)))
            if stays and where is not None:  # same place: only its line changes
                self._records[key] = new
                widths_changed |= self._count_widths(key, old, -1) | self._count_widths(key, new, +1)
                if top <= where < bottom:
                    lines.add(where)
                continue
            if old is not None:
                widths_changed |= self._count_widths(key, old, -1)
                self._remove_entry(old_entry)
                del self._records[key]
                moved(where)
            if new is not None:
                self._records[key] = new
                widths_changed |= self._count_widths(key, new, +1)
                self._insert_entry(new_entry, new)
                moved(self._display_index_of_entry(new_entry))
        redraw_all = widths_changed and self._recompute_widths()  # the header and every line
        if moved_from is not None:
            # A row added or removed at display index i moves the rows from i on and no row
            # above it: only those lines are drawn again (a create at the bottom is one line).
            # Below the last row (before or after) the lines stay blank.
            lines.update(range(max(moved_from, top), min(bottom, max(count_before, len(self._visible)))))
        self._after_change(before_key, before_index, redraw_all, lines)

    def redraw(self, keys: Iterable[str] | None = None) -> None:
        """Cells changed without their records (theme, marks, a journal): size and draw them
        again; ``keys``: only those rows."""
        if keys is None:
            self._lines.clear()
            self._width_counts = [Counter() for _ in self.columns]
            self._row_widths = {}
            self._count_all_widths(self._records)
            self._recompute_widths()
            self._styles = None
            self._set_virtual_size()
            self.refresh()
            return
        top, rows_on_screen = self._window()
        widths_changed = False
        for key in keys:
            record = self._records.get(key)
            if record is None:
                continue
            self._lines.pop(key, None)
            widths_changed |= self._count_widths(key, record, -1) | self._count_widths(key, record, +1)
            index = self.get_row_index(key)
            if index is not None and top <= index < top + rows_on_screen:
                self.refresh_line(index + 1)
        if widths_changed and self._recompute_widths():
            self._set_virtual_size()
            self.refresh()

    def _bulk(self, changes: Mapping[str, Any]) -> None:
        """Many changes at once (a list, a relist): one sort of everything instead of an insort
        each, whose memmoves add up to O(n^2) for tens of thousands of rows."""
        before_key, before_index = self._cursor_key, self.cursor_row
        records = self._records
        gone, added = [], {}
        for key, new in changes.items():
            old = records.get(key)
            if old is not None and (new is None or not (old is new or old == new)):
                gone.append(key)
                del records[key]
            if new is not None and key not in records:
                records[key] = added[key] = new
        self._uncount_widths(gone)
        self._count_all_widths(added)
        sort_value = self._sort_value
        self._order = sorted((sort_value(record), key) for key, record in records.items())
        self._apply_filter()
        self._recompute_widths()
        self._after_change(before_key, before_index, True, ())

    def _load(self, rows: Mapping[str, Any]) -> None:
        """Everything at once into an empty table: one sort instead of n inserts."""
        sort_value = self._sort_value
        self._records = dict(rows)
        self._order = sorted((sort_value(record), key) for key, record in self._records.items())
        self._count_all_widths(self._records)
        self._recompute_widths()
        self._apply_filter()
        self._after_change(None, 0, True, ())

    # -- filter and sort ------------------------------------------------------------------------

    def set_filter(self, predicate: Callable[[Any], bool] | None, narrower: bool = False) -> None:
        """Show only records for which ``predicate`` holds; ``narrower``: it admits no record
        the previous one rejected (a longer search text), so only shown rows are tested."""
        before_key, before_index = self._cursor_key, self.cursor_row
        previous = self._shown
        self._filter = predicate
        self._apply_filter(previous if narrower and previous is not None else None)
        self._after_change(before_key, before_index, True, ())

    def filter_by_text(self, before: str, text: str, matches: Callable[[Any, str], bool]) -> None:
        """A search box's filter: ``matches(record, needle)`` with the lower-cased, stripped
        text; typing on (the new text extends the old) tests only the rows still shown."""
        previous, needle = before.lower().strip(), text.lower().strip()
        if not needle:
            self.set_filter(None)
        else:
            self.set_filter(lambda record: matches(record, needle),
                            narrower=bool(previous) and needle.startswith(previous))

    def _apply_filter(self, among: list | None = None) -> None:
        predicate, records = self._filter, self._records
        if predicate is None:
            self._shown = None
        else:
            self._shown = [entry for entry in (self._order if among is None else among)
                           if predicate(records[entry[1]])]

    def sort_by(self, column: str | None, reverse: bool | None = None) -> None:
        """Sort by ``column`` (None: the view's own order); the cursor stays on its row."""
        if column is not None and column not in [c.key for c in self.columns]:
            raise KeyError(column)
        before_key, before_index = self._cursor_key, self.cursor_row
        self.sort_column = column
        self.sort_reverse = self._default_reverse if reverse is None and column is None else bool(reverse)
        sort_value = self._sort_value
        self._order = sorted((sort_value(record), key) for key, record in self._records.items())
        self._apply_filter()
        self._recompute_widths_of_labels()
        self._recompute_widths()
        self._after_change(before_key, before_index, True, ())

    def _sort_value(self, record: Any) -> Any:
        if self.sort_column is None:
            return self._order_of(record)
        index = [c.key for c in self.columns].index(self.sort_column)
        column = self.columns[index]
        value = column.sort(record) if column.sort is not None else plain(self._cells(record)[index])
        return value, self._order_of(record)

    # -- bookkeeping ------------------------------------------------------------------------------

    def _insert_entry(self, entry: tuple, record: Any) -> None:
        insort(self._order, entry)
        if self._shown is not None and self._filter(record):
            insort(self._shown, entry)

    def _remove_entry(self, entry: tuple) -> None:
        for entries in (self._order, self._shown):
            if entries is None:
                continue
            i = bisect_left(entries, entry)
            if i < len(entries) and entries[i] == entry:
                del entries[i]

    def _display_index_of_entry(self, entry: tuple) -> int | None:
        visible = self._visible
        i = bisect_left(visible, entry)
        if i == len(visible) or visible[i] != entry:
            return None
        return len(visible) - 1 - i if self.sort_reverse else i

    def _measure(self, record: Any) -> tuple[int, ...]:
        cells = self._texts(record) if self._texts is not None else self._cells(record)
        widths = tuple(map(cell_width, cells))
        n = len(self.columns)
        return widths if len(widths) == n else (widths + (0,) * n)[:n]

    def _count_all_widths(self, records: Mapping[str, Any]) -> None:
        """``_count_widths(key, record, +1)`` for many rows (a listing): each row measured once,
        the counts taken per column in one C pass."""
        if not records:
            return
        texts = self._texts if self._texts is not None else self._cells
        cells = [texts(record) for record in records.values()]
        n = len(self.columns)
        if set(map(len, cells)) == {n}:
            by_column = [column_widths(column) for column in zip(*cells, strict=True)]
            rows = list(zip(*by_column, strict=True))
        else:  # rows of other lengths: row by row
            rows = [self._measure(record) for record in records.values()]
            by_column = list(zip(*rows, strict=True))
        self._row_widths.update(zip(records, rows, strict=True))
        for index, (column, widths) in enumerate(zip(self.columns, by_column, strict=True)):
            if column.width is None:
                self._width_counts[index].update(widths)

    def _uncount_widths(self, keys: Sequence[str]) -> None:
        """``_count_widths(key, record, -1)`` for many rows."""
        pop = self._row_widths.pop
        rows = [widths for widths in (pop(key, None) for key in keys) if widths is not None]
        if not rows:
            return
        for index, (column, widths) in enumerate(zip(self.columns, zip(*rows, strict=True), strict=True)):
            if column.width is None:
                counts = self._width_counts[index]
                counts.subtract(widths)
                for width in [w for w, n in counts.items() if n <= 0]:
                    del counts[width]

    def _count_widths(self, key: str, record: Any, sign: int) -> bool:
        """Add a record's cell widths (kept per key), or take away the ones counted for ``key``;
        True when a column's width may change."""
        if sign > 0:
            widths = self._row_widths[key] = self._measure(record)
        else:
            widths = self._row_widths.pop(key, None)
            if widths is None:
                return False
        changed = False
        for index, column in enumerate(self.columns):
            if column.width is not None:
                continue
            width = widths[index]
            counts = self._width_counts[index]
            counts[width] += sign
            if sign > 0:
                changed |= width > self._widths[index]
            else:
                if not counts[width]:
                    del counts[width]
                changed |= width >= self._widths[index]
        return changed

    def _recompute_widths_of_labels(self) -> None:
        self._label_widths = [text_width(self._label(column)) for column in self.columns]

    def _recompute_widths(self) -> bool:
        """True when a column's width changed."""
        before = list(self._widths)
        for index, column in enumerate(self.columns):
            cells = column.width if column.width is not None else max(self._width_counts[index], default=0)
            self._widths[index] = max(cells, self._label_widths[index], column.min_width)
        if self._widths != before:
            self._geometry += 1
            return True
        return False

    def _label(self, column: Column) -> str:
        if column.key != self.sort_column:
            return column.label
        return f"{column.label} {'▼' if self.sort_reverse else '▲'}"

    def _window(self) -> tuple[int, int]:
        """First display index on screen and how many rows fit."""
        return int(self.scroll_y), max(0, self.scrollable_content_region.height - 1)

    def _set_virtual_size(self) -> None:
        width = sum(self._widths) + 2 * self.cell_padding * len(self.columns)
        set_virtual_size(self, Size(width, len(self._visible) + 1))

    def _after_change(self, before_key: str | None, before_index: int, moved: bool, lines: Iterable[int]) -> None:
        count = len(self._visible)
        key = before_key
        if key is None or self.get_row_index(key) is None:
            key = self.key_at(min(before_index, count - 1)) if count else None
        self._cursor_key = key
        self._set_virtual_size()
        if key is not None:
            self._scroll_to_row(self.get_row_index(key))
        if moved:
            self.refresh()
        else:
            top = int(self.scroll_y)
            lines = set(lines)
            if key != before_key or self.cursor_row != before_index:
                lines.update(index for index in (before_index, self.cursor_row) if top <= index)
            self._refresh_rows(lines)
        if key != before_key:
            self.post_message(self.Highlighted(self, key))

    def _refresh_rows(self, indexes: Iterable[int]) -> None:
        """Mark the lines of these display indexes for drawing, one region per run of
        consecutive rows (a row moved at the top of the window marks all of it: one call)."""
        start = end = None
        for index in sorted(indexes):
            if end is not None and index == end:
                end += 1
                continue
            if start is not None:
                self.refresh_lines(start + 1, end - start)
            start, end = index, index + 1
        if start is not None:
            self.refresh_lines(start + 1, end - start)

    # -- cursor ----------------------------------------------------------------------------------

    def move_cursor(self, row: int, animate: bool = False) -> None:
        count = self.row_count
        if not count:
            return
        before_key, before_index = self._cursor_key, self.cursor_row
        row = max(0, min(row, count - 1))
        self._cursor_key = self.key_at(row)
        self._scroll_to_row(row)
        self.refresh_line(before_index + 1)
        self.refresh_line(row + 1)
        if self._cursor_key != before_key:
            self.post_message(self.Highlighted(self, self._cursor_key))

    def move_cursor_to_key(self, key: str) -> None:
        index = self.get_row_index(key)
        if index is not None:
            self.move_cursor(index)

    def _scroll_to_row(self, row: int | None) -> None:
        if row is None:
            return
        top, rows_on_screen = self._window()
        if rows_on_screen <= 0:
            return
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + rows_on_screen:
            self.scroll_to(y=row - rows_on_screen + 1, animate=False)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self._window()[1]))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self._window()[1]))

    def action_top(self) -> None:
        self.move_cursor(0)

    def action_bottom(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_select(self) -> None:
        if self._cursor_key is not None:
            self.post_message(self.Selected(self, self._cursor_key))

    def action_sort_next(self) -> None:
        keys = [c.key for c in self.columns]
        if self.sort_column is None:
            self.sort_by(keys[0], reverse=False)
        elif self.sort_column == keys[-1]:
            self.sort_by(None)
        else:
            self.sort_by(keys[keys.index(self.sort_column) + 1], reverse=False)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_y) + offset.y - 1
        if row >= self.row_count:
            return
        if row == self.cursor_row and event.chain >= 2:
            self.action_select()
        else:
            self.move_cursor(row)

    # -- drawing ---------------------------------------------------------------------------------

    def render_lines(self, crop):
        self._styles = None  # component styles follow focus and theme: look them up per pass
        styles = self.styles_now()
        if styles != self._cached_styles:
            self._cached_styles = styles
            self._lines.clear()
        # What every line of this pass shares, looked up once: a row moved at the top of the
        # window redraws every line below it, most of them from the cache.
        self._pass = self._shared(styles)
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def redraw_where(self, changed: Callable[[Any], bool]) -> None:
        """Cells that follow something besides their record (a clock, in a column of fixed
        width): the rows drawn or on screen for which ``changed(record)`` holds are drawn again,
        each one line; the others keep theirs."""
        top, rows_on_screen = self._window()
        on_screen = {self.key_at(i): i for i in range(top, min(top + rows_on_screen, len(self._visible)))}
        for key in self._lines.keys() | on_screen.keys():
            record = self._records.get(key)
            if record is None or changed(record):
                self._lines.pop(key, None)
                if key in on_screen:
                    self.refresh_line(on_screen[key] + 1)

    def styles_now(self) -> dict[str, Style]:
        if self._styles is None:
            cursor = self.get_component_rich_style("virtual-table--cursor")
            self._styles = {
                "base": self.rich_style,
                "header": self.get_component_styles("virtual-table--header").rich_style,
                "even": self.get_component_styles("virtual-table--even-row").rich_style,
                "odd": self.get_component_styles("virtual-table--odd-row").rich_style,
                "cursor": cursor,
                # the cursor's colour wins over a cell's own (DataTable's default), its
                # background does not
                "cursor_post": Style.from_color(color=cursor.color),
            }
        return self._styles

    def render_line(self, y: int) -> Strip:
        styles, width, scroll_x, scroll_y, blank = self._pass or self._shared(self.styles_now())
        if y == 0:
            labels = [self._label(c) for c in self.columns]
            strip = self._line(labels, styles["header"], Style(), Style(), styles["header"], width)
        else:
            index = scroll_y + y - 1
            if index >= len(self._visible):
                return blank
            key = self.key_at(index)
            record = self._records[key]
            cursor = key == self._cursor_key
            # A row is drawn again only when its record, place or looks changed: a layout pass
            # (the status line, the row count) repaints the window from this cache. Both stripes
            # are kept: a row added or removed above shifts every row below to the other stripe
            # and back (a pod created, then deleted), each time the whole window.
            looks = (index % 2, cursor, scroll_x, width)
            cached = self._lines.get(key)
            if cached is not None and (cached[0] is not record or cached[1] != self._geometry):
                cached = None
            if cached is not None:
                strip = cached[3].get(looks)
                if strip is not None:
                    return strip
                # its cells are drawn again only when its record or the column widths changed
                pieces, strips = cached[2], cached[3]
            else:
                pieces, strips = self._pieces(self._cells(record)), {}
            row_style = styles["odd" if index % 2 else "even"] if self.zebra_stripes else styles["base"]
            if cursor:
                strip = self._join(pieces, row_style, styles["cursor"], styles["cursor_post"],
                                   row_style + styles["cursor"], width)
            else:
                strip = self._join(pieces, row_style, Style(), Style(), row_style, width)
            strip = strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, styles["base"]).simplify()
            if len(strips) >= 4:  # both stripes, with and without the cursor
                strips.clear()
            strips[looks] = strip
            if cached is None:
                if len(self._lines) > LINE_CACHE:
                    self._lines.clear()
                self._lines[key] = (record, self._geometry, pieces, strips)
            return strip
        return strip.crop(scroll_x, scroll_x + width).adjust_cell_length(width, styles["base"]).simplify()

    def _shared(self, styles: dict[str, Style]) -> tuple[dict[str, Style], int, int, int, Strip]:
        """What every line of a pass shares: styles, width, scroll offsets, the blank line."""
        width = self.size.width
        return styles, width, int(self.scroll_x), int(self.scroll_y), self._blank_line(width, styles["base"])

    def _blank_line(self, width: int, style: Style) -> Strip:
        """The line below the last row: the same object while it looks the same, so its styled
        line is kept too (row_styles_cache.py)."""
        if self._blank is None or self._blank[0] != (width, style):
            self._blank = ((width, style), Strip.blank(width, style))
        return self._blank[1]

    def _line(self, cells: Sequence[Any], row_style: Style, component: Style, post: Style,
              extend_style: Style, width: int) -> Strip:
        return self._join(self._pieces(cells), row_style, component, post, extend_style, width)

    def _pieces(self, cells: Sequence[Any]) -> list[list[Segment]]:
        """Each cell drawn, cropped and padded to its column, before the row's style."""
        console = self.app.console
        pad = " " * self.cell_padding
        pieces = []
        for index in range(len(self.columns)):
            text = as_text(cells[index] if index < len(cells) else None)
            if "\n" in text.plain:
                text = text.split("\n")[0]
            content = self._widths[index]
            rendered = list(text.render(console))
            if text.style:  # render() draws the spans; the base style is the caller's to add
                rendered = list(Segment.apply_style(rendered, console.get_style(text.style)))
            used = Segment.get_line_length(rendered)
            if used > content:
                rendered = list(Segment.split_and_crop_lines(rendered, content, pad=False))[0]
                used = Segment.get_line_length(rendered)
            pieces.append([Segment(pad), *rendered, Segment(" " * (content - used) + pad)])
        return pieces

    def _join(self, pieces: list[list[Segment]], row_style: Style, component: Style, post: Style,
              extend_style: Style, width: int) -> Strip:
        pre = row_style + component
        segments: list[Segment] = []
        for cell_segments in pieces:
            segments.extend(Segment.apply_style(cell_segments, pre, post or None))
        table_width = sum(self._widths) + 2 * self.cell_padding * len(self.columns)
        if width > table_width:
            segments.append(Segment(" " * (width - table_width), extend_style))
        return Strip(segments)
