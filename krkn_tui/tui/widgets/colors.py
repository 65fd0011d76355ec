"""Cell colours from the current theme, so tables stay readable in the light and dark themes.

Textual's ``text-*`` variables are made for text on the theme's background (the plain ``success``
green is too light on the light theme)."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

MEANING = {
    # pods
    "Running": "text-success", "Succeeded": "text-success", "Pending": "text-warning",
    "Terminating": "text-error", "Failed": "text-error", "Unknown": "text-error",
    # version steps
    "pending": "text-warning", "executed": "text-success", "failed": "text-error",
    "partial": "text-warning", "operator": "text-warning",  # journal states: the operator has a step to run
    # scenario and run results
    "passed": "text-success", "error": "text-error", "interrupted": "text-error", "running": "text-warning",
    # pod events
    "ADDED": "text-success", "MODIFIED": "text-warning", "DELETED": "text-error", "CHECK": "text-accent",
}


def style_for(app, meaning: str | None) -> Style:
    """A Rich style for a word like 'Running' or 'failed'; dim when it has no colour."""
    variable = MEANING.get(meaning or "")
    color = app.theme_variables.get(variable) if variable else None
    return Style(color=color) if color else Style(dim=True)


def coloured(app, text: str, meaning: str | None = None) -> Text:
    return Text(text, style=style_for(app, meaning if meaning is not None else text), no_wrap=True)
