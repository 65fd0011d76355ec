"""A DataTable reconciled by row key, whose cursor stays on its row.

DataTable's cursor follows the row index, and ``clear()`` + re-adding loses it; live tables
(pods, version files) instead drop vanished keys, ``update_cell`` only what changed and add new
keys, then put the cursor back on the key it was on.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


class SortText(Text):
    """A cell that renders as text but sorts by ``sort_key`` (e.g. nanoseconds behind a time)."""

    def __init__(self, text: str, sort_key: Any, **kwargs):
        super().__init__(text, **kwargs)
        self.sort_key = sort_key

    def __lt__(self, other: "SortText") -> bool:
        return self.sort_key < other.sort_key


def same_cell(old: Any, new: Any) -> bool:
    """Text equality ignores the base style; a colour change (a new theme) must redraw."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return old == new


class KeyedTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table-down"),
        Binding("k", "cursor_up", "Up", show=False, id="table-up"),
        Binding("g", "top", "Top", show=False, id="table-top"),
        Binding("G", "bottom", "Bottom", show=False, id="table-bottom"),
    ]

    def __init__(self, *, order: Callable[[tuple], Any] | None = None, reverse: bool = False, **kwargs):
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._order = order
        self._reverse = reverse

    def action_top(self) -> None:
        self.move_cursor(row=0, animate=False)

    def action_bottom(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1), animate=False)

    @property
    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # cursor outside the rows during a rebuild
            return None

    def reconcile(self, rows: Mapping[str, Sequence], keys: Iterable[str] | None = None) -> None:
        """Make the table show ``rows`` (key -> cells). With ``keys``, only those keys are looked
        at (the caller knows nothing else changed); otherwise every key is."""
        cursor_key, cursor_row = self.current_key, self.cursor_row
        if keys is None:  # in the caller's order, so unsorted tables keep it
            keys = [*rows, *(k.value for k in self.rows if k.value not in rows)]
        columns = list(self.columns)
        added = False
        for key in keys:
            cells = rows.get(key)
            present = key in self.rows
            if cells is None:
                if present:
                    self.remove_row(key)
            elif not present:
                self.add_row(*cells, key=key)
                added = True
            else:
                for column, old, new in zip(columns, self.get_row(key), cells):
                    if not same_cell(old, new):
                        self.update_cell(key, column, new)
        if added and self._order is not None:
            self.sort(key=self._order, reverse=self._reverse)
        self.restore_cursor(cursor_key, cursor_row)

    def restore_cursor(self, key: str | None, fallback_row: int) -> None:
        if not self.row_count:
            return
        if key is not None and key in self.rows:
            row = self.get_row_index(key)
        else:
            row = min(fallback_row, self.row_count - 1)
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False)
