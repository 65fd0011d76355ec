"""View 6: past runs from the versions folder's reports, newest first, as `krkn-tui history`
prints them (the rows come from report/history.py: the console keeps no rule of its own). Read
again each time the view is shown: a run finished meanwhile is there."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from ...errors import UserError
from ...records import reports_dir
from ...report.history import HEAD, cells, history
from ..widgets.virtual_table import Column, VirtualTable
from .table_view import TableView

COLUMNS = [Column(name, name.capitalize()) for name in HEAD]


class HistoryScreen(TableView):
    VIEW_TITLE = "History"
    COLUMNS = COLUMNS
    ABOVE_ID, TABLE_ID = "history-summary", "history-table"

    def __init__(self) -> None:
        super().__init__(id="history")

    def cells(self, record: tuple[int, list[str]]) -> tuple:
        return tuple(record[1])

    def sync(self) -> None:
        folder: Path | None = getattr(self.app, "versions_dir", None)
        try:
            rows = history(folder) if folder is not None else []
            where = reports_dir(folder) if folder is not None else "no versions folder"
            said = f"{len(rows)} run(s) in {where}" if rows else f"no run reports in {where}"
        except UserError as e:  # the folder cannot be listed: say so, keep the console
            rows, said = [], str(e)
        self.query_one("#history-summary", Static).update(said)
        self.query_one(VirtualTable).replace({str(i): (i, cells(r)) for i, r in enumerate(rows)})
