"""View 2: pods as they change, and the log of what happened to them.

The table holds the model's small pod records and asks for a row's cells only when it draws the
row, so 30,000 pods cost what the visible 40 cost; ages tick by redrawing the visible lines."""

from __future__ import annotations

import gc

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from ...kube.podmodel import PodRow, TableChanges, human_age
from ..rows import local_time
from ..widgets.colors import coloured
from ..widgets.event_log import EventLog
from ..widgets.header import ConsoleHeader
from ..widgets.virtual_table import Column, VirtualTable
from ..widgets.footer import ConsoleFooter
from .base import View

# A full collection walked every pod's objects (tens of milliseconds at 30,000 pods, on the
# way to a frame): after a list this many rows go out of its reach (gc.freeze).
FREEZE_ROWS = 2000
AGE_WIDTH = 5  # human_age's longest text below 10,000 days ("9m59s", "7h59m", "7d23h")
COLUMNS = (
    Column("namespace", "namespace"),
    Column("name", "name"),
    Column("phase", "phase"),
    Column("ready", "ready"),
    Column("restarts", "restarts", sort=lambda r: r.restarts),
    Column("node", "node"),
    Column("age", "age", sort=lambda r: -(r.created or 0.0), width=AGE_WIDTH),
)
AGE_REFRESH_SECONDS = 1.0
# A batch of up to this many log lines (a lone change, not a burst) is logged a frame after its
# rows are drawn: the log scrolls, which redraws each of its lines (measured: p50 22.5 ms with
# the lines in the rows' frame, 15.9 ms after it).
LOG_AFTER_ROWS = 8
MAX_EVENT_NAMESPACES = 20  # more namespaces than this in play: one list of every namespace's Events


def by_namespace_and_name(row: PodRow) -> tuple:
    return row.namespace, row.name


def label_selector_of(text: str) -> str | None:
    """k9s's `/-l app=web`: a label selector for the server, or None for a text filter."""
    text = text.strip()
    if text == "-l" or text.startswith("-l "):
        return text[2:].strip()
    return None


_LOWER: dict[str, str] = {}  # phase -> lower case (phases are a handful of shared strings)


def pod_matches(row: PodRow, needle: str) -> bool:
    """Namespace and name in one test (the key is namespace/name), then node and phase."""
    phase = _LOWER.get(row.phase)
    if phase is None:
        phase = _LOWER[row.phase] = row.phase.lower()
    return needle in row.key or needle in row.node or needle in phase


