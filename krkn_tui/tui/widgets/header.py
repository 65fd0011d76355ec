"""The header every view shares: where we are connected, and what is going on.

It reads the app's reactives (server version, watcher state, run state) and redraws when one
changes, so the views never pass cluster facts around."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from ..rows import tilde

WATCHED = ("server_version", "watch_state", "run_state", "target_text", "checks_changed", "api_state", "halt_state")


BAD = ("reconnecting", "unreachable", "stopping", "rolling back", "failed", "error", "interrupted", "cannot",
       "aborted", "refused")
BUSY = ("relisting", "connecting", "running")
GOOD = ("connected", "passed")


def _state_style(text: str) -> str:
    if text.startswith(BAD):
        return "$text-error"
    if text.startswith(BUSY):
        return "$text-warning"
    return "$text-success" if text.startswith(GOOD) else ""


class ConsoleHeader(Static):
    def on_mount(self) -> None:
        for name in WATCHED:
            self.watch(self.app, name, self._redraw, init=False)
        self._redraw()

    def _redraw(self, _value: object = None) -> None:
        self.update(render_header(self.app))


def _with_origin(path, origin) -> str:
    """The path, and how the config's relative path was resolved (as the picker says for scenarios)."""
    return tilde(path) + (f" ({origin.relative_to})" if origin is not None and origin.relative_to else "")


def render_header(app) -> Content:
    line1 = Content.assemble(
        ("krkn-tui", "bold"), " │ ", app.target_text, " │ k8s ", (app.server_version, "bold"),
        " │ namespace ", (app.settings.namespace or "all", "bold"),
    )
    paths = getattr(app, "config_paths", {})
    kube = paths.get("kubeconfig")
    if kube is not None and kube.relative_to:  # the config's relative path: say where it was found
        line1 = line1 + Content.assemble(" │ kubeconfig ", (_with_origin(kube.path, kube), "dim"))
    if app.settings.readonly:
        line1 = line1 + Content.assemble("  ", (" READ-ONLY ", "reverse bold $text-warning"))
    pods, run = app.watch_state, app.run_state
    api = getattr(app, "api_state", "")
    # While the API server is silent the watch may still say "connected": the probe is believed.
    said_api = Content.assemble(" │ API ", (api, "bold $text-error" if app.api_stale else "$text-success")) \
        if api else Content("")
    line2 = Content.assemble(
        "pods ", (pods, _state_style(pods)), said_api, " │ run ", (run, _state_style(run)),
        " │ versions ", (_with_origin(app.versions_dir, paths.get("versions")), "dim"),
    )
    if not app.journal_settings.enabled:  # said only when off: on is the default
        line2 = line2 + Content.assemble(" │ ", ("cluster journal off", "$text-warning"))
    lines = [line1, line2]
    halt = getattr(app, "halt_state", "")
    if halt:  # the room's stop: on every console, above everything else it says
        hint = "" if app.settings.readonly else "  (H resumes)"
        lines.insert(0, Content.assemble((" HALTED ", "reverse bold $text-error"), " ", (halt, "bold $text-error"),
                                         (hint, "dim")))
    board = getattr(app, "check_board", None)
    if board:  # the config's steady-state checks: name, state, last latency, failures
        lines.append(board.content())
    return Content("\n").join(lines)
