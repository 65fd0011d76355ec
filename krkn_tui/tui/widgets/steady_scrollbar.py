"""A scroll bar drawn again only when it would look different.

A table of 10,000 rows that gains one: its thumb (one cell) stays where it was, yet Textual
draws the whole bar again because its range changed, ~3 ms for 43 lines here, as much as the
table's own lines in that frame. The bar's segments are cheap to work out (Textual's own
``render_bar``); when they, the bar's size, the crop and the filters are those of the last
drawing, its lines are the last drawing's.
"""

from __future__ import annotations

from rich.color import Color
from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.widget import Widget

# ScrollBarRender's own colours for a style without them
_BACK, _BAR = Color.parse("#555555"), Color.parse("bright_magenta")


class SteadyScrollBar(ScrollBar):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._drawn: tuple[tuple, list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        look = self._look(crop)
        if look is not None and self._drawn is not None and self._drawn[0] == look:
            return self._drawn[1]
        lines = super().render_lines(crop)
        self._drawn = None if look is None else (look, lines)
        return lines

    def _look(self, crop: Region) -> tuple | None:
        """Everything the drawing depends on, or None when it cannot be told (no bar drawn)."""
        bar = self.render()
        if not isinstance(bar, ScrollBarRender):
            return None
        style = self.app.console.get_style(bar.style)
        size = self.size
        length, thickness = (size.height, size.width) if bar.vertical else (size.width, size.height)
        segments = ScrollBarRender.render_bar(
            size=length, window_size=bar.window_size, virtual_size=bar.virtual_size, position=bar.position,
            vertical=bar.vertical, thickness=thickness, back_color=style.bgcolor or _BACK,
            bar_color=style.color or _BAR)
        return (crop, size, style, tuple(segments.segments), self.background_colors, self.opacity,
                tuple(self.get_line_filters()))


def steady_vertical_scrollbar(widget: Widget) -> ScrollBar:
    """``widget``'s vertical scroll bar, made a SteadyScrollBar (as Textual makes its own)."""
    if widget._vertical_scrollbar is None:
        bar = SteadyScrollBar(vertical=True, name="vertical", thickness=widget.scrollbar_size_vertical)
        bar.display = False
        widget._vertical_scrollbar = bar
        widget.app._start_widget(widget, bar)
    return widget._vertical_scrollbar
