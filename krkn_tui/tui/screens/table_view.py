"""A view that is one line of text over one table of records in their own order (the timeline's
and the verdicts' views): composed, kept in sync on mount and on return, recoloured on a theme
change. A subclass names its columns and ids and gives ``cells`` and ``sync``."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from ..widgets.footer import ConsoleFooter
from ..widgets.header import ConsoleHeader
from ..widgets.virtual_table import Column, VirtualTable
from .base import View


class TableView(View):
    HELP_WIDGETS = (VirtualTable,)
    COLUMNS: ClassVar[list[Column]] = []
    ABOVE_ID = ""  # the Static above the table
    TABLE_ID = ""
    _left = False  # another view was shown since the last sync

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id=self.ABOVE_ID)
        # records are (place, ...): the table keeps them in that order
        yield VirtualTable(self.COLUMNS, self.cells, order=lambda record: record[0], id=self.TABLE_ID)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.sync()
        self.query_one(VirtualTable).focus()  # j, k and the view's keys work at once

    def on_screen_resume(self) -> None:
        # Shown again after another view: sync. The resumes that come with the first showing
        # find the mount's sync fresh (a history of 10,000 reports was read three times).
        if self._left:
            self._left = False
            self.sync()

    def on_screen_suspend(self) -> None:
        self._left = True

    def recolour(self) -> None:
        self.query_one(VirtualTable).redraw()

    def cells(self, record: Any) -> tuple:
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError
