"""`?`: every key of the view it was opened from, of its table, and of the whole console."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from .base import DANGEROUS_ACTIONS


def binding_rows(app, node, bindings: list[Binding]) -> list[Content]:
    rows = []
    for binding in bindings:
        action = binding.action.split("(", 1)[0]
        allowed = node.check_action(action.removeprefix("app."), ()) is not False
        if not allowed and action.removeprefix("app.") not in DANGEROUS_ACTIONS:
            continue  # one of two bindings of a key whose action follows the view's state: not now
        key = app.get_key_display(binding)
        note = "" if allowed else "  (read-only: removed)"
        text = binding.tooltip or binding.description
        rows.append(Content.assemble((f"{key:>10}  ", "bold" if allowed else "dim"),
                                     (text + note, "" if allowed else "dim")))
    return rows


def help_content(app, view) -> Content:
    sections: list[tuple[str, object, list[Binding]]] = [("This view", view, list(getattr(view, "BINDINGS", [])))]
    for widget_type in getattr(view, "HELP_WIDGETS", ()):
        sections.append(("Tables", view, list(widget_type.BINDINGS)))
    sections.append(("Everywhere", app, list(app.BINDINGS)))
    parts: list[Content] = []
    for title, node, bindings in sections:
        parts.append(Content.styled(title, "bold $text-primary"))
        parts.extend(binding_rows(app, node, [b if isinstance(b, Binding) else Binding(*b) for b in bindings]))
        parts.append(Content(""))
    parts.append(Content.styled("ctrl+p opens the command palette with every action.", "dim"))
    return Content("\n").join(parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help-close", tooltip="Close help")]

    def __init__(self, view):
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(f"Keys — {getattr(self.view, 'VIEW_TITLE', 'krkn-tui')}", id="help-title")
            yield Static(help_content(self.app, self.view), id="help-keys")
