"""The console's halt: a reason typed, then the Halt button (or Enter); Cancel has no effect.

The reason is what every console of the room shows in its header, so an empty one is refused."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class HaltDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="halt-cancel", tooltip="Close; nothing changes")]

    def __init__(self, where: str):
        super().__init__()
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static("Halt every run on this cluster", id="confirm-title")
            yield Static(f"{self.where}: every krkn-tui run stops and rolls back within one check interval, "
                         "new runs are refused until resume, every console shows who halted and why.",
                         id="confirm-body", markup=False)
            yield Input(placeholder="why (shown on every console)", id="halt-reason", max_length=500)
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel (esc)", id="cancel")
                yield Button("Halt everything (enter)", id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#halt-reason", Input).focus()

    def _submit(self) -> None:
        reason = self.query_one("#halt-reason", Input).value.strip()
        if not reason:
            self.notify("Say why first: every console shows it.", severity="warning")
            return
        self.dismiss(reason)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
