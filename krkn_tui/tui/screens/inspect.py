"""Read-only view of one version file: what it will do, where it is, and its source."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...rollback import VersionInfo
from ...rollback.redact import redact_secrets
from ...rollback.source_text import UnsafeSource, checked_source
from ...rollback.store import read_bytes_safely
from ...sanitize import one_line, visible
from ..rows import local_time, tilde, version_action
from ..widgets.header import ConsoleHeader


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
    if v.error:
        fields.append(("error", one_line(v.error)))
    return Content("\n").join(
        Content.assemble((f"{name:>9}  ", "bold"), (value, "$text-error" if name == "error" else ""))
        for name, value in fields
    )


def source_view(v: VersionInfo) -> Content:
    try:
        raw = read_bytes_safely(v.path)
    except Exception as exc:  # gone, unreadable, a FIFO: say so instead of failing
        return Content.styled(f"cannot read {v.path.name}: {one_line(exc)}", "$text-error")
    try:
        # Secret values are masked here: a console may be on a shared screen (show-rollback --reveal)
        text, _masked = redact_secrets(checked_source(raw))
        return highlight(text, language="python")
    except UnsafeSource as exc:  # shown escaped, uncoloured: every hidden character in plain sight
        text = visible(raw.decode("utf-8", "replace"), keep="\n\t")
        return Content.styled(f"unsafe: {exc}; it will not be executed\n\n", "$text-error") + Content(text)


class InspectScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="inspect-back", tooltip="Back to the version table"),
        Binding("j", "scroll('down')", "Down", show=False, id="inspect-down"),
        Binding("k", "scroll('up')", "Up", show=False, id="inspect-up"),
        Binding("g", "scroll('home')", "Top", show=False, id="inspect-top"),
        Binding("G", "scroll('end')", "Bottom", show=False, id="inspect-bottom"),
    ]

    def __init__(self, version: VersionInfo):
        super().__init__()
        self.version = version

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static(version_metadata(self.version), id="inspect-meta")
        with VerticalScroll(id="inspect-source"):
            yield Static(source_view(self.version), id="inspect-code")
        yield Footer()

    def action_scroll(self, where: str) -> None:
        pane = self.query_one("#inspect-source", VerticalScroll)
        {"down": pane.scroll_down, "up": pane.scroll_up, "home": pane.scroll_home, "end": pane.scroll_end}[where](
            animate=False)
