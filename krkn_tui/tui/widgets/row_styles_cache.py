"""Textual's styled-line cache, remembering each row's styled line across moves.

Textual keeps a widget's styled lines by screen line: a row added at the top of a table's window
moves every row below it, so every line is styled again (background, tint, filters' input) though
each row's own line comes from the table's cache, the same object as before. For a widget with
no border, outline or padding, the styled line depends only on that content line and the
widget's colours, so it is kept by the content line's identity (held, so the identity is not
reused) beside those colours: a moved row costs a dictionary lookup. ~2 ms of a 43-line window.
Textual clearing its cache (a refresh of the whole widget: new column widths, a style change)
leaves these: a kept line is used only for the same content line in the same looks, and the
lines below the last row, one object, stay kept through a widening.
"""

from __future__ import annotations

from textual._ansi_theme import DEFAULT_TERMINAL_THEME
from textual._styles_cache import StylesCache
from textual.strip import Strip

# kept lines, a few windows' worth; cleared when full (the next frame refills what it shows)
LIMIT = 512


class RowStylesCache(StylesCache):
    def __init__(self) -> None:
        super().__init__()
        self._styled: dict[int, tuple[Strip, tuple, Strip]] = {}
        self._looks: tuple | None = None  # while render() draws: what every line's look depends on
        self._content_height = 0

    def render(self, styles, size, base_background, background, render_content_line, filters, border_title,
               border_subtitle, content_size=None, padding=None, crop=None, opacity=1.0,
               ansi_theme=DEFAULT_TERMINAL_THEME, native_ansi=False) -> list[Strip]:
        content_size = content_size or size
        edges = (*(padding if padding is not None else styles.padding), *(edge for edge, _ in styles.border),
                 *(edge for edge, _ in styles.outline))
        # with a border, outline or padding a line's look depends on its y: not kept
        self._looks = None if any(edges) else (
            size.width, content_size.width, base_background, background, opacity, styles.tint, styles.text_opacity,
            styles.hatch if styles.has_rule("hatch") else None, ansi_theme, native_ansi)
        self._content_height = content_size.height
        try:
            return super().render(styles, size, base_background, background, render_content_line, filters,
                                  border_title, border_subtitle, content_size=content_size, padding=padding,
                                  crop=crop, opacity=opacity, ansi_theme=ansi_theme, native_ansi=native_ansi)
        finally:
            self._looks = None

    def render_line(self, styles, y, size, content_size, padding, base_background, background,
                    render_content_line, border_title, border_subtitle, opacity, ansi_theme, native_ansi) -> Strip:
        def styled(content_line):
            return super(RowStylesCache, self).render_line(
                styles, y, size, content_size, padding, base_background, background, content_line, border_title,
                border_subtitle, opacity, ansi_theme, native_ansi)

        looks = self._looks
        if looks is None or y >= self._content_height:
            return styled(render_content_line)
        content = render_content_line(y)
        kept = self._styled.get(id(content))
        if kept is not None and kept[0] is content and kept[1] == looks:
            return kept[2]
        strip = styled(lambda _y: content)
        if len(self._styled) >= LIMIT:
            self._styled.clear()
        self._styled[id(content)] = (content, looks, strip)
        return strip
