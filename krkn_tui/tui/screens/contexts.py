"""k9s's `:ctx`: ``:`` opens a one-line command (``ctx`` lists the kubeconfig's contexts to pick
one, ``ctx NAME`` switches at once); the app switches the pods view, the journal rows and the
cluster that rollback steps are checked against. A run in progress keeps its own cluster."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

COMMANDS = ("ctx",)


class CommandLine(ModalScreen[str | None]):
    """``:`` and a command; dismissed with the text typed (None on escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command-cancel", tooltip="Close; nothing changes")]

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Input(placeholder="ctx [NAME]: switch the kubeconfig context", id="command-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ContextPicker(ModalScreen[str | None]):
    """The kubeconfig's contexts, the current one marked; enter picks one, escape closes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="context-cancel", tooltip="Close; nothing changes")]

    def __init__(self, contexts: list, current: str | None):
        super().__init__()
        self.contexts, self.current = contexts, current

    def compose(self) -> ComposeResult:
        options = []
        for target in self.contexts:
            if isinstance(target, str):  # unusable: shown with why, not pickable
                options.append(Option(f"  {target}", disabled=True))
                continue
            mark = "*" if target.context == self.current else " "
            options.append(Option(f"{mark} {target.context}   {target.server}   {target.user}", id=target.context))
        with Vertical(id="context-picker"):
            yield Static("Contexts (enter switches; a run in progress keeps its cluster)", id="context-title")
            yield OptionList(*options, id="context-list")

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        listing.focus()
        ids = [o.id for o in listing.options]
        if self.current in ids:
            listing.highlighted = ids.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
