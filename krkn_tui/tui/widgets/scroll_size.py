"""A scroll view's virtual size set without a layout pass of the whole screen when it can be.

Assigning ``virtual_size`` lays the screen out (~4 ms a frame here, most of a pod event's frame).
When the scrollbars stay as they are (the new size is on the same side of the viewport's edges
in both directions), the size is set without one and the scrollbars are told their new range; a
scrollbar coming or going still lays the screen out.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView


def set_virtual_size(view: ScrollView, size: Size) -> None:
    old = view.virtual_size
    if size == old:
        return
    if _scrollbar_sides(view, size) != _scrollbar_sides(view, old):
        view.virtual_size = size
        return
    view.set_reactive(ScrollView.virtual_size, size)
    if view.show_vertical_scrollbar:
        view.vertical_scrollbar.window_virtual_size = size.height
    if view.show_horizontal_scrollbar:
        view.horizontal_scrollbar.window_virtual_size = size.width
    # validated again: rows or width gone from the end clamp them
    view.scroll_x, view.scroll_y = view.scroll_x, view.scroll_y


def _scrollbar_sides(view: ScrollView, size: Size) -> tuple[bool, ...]:
    """Where ``size`` lies against the sizes at which Textual shows a scrollbar (each with and
    without the other scrollbar)."""
    room, styles = view.container_size, view.styles
    return (size.width > room.width, size.width > room.width - styles.scrollbar_size_vertical,
            size.height > room.height, size.height > room.height - styles.scrollbar_size_horizontal)
