"""Read-only view of one version file: what it will do, where it is, and its source."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.screen import Screen
from textual.widgets import Static

from ...errors import UserError
from ...rollback.front import VersionInfo
from ...rollback.front import trust_note
from ...rollback.front import ShownSource
from ...rollback.front import RollbackService
from ...rollback.front import UnsafeSource, shown_unsafe
from ...rollback.front import read_bytes_safely
from ...sanitize import one_line, visible
from ..rows import local_time, tilde, version_action
from ..widgets.header import ConsoleHeader
from ..widgets.footer import ConsoleFooter
from .confirm import ConfirmScreen


def version_metadata(v: VersionInfo) -> Content:
    fields = [
        ("action", version_action(v)),
        ("status", v.status + (f" (was {v.prior_status})" if v.prior_status else "")),
        ("run", visible(v.run_dir)),
        ("scenario", visible(v.scenario_type) or "-"),
        ("created", local_time(v.created_ns)),
        ("origin", v.origin),
        ("cluster", visible(v.cluster.describe()) if v.cluster is not None else "unknown"),
        ("file", tilde(v.path)),
    ]
    if v.origin == "krkn-tui":
        fields.append(("trust", trust_note(v) or "ours: signed by a trusted key"))
    if v.error:
        fields.append(("error", one_line(v.error)))
    return Content("\n").join(
        Content.assemble((f"{name:>9}  ", "bold"), (value, "$text-error" if name == "error" else ""))
        for name, value in fields
    )


def read_source(service, v: VersionInfo, reveal: bool = False) -> tuple[Content, ShownSource | None]:
    """The file's source for the screen, and what it says of its Secret values (None when it
    cannot be shown as code). Read without following links or blocking, masked and sanitised by
    the service's one rule (``show-rollback`` uses it too), which audits a reveal first."""
    try:
        raw = read_bytes_safely(v.path)
    except Exception as exc:  # gone, unreadable, a FIFO: say so instead of failing
        return Content.styled(f"cannot read {visible(v.path.name)}: {one_line(exc)}", "$text-error"), None
    try:
        shown = service.shown_source(raw, v.path, reveal=reveal)
    except UnsafeSource as exc:  # shown escaped, uncoloured: every hidden character in plain sight
        return (Content.styled(f"unsafe: {exc}; it will not be executed\n\n", "$text-error")
                + Content(shown_unsafe(raw)), None)
    return highlight(shown.text, language="python"), shown


def source_view(v: VersionInfo) -> Content:
    """The source as the inspect view first shows it: Secret values masked."""
    return read_source(RollbackService(v.path.parent.parent), v)[0]


def secrets_title(v: VersionInfo, shown: ShownSource | None) -> Content:
    """The view's title: the file, and whether its Secret values are masked or on screen."""
    title = Content.assemble(("Version file ", "bold"), (visible(v.path.name), "bold"))
    if shown is None:
        return title
    note = shown.note("v")
    if shown.revealed:
        return title + Content.assemble("  ", (f" {note} on screen: v masks them ", "reverse bold $text-error"))
    return title + (Content.styled(f"  ·  {note}", "dim") if note else Content(""))


class InspectScreen(Screen):
    """One version file, read-only. Captured Secret values stay masked until ``v`` and a
    confirmation reveal them (audited); ``v`` again, or leaving the view, masks them."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="inspect-back", tooltip="Back to the version table"),
        # One key, two bindings: the footer and help name what it does now (check_action).
        Binding("v", "reveal_secrets", "Reveal values", id="inspect-reveal",
                tooltip="Show the captured Secret values of this step (asks first; audited)"),
        Binding("v", "mask_secrets", "Mask values", id="inspect-mask",
                tooltip="Mask the Secret values shown on screen again"),
        Binding("j", "scroll('down')", "Down", show=False, id="inspect-down"),
        Binding("k", "scroll('up')", "Up", show=False, id="inspect-up"),
        Binding("g", "scroll('home')", "Top", show=False, id="inspect-top"),
        Binding("G", "scroll('end')", "Bottom", show=False, id="inspect-bottom"),
    ]

    def __init__(self, version: VersionInfo):
        super().__init__()
        self.version = version
        self.shown: ShownSource | None = None

    @property
    def VIEW_TITLE(self) -> str:  # the help screen's title
        return secrets_title(self.version, self.shown).plain

    @property
    def revealed(self) -> bool:
        return self.shown is not None and self.shown.revealed

    def compose(self) -> ComposeResult:
        code, self.shown = read_source(self.app.rollback_service, self.version)
        yield ConsoleHeader(id="header")
        yield Static(secrets_title(self.version, self.shown), id="inspect-title")
        yield Static(version_metadata(self.version), id="inspect-meta")
        with VerticalScroll(id="inspect-source"):
            yield Static(code, id="inspect-code")
        yield ConsoleFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reveal_secrets":
            return not self.revealed
        if action == "mask_secrets":
            return self.revealed
        return True

    def show_source(self, reveal: bool) -> None:
        try:
            code, shown = read_source(self.app.rollback_service, self.version, reveal)
        except UserError as exc:  # the audit log refused the line: nothing revealed
            self.notify(one_line(exc), severity="error", timeout=15, markup=False)
            return
        self.shown = shown
        self.query_one("#inspect-code", Static).update(code)
        self.query_one("#inspect-title", Static).update(secrets_title(self.version, shown))
        self.refresh_bindings()

    def action_reveal_secrets(self) -> None:
        shown, name = self.shown, self.version.path.name
        if shown is None or not shown.secrets:
            why = ("its file cannot be shown" if shown is None else
                   "its Secret values were redacted when the step ran" if shown.redacted else
                   "it holds no captured Secret values")
            self.notify(f"Nothing to reveal in {visible(name)}: {why}.", severity="warning", markup=False)
            return
        audit = self.app.rollback_service.audit
        body = (f"{shown.secrets} captured Secret value(s) of {visible(name)} will be shown on screen in plain "
                "text: anyone who can see this screen can read them.\n"
                f"The reveal is written to the audit log ({tilde(audit.path) if audit else 'none: refused'}); "
                "v or leaving the view masks them again.")
        self.app.push_screen(ConfirmScreen("Reveal Secret values?", body, "Reveal"),
                             callback=lambda yes: self.show_source(reveal=True) if yes else None)

    def action_mask_secrets(self) -> None:
        self.show_source(reveal=False)

    def action_scroll(self, where: str) -> None:
        pane = self.query_one("#inspect-source", VerticalScroll)
        {"down": pane.scroll_down, "up": pane.scroll_up, "home": pane.scroll_home, "end": pane.scroll_end}[where](
            animate=False)