class PodsScreen(View):
    VIEW_TITLE = "Live pod events"
    HELP_WIDGETS = (VirtualTable,)
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="pod-filter-open",
                tooltip="Filter by namespace, name, node or phase text; -l SELECTOR asks the server for "
                        "the pods of a label selector"),
        Binding("escape", "clear_filter", "Clear filter", id="pod-filter-clear", show=False,
                tooltip="Clear the filter"),
        Binding("l", "logs", "Logs", id="pod-logs",
                tooltip="The pod's log, followed (f follow, p previous container, w wrap, / search)"),
        Binding("d", "describe", "Describe", id="pod-describe",
                tooltip="Describe the pod: conditions, containers, restarts and its Events"),
        Binding("y", "yaml", "YAML", id="pod-yaml", tooltip="The pod's YAML (Secret values masked)"),
        Binding("e", "events", "Events", id="pod-events-view",
                tooltip="Kubernetes Events of the namespaces in play (the -n namespace, else the shown pods')"),
    ]

    def __init__(self):
        super().__init__(id="pods")
        self._log_written = 0  # PodTable.log_total already written to the log widget
        self._log_held = False  # the last lone change's lines were held back for the next change's rows
        self._aged_at = 0.0  # the clock at the last age tick: rows drawn since show ages of then or later
        self._phases: dict[str, object] = {}  # phase -> its coloured Text, per theme
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id="pods-status")
        yield VirtualTable(COLUMNS, cells=self.cells, order=by_namespace_and_name, id="pod-table")
        yield Static("events", id="pod-events-title")
        yield EventLog(id="pod-events")
        yield Input(placeholder="filter: namespace, name, node or phase… or -l app=web (enter)", id="pod-filter")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#pod-filter", Input).display = False
        self.sync(None)
        self.watch(self.app, "watch_state", lambda _s: self.update_status(), init=False)
        self.watch(self.app, "api_stale", self.stale_changed)
        self._aged_at = self.app.settings.clock()
        self.set_interval(AGE_REFRESH_SECONDS, self.refresh_ages)
        self.query_one("#pod-table", VirtualTable).focus()

    def stale_changed(self, stale: bool) -> None:
        """A silent API server: the rows may be out of date, so they are greyed and it is said."""
        self.set_class(stale, "-stale")
        self.update_status()

    def recolour(self) -> None:
        self._phases.clear()
        self.query_one("#pod-table", VirtualTable).redraw()

    def cells(self, row: PodRow) -> tuple:
        phase = self._phases.get(row.phase)
        if phase is None:
            phase = self._phases[row.phase] = coloured(self.app, row.phase)
        age = human_age(self.app.settings.clock() - row.created) if row.created is not None else "-"
        return (row.namespace, row.name, phase, row.ready, str(row.restarts), row.node or "-", age)

    def sync(self, changes: TableChanges | None) -> None:
        """Apply one drained batch (or everything, when ``changes`` is None)."""
        model = self.app.pod_table
        table = self.query_one("#pod-table", VirtualTable)
        if changes is None:
            table.replace(model.rows)
            many = len(model.rows) >= FREEZE_ROWS
        else:
            keys = changes.added | changes.changed | changes.removed
            if keys:
                table.update({key: model.rows.get(key) for key in keys})
            many = len(changes.added) >= FREEZE_ROWS
        if many:  # a (re)list: its rows live long, keep the cyclic collector from walking them
            self.call_after_refresh(gc.freeze)
        if changes is not None and len(changes.log) <= LOG_AFTER_ROWS:
            self.call_after_refresh(self._log_after_rows)
        else:
            self.write_new_log_lines()
        self.update_status()

    def restart(self) -> None:
        """The app started a new watch: an empty table until its list arrives."""
        self._log_written = 0
        self.sync(None)

    def _log_after_rows(self) -> None:
        """A lone change's log lines, after its rows' frame. While another change waits in the
        watcher's buffer its rows go first (the log's frame would hold them back by one frame
        period) and its drain brings this here again, but only once in a row: under steady
        churn the buffer is never empty, and the log must not wait for a calm."""
        watcher = self.app.pod_watcher
        if watcher is not None and watcher.buffer and not self._log_held:
            self._log_held = True
            return
        self.write_new_log_lines()

    def write_new_log_lines(self) -> None:
        self._log_held = False
        model = self.app.pod_table
        new = min(model.log_total - self._log_written, len(model.log))
        if new > 0:
            fmt = lambda t: local_time(t, with_date=False)  # noqa: E731
            entries = list(model.log)[-new:]
            self.query_one(EventLog).write_lines([e.line(fmt) for e in entries])
        self._log_written = model.log_total

    def refresh_ages(self) -> None:
        """Ages tick: only the rows whose age text moved since the last tick are drawn again
        (kubectl's ages move each second for two minutes, then each minute, then each hour);
        a frame of the whole table each second would hold back a pod event's frame."""
        now = self.app.settings.clock()
        last, self._aged_at = self._aged_at, now

        def moved(row: PodRow) -> bool:
            return row.created is not None and human_age(now - row.created) != human_age(last - row.created)

        self.query_one("#pod-table", VirtualTable).redraw_where(moved)

    def update_status(self) -> None:
        model = self.app.pod_table
        scope = f"namespace {self.app.settings.namespace}" if self.app.settings.namespace else "all namespaces"
        filtered = ""
        selector = self.app.pod_label_selector
        if selector:
            scope += f" · labels {selector} (server-side)"
        if self.filter_text and label_selector_of(self.filter_text) is None:
            shown = self.query_one("#pod-table", VirtualTable).row_count
            filtered = f" · filter {self.filter_text!r}: {shown} shown"
        if self.app.api_stale:
            filtered += f" · STALE: the API server is {self.app.api_state}; rows may be out of date"
        # Text: a typed filter is never markup. One line of fixed height: no layout pass per batch.
        self.query_one("#pods-status", Static).update(
            Text(f"{len(model.rows)} pods in {scope} · watch: {self.app.watch_state}{filtered}", no_wrap=True,
                 overflow="ellipsis"), layout=False)

    # -- drill-down -----------------------------------------------------------------------------

    def selected_pod(self) -> PodRow | None:
        table = self.query_one("#pod-table", VirtualTable)
        key = table.current_key
        row = table.record(key) if key is not None else None
        if row is None:
            self.notify("No pod selected.", severity="warning")
        return row

    def action_logs(self) -> None:
        from .pod_logs import LogsScreen

        row = self.selected_pod()
        if row is not None:
            self.app.push_screen(LogsScreen(row.namespace, row.name))

    def action_describe(self) -> None:
        self._text_view("describe")

    def action_yaml(self) -> None:
        self._text_view("yaml")

    def _text_view(self, kind: str) -> None:
        from .pod_detail import PodTextScreen

        row = self.selected_pod()
        if row is not None:
            self.app.push_screen(PodTextScreen(kind, row.namespace, row.name))

    def namespaces_in_play(self) -> list[str] | None:
        """The console's namespace; else those of the pods the filter shows (None: all)."""
        if self.app.settings.namespace:
            return [self.app.settings.namespace]
        table = self.query_one("#pod-table", VirtualTable)
        if not self.filter_text and not self.app.pod_label_selector:
            return None
        shown = sorted({table.record(k).namespace for k in table.keys()})
        return shown if 0 < len(shown) <= MAX_EVENT_NAMESPACES else None

    def action_events(self) -> None:
        from .pod_detail import EventsScreen

        self.app.push_screen(EventsScreen(self.namespaces_in_play()))

    # -- filter -------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#pod-filter", Input)
        box.display = True
        box.focus()

    def show_filtered(self, text: str) -> None:
        """Filtered as if ``text`` had been typed after ``/`` (another view's jump here)."""
        box = self.query_one("#pod-filter", Input)
        box.display = True
        with box.prevent(Input.Changed):
            box.value = text
        self.set_filter(text)
        self.query_one("#pod-table", VirtualTable).focus()

    @on(Input.Changed, "#pod-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#pod-filter")
    def filter_done(self, event: Input.Submitted) -> None:
        selector = label_selector_of(event.value)
        if selector is not None:  # a selector restarts the watch: on enter, not per keystroke
            self.app.watch_pods_with(selector or None)
        self.query_one("#pod-table", VirtualTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#pod-filter", Input)
        box.value = ""
        box.display = False
        self.set_filter("")
        self.app.watch_pods_with(None)
        self.query_one("#pod-table", VirtualTable).focus()

    def set_filter(self, text: str) -> None:
        table = self.query_one("#pod-table", VirtualTable)
        if label_selector_of(text) is not None:
            table.set_filter(None)  # the server filters once enter is pressed
        else:
            before = self.filter_text if label_selector_of(self.filter_text) is None else ""
            table.filter_by_text(before, text, pod_matches)
        self.filter_text = text
        self.update_status()
