"""Textual's ``Log`` written without a layout pass of the screen per write.

``Log`` draws only the lines on screen (the Line API) and keeps its text selection, but each
``write_lines`` assigns its virtual size, and a thread worker measures the new lines' width and
assigns it again: two layout passes of the whole screen for every batch of lines (the pod event
log wrote one per drained batch). Here the new lines are measured at once (printable ASCII by
its length, the rest as Log measures it) and the size is set as ``scroll_size`` does: with no
layout pass unless a scrollbar comes or goes.

``Log`` also keeps a rendered line in its cache only while text is selected, the opposite of
what its cache is for: every line on screen was built again (text, highlighter, render) on every
frame, ~7 lines a pod event as the log scrolls. Here a line is kept when nothing is selected; the
cache is Log's own, emptied on a style or theme change and moved when old lines are pruned.
"""

from __future__ import annotations

from typing import Iterable

from rich.cells import cell_len
from rich.style import Style
from textual.strip import Strip
from textual.geometry import Size
from textual.widgets import Log

from .scroll_size import set_virtual_size


class LineLog(Log):
    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        cached = self._render_line_cache.get(y)
        if cached is None:
            cached = self._render_line_cache[y] = super()._render_line_strip(y, rich_style)
        return cached

    def _line_width(self, line: str) -> int:
        if line.isascii() and line.isprintable():
            return len(line)
        return cell_len(self._process_line(line))

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> "LineLog":
        at_end = self.is_vertical_scroll_end
        auto_scroll = self.auto_scroll if scroll_end is None else scroll_end
        new_lines = [part for line in lines for part in line.splitlines()]
        start = len(self._lines)
        self._lines.extend(new_lines)
        pruned = self.max_lines is not None and len(self._lines) > self.max_lines
        if pruned:
            self._prune_max_lines()
        if new_lines:
            self._width = max(self._width, max(map(self._line_width, new_lines)))
        set_virtual_size(self, Size(self._width, len(self._lines)))
        if pruned:  # every line moved up: the size may not have changed, the screen has
            self.refresh()
        else:
            self.refresh_lines(start, len(new_lines))
        if auto_scroll and not self.is_vertical_scrollbar_grabbed and at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.refresh()
        return self

    def clear(self) -> "LineLog":
        self._lines.clear()
        self._width = 0
        self._render_line_cache.clear()
        self._updates += 1
        set_virtual_size(self, Size(0, 0))
        self._clear_y = 0
        self.refresh()
        return self
