"""View 2: pods as they change, and the log of what happened to them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Static

from ...kube.podwatch import PodRow, TableChanges, human_age
from ..rows import local_time
from ..widgets.colors import coloured
from ..widgets.event_log import EventLog
from ..widgets.header import ConsoleHeader
from ..widgets.keyed_table import KeyedTable
from .base import View

COLUMNS = (("namespace", "namespace"), ("name", "name"), ("phase", "phase"), ("ready", "ready"),
           ("restarts", "restarts"), ("node", "node"), ("age", "age"))
AGE_REFRESH_SECONDS = 1.0


def by_namespace_and_name(cells: tuple) -> tuple:
    return cells[0], cells[1]


class PodsScreen(View):
    VIEW_TITLE = "Live pod events"
    HELP_WIDGETS = (KeyedTable,)
    BINDINGS = []

    def __init__(self):
        super().__init__(id="pods")
        self._log_written = 0  # PodTable.log_total already written to the log widget

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id="pods-status")
        yield KeyedTable(id="pod-table", order=by_namespace_and_name)
        yield Static("events", id="pod-events-title")
        yield EventLog(id="pod-events")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#pod-table", KeyedTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self.sync(None)
        self.watch(self.app, "watch_state", lambda _s: self.update_status(), init=False)
        self.set_interval(AGE_REFRESH_SECONDS, self.refresh_ages)
        table.focus()

    def recolour(self) -> None:
        self.sync(None)

    def cells(self, row: PodRow, now: float) -> tuple:
        age = human_age(now - row.created) if row.created is not None else "-"
        return (row.namespace, row.name, coloured(self.app, row.phase), row.ready, str(row.restarts), row.node or "-", age)

    def sync(self, changes: TableChanges | None) -> None:
        """Apply one drained batch (or everything, when ``changes`` is None)."""
        model = self.app.pod_table
        now = self.app.settings.clock()
        keys = None if changes is None else changes.added | changes.changed | changes.removed
        if keys is None or keys:
            rows = {key: self.cells(model.rows[key], now) for key in (model.rows if keys is None else keys)
                    if key in model.rows}
            self.query_one("#pod-table", KeyedTable).reconcile(rows, keys)
        self.write_new_log_lines()
        self.update_status()

    def write_new_log_lines(self) -> None:
        model = self.app.pod_table
        new = min(model.log_total - self._log_written, len(model.log))
        if new > 0:
            fmt = lambda t: local_time(t, with_date=False)  # noqa: E731
            entries = list(model.log)[-new:]
            self.query_one(EventLog).write_lines([e.line(fmt) for e in entries])
        self._log_written = model.log_total

    def refresh_ages(self) -> None:
        """Ages tick; only cells whose text changed are redrawn."""
        self.sync(None)

    def update_status(self) -> None:
        model = self.app.pod_table
        scope = f"namespace {self.app.settings.namespace}" if self.app.settings.namespace else "all namespaces"
        self.query_one("#pods-status", Static).update(
            f"{len(model.rows)} pods in {scope} · watch: {self.app.watch_state}")
