"""The pod event log: a capped ``LineLog`` (no layout pass per batch) whose kind word is coloured.

``Log`` draws plain lines; the highlighter colours ADDED / MODIFIED / DELETED from the current
theme at render time, and Log drops its line cache when the theme changes."""

from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.text import Text
from textual.widgets import Log

from .colors import style_for
from .line_log import LineLog

LOG_LINES = 1000
_KIND = re.compile(r"\b(ADDED|MODIFIED|DELETED|SYNC|CHECK)\b")


class KindHighlighter(Highlighter):
    def __init__(self, widget: Log):
        self._widget = widget

    def highlight(self, text: Text) -> None:
        match = _KIND.search(text.plain)
        if match:
            text.stylize(style_for(self._widget.app, match.group(1)), match.start(), match.end())


class EventLog(LineLog):
    def __init__(self, **kwargs):
        super().__init__(highlight=True, max_lines=LOG_LINES, **kwargs)
        self.highlighter = KindHighlighter(self)
