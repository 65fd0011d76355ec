"""The render baseline: a plain Textual DataTable with the version table's rows as strings."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable

from krkn_tui.rollback import list_versions
from krkn_tui.tui.rows import local_time, short_run, version_action

from .probe import FrameProbe

COLUMNS = ("created", "run", "type", "action", "status", "origin", "note")


def rows_like_versions(versions_dir) -> list[tuple[str, ...]]:
    """The same seven cells the console shows, as plain strings (computed before timing)."""
    return [(local_time(v.created_ns), short_run(v), v.scenario_type, version_action(v), v.status, v.origin,
             v.error or "") for v in list_versions(versions_dir)]


class PlainScreen(Screen):
    def __init__(self, rows, columns=COLUMNS):
        super().__init__()
        self.rows, self.columns = rows, columns

    def compose(self) -> ComposeResult:
        yield DataTable(id="plain", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        grid = self.query_one(DataTable)
        grid.add_columns(*self.columns)
        grid.add_rows(self.rows)
        grid.focus()


class PlainTableApp(FrameProbe, App):
    BINDINGS = [("3", "show", "table")]

    def __init__(self, rows, columns=COLUMNS):
        super().__init__()
        self._init_probe()
        self.rows, self.columns = rows, columns

    def action_show(self) -> None:
        self.push_screen(PlainScreen(self.rows, self.columns))

    def holds(self, count: int):
        def check() -> bool:
            return isinstance(self.screen, PlainScreen) and self.screen.query_one(DataTable).row_count == count
        return check
