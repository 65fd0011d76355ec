"""A yes/no dialog for anything that changes the cluster or the version files.

Focus starts on Cancel (as k9s's delete dialogs do), so a stray Enter never confirms."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes", tooltip="Confirm"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no", tooltip="Cancel; nothing changes"),
    ]

    def __init__(self, title: str, body: str, confirm_label: str = "Confirm", *, danger: bool = True,
                 detail: str | None = None):
        """`detail`: a scrolling part under the body that the caller may fill in later
        (`set_detail`), e.g. a blast radius read from the cluster while the dialog is open."""
        super().__init__()
        self.title_text, self.body, self.confirm_label, self.danger = title, body, confirm_label, danger
        self.detail = detail
        self._detail_widget: Static | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.title_text, id="confirm-title")
            yield Static(self.body, id="confirm-body", markup=False)
            if self.detail is not None:
                with VerticalScroll(id="confirm-detail-scroll"):
                    self._detail_widget = Static(self.detail, id="confirm-detail", markup=False)
                    yield self._detail_widget
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel (n)", id="cancel")
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="error" if self.danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def set_detail(self, detail: str | Content) -> None:
        # Through the widget itself, not a query: an answer that arrives between compose and mount
        # (a worker calling back from its thread) must not leave the dialog on its first text.
        self.detail = detail
        if self._detail_widget is not None:
            self._detail_widget.update(detail)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
