"""View 1: the scenarios of config.yaml, a preview of the highlighted one, and the run's progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ...config import FROM_ABSOLUTE
from ...fsio import read_head
from ...sanitize import one_line, visible
from ..rows import ScenarioRow, scenario_row, short_type, tilde
from ..widgets.colors import coloured
from ..widgets.header import ConsoleHeader
from ..widgets.virtual_table import Column, VirtualTable
from ..widgets.run_panel import RunPanel
from ..widgets.footer import ConsoleFooter
from .base import View, allowed
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ...events import Event

MARK = "●"
COLUMNS = (Column("mark", " "), Column("index", "#"), Column("type", "type"), Column("file", "file"),
           Column("params", "parameters"))
PREVIEW_BYTES = 64 * 1024


def preview_content(path: Path, colour: bool = True) -> Content:
    try:
        text = visible(read_head(path, PREVIEW_BYTES).decode("utf-8", "replace"), keep="\n\t")
    except OSError as exc:
        return Content.styled(f"cannot read {visible(path)}: {one_line(exc.strerror or exc)}", "$text-error")
    if not colour:
        return Content(text)
    from textual.highlight import highlight  # pygments: ~20 ms to import and build the lexer

    return highlight(text, language="yaml")


def blast_radius_content(previews: list) -> Content:
    """The confirm dialog's preview: per scenario its targets (counts, first names); a scenario
    that matches nothing in red, as a failure before anything changes."""
    failing = [p for p in previews if not p.ok]
    head = Content.styled("Blast radius", "bold")
    if failing:
        head = head + Content.styled(f" — {len(failing)} scenario(s) would FAIL before any change", "bold $text-error")
    parts = [head]
    for p in previews:
        lines = p.lines()
        parts.append(Content.styled(lines[0], "$text-error" if not p.ok else "bold"))
        parts.extend(Content(line) for line in lines[1:])
    return Content("\n").join(parts)


class PickerScreen(View):
    VIEW_TITLE = "Scenarios"
    HELP_WIDGETS = (VirtualTable,)
    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", id="mark", tooltip="Mark or unmark the highlighted scenario"),
        Binding("r", "run_marked", "Run marked", id="run", tooltip="Run the marked scenarios (asks first)"),
    ]

    def __init__(self):
        super().__init__(id="picker")
        self.rows: list[ScenarioRow] = []
        self.marked: set[str] = set()
        self._colour_preview = False  # until the first frame is out
        self._colour_scheduled = False

    def compose(self) -> ComposeResult:
        loaded = self.app.loaded
        yield ConsoleHeader(id="header")
        if loaded.error:
            yield Static(Content.assemble(("config not loaded: ", "bold"), one_line(loaded.error)), id="config-error",
                         classes="error-banner")
        # records: (row, marked), in the config's order
        yield VirtualTable(COLUMNS, cells=self.row_cells, order=lambda r: r[0].ref.index, id="scenarios")
        with Horizontal(id="picker-bottom"):
            with Vertical(id="preview-pane"):
                yield Static("", id="preview-title")
                with VerticalScroll(id="preview-scroll"):
                    yield Static("", id="preview")
            yield RunPanel(id="run-panel")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one("#scenarios", VirtualTable)
        config = self.app.loaded.config
        if config is not None:
            # The files are read after the first frame: their parameters fill in on the next one.
            base = Path(config.path).absolute().parent
            self.rows = [scenario_row(ref, base, parse=False) for ref in config.scenarios]
            self.call_after_refresh(self.parse_rows)
        self.refresh_rows()
        if self.rows:
            self.show_preview(self.rows[0])
        else:
            self.query_one("#preview-title", Static).update("no scenarios in the config")
        table.focus()

    def parse_rows(self) -> None:
        """Read the scenario files not read yet (each once)."""
        if all(row.parsed for row in self.rows):
            return
        base = Path(self.app.loaded.config.path).absolute().parent
        self.rows = [row if row.parsed else scenario_row(row.ref, base) for row in self.rows]
        self.refresh_rows()

    def recolour(self) -> None:
        self.query_one("#scenarios", VirtualTable).redraw()

    def row_cells(self, record: tuple[ScenarioRow, bool]) -> tuple:
        row, marked = record
        if not row.ref.supported:  # greyed: krkn's type, not run here
            return (Text(" "), *(coloured(self.app, visible(cell), "unsupported") for cell in (
                str(row.ref.index + 1), short_type(row.ref.scenario_type), row.file_label, row.summary)))
        mark = coloured(self.app, MARK, "passed") if marked else Text(" ")
        summary = one_line(row.summary)
        params = coloured(self.app, f"✗ {summary}", "error") if row.error else Text(summary, no_wrap=True)
        return (mark, str(row.ref.index + 1), visible(short_type(row.ref.scenario_type)), visible(row.file_label),
                params)

    def refresh_rows(self) -> None:
        table = self.query_one("#scenarios", VirtualTable)
        table.replace({row.key: (row, row.key in self.marked) for row in self.rows})

    def highlighted(self) -> ScenarioRow | None:
        key = self.query_one("#scenarios", VirtualTable).current_key
        return next((r for r in self.rows if r.key == key), None)

    def show_preview(self, row: ScenarioRow) -> None:
        note = "" if row.ref.supported else f" ({row.summary})"
        found = tilde(row.ref.file) + ("" if row.ref.resolved_from == FROM_ABSOLUTE
                                       else f" (relative to the {row.ref.resolved_from})")
        self.query_one("#preview-title", Static).update(
            Content.assemble((visible(row.file_label), "bold"), f" — {visible(row.ref.scenario_type)}{note}\n",
                             (visible(found), "dim")))
        self.query_one("#preview", Static).update(preview_content(row.ref.file, self._colour_preview))
        if not self._colour_preview and not self._colour_scheduled:
            # The console's first frame shows the text; its colours follow on the next one.
            self._colour_scheduled = True
            self.call_after_refresh(self._recolour_preview)

    def _recolour_preview(self) -> None:
        self._colour_preview = True
        row = self.highlighted()
        if row is not None:
            self.show_preview(row)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        row = self.highlighted()
        if row is not None:
            self.show_preview(row)

    # -- actions ------------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        if not row.ref.supported:
            self.notify(f"#{row.ref.index + 1} {row.ref.scenario_type} is {row.summary}; it cannot be marked.",
                        severity="warning")
            return
        self.marked ^= {row.key}
        self.refresh_rows()

    def action_run_marked(self) -> None:
        if not allowed(self.app, "run_marked"):
            return
        if self.app.run_active:
            self.notify("A run is in progress; ctrl+e stops it.", severity="warning")
            return
        self.parse_rows()  # a file with an error is refused below
        chosen = [r for r in self.rows if r.key in self.marked]
        if not chosen:
            self.notify("Mark scenarios with space first.", severity="warning")
            return
        broken = [r for r in chosen if r.error]
        if broken:
            self.notify(one_line(f"#{broken[0].ref.index + 1} {broken[0].file_label} does not parse: "
                                 f"{broken[0].error}"), severity="error", markup=False)
            return
        lines = [f"  #{r.ref.index + 1} {short_type(r.ref.scenario_type)} · {r.file_label}" for r in chosen]
        from ...engine import repeat_note

        note = repeat_note(self.app.loaded.config, dry_run=False)
        repeat = [note] if note else []
        body = "\n".join([f"on {self.app.target_summary}", *lines, *repeat,
                          f"rollback files go to {tilde(self.app.versions_dir)}"])
        dialog = ConfirmScreen(f"Run {len(chosen)} scenario(s)?", body, "Run",
                               detail="Blast radius: reading the cluster…")
        self.app.push_screen(dialog, callback=lambda yes: self._start(chosen) if yes else None)
        self.read_blast_radius(dialog, {r.ref.index for r in chosen})

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def read_blast_radius(self, dialog: ConfirmScreen, indices: set[int]) -> None:
        """What the marked scenarios will touch, read while the dialog is open (read-only calls)."""
        from ...engine import plan
        from ...scenarios.preview import preview_plan

        config = self.app.loaded.config
        try:
            previews = preview_plan(plan(config, only=indices), self.app.api_client_factory(), config)
            detail = blast_radius_content(previews)
        except Exception as exc:  # an unreachable cluster: say so, the dialog still works
            from ...kube.podstream import describe_error

            detail = Content.styled(f"Blast radius: cannot read the cluster: {describe_error(exc)}", "$text-error")
        self.app.call_from_thread(dialog.set_detail, detail)

    def _start(self, chosen: list[ScenarioRow]) -> None:
        self.query_one(RunPanel).start([(r.ref.index, r.ref.scenario_type, r.file_label) for r in chosen])
        self.app.start_run({r.ref.index for r in chosen})

    def apply_engine_events(self, events: Sequence[Event]) -> None:
        """A drained batch, oldest first, to the run panel's handler of each type."""
        from ..widgets.run_events import apply_event  # the events module: after the first frame

        panel = self.query_one(RunPanel)
        for event in events:
            apply_event(event, panel)

    def run_failed_to_start(self, message: str) -> None:
        panel = self.query_one(RunPanel)
        panel.set_status(f"cannot run: {message}")
        panel.add_class("-failed")
