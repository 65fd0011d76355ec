"""View 6: past runs from the versions folder's reports, newest first, as `krkn-tui history`
prints them (the rows come from report/history.py: the console keeps no rule of its own). Read
again each time the view is shown: a run finished meanwhile is there. A long history is shown
from its files' names at once and filled in as a thread reads the reports (10,000 reports take
about half a second to read)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.widgets import Static
from textual.worker import get_current_worker

from ...errors import UserError
from ...records import reports_dir
from ...report.history import HEAD, RunRow, cells, history, named, report_paths
from ..widgets.virtual_table import Column, VirtualTable
from .table_view import TableView

COLUMNS = [Column(name, name.capitalize()) for name in HEAD]
READ_AT_ONCE = 500  # reports read before the first paint (~30 ms); beyond, names first


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
        if folder is None:
            self.show([], "no run reports in no versions folder")
            return
        try:
            paths = report_paths(folder)
        except UserError as e:  # the folder cannot be listed: say so, keep the console
            self.show([], str(e))
            return
        if len(paths) <= READ_AT_ONCE:
            self.show(history(folder, paths=paths), self.said(folder, len(paths)))
        else:
            self.show(named(paths), f"{len(paths)} run(s) in {reports_dir(folder)}, reading their reports…")
            # after the frame that shows them: the reading thread would take the GIL from it
            self.call_after_refresh(self.read, folder, paths)

    @staticmethod
    def said(folder: Path, count: int) -> str:
        where = reports_dir(folder)
        return f"{count} run(s) in {where}" if count else f"no run reports in {where}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="history-read")
    def read(self, folder: Path, paths: list[str]) -> None:
        rows = history(folder, paths=paths)
        worker = get_current_worker()
        if not worker.is_cancelled:  # a newer sync's listing wins
            self.app.call_from_thread(self.show, rows, self.said(folder, len(rows)), worker)

    def show(self, rows: list[RunRow], said: str, worker=None) -> None:
        if worker is not None and worker.is_cancelled:
            return
        self.query_one("#history-summary", Static).update(said)
        self.query_one(VirtualTable).replace({str(i): (i, cells(r)) for i, r in enumerate(rows)})
