"""View 5: krkn's verdicts of the run (Prometheus and cerberus): per scenario file its SLOs with
query and value, its score, the critical alerts and cerberus's go/no-go after it; then the whole
run's alert profile, SLOs and resiliency score. Rows come from report/verdicts.py, which the
report's table reads too: the console keeps no rule of its own."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...report.verdicts import WHOLE_RUN, VerdictGroup, VerdictRow, summary, verdict_groups
from ..rows import local_time
from ..widgets.colors import style_for
from ..widgets.virtual_table import Column, VirtualTable
from .table_view import TableView


COLUMNS = [Column("verdict", "Verdict"), Column("what", "What", width=36), Column("result", "Result"),
           Column("detail", "Query → value / detail")]
NO_RUN = "no verdicts yet: a run whose config has performance_monitoring, resiliency or cerberus shows them here"


def rows_of(groups: list[VerdictGroup]) -> dict[str, tuple[int, VerdictGroup, VerdictRow | None]]:
    """key -> (place, group, row): a head row per group (its title and score), then its rows."""
    out: dict[str, tuple[int, VerdictGroup, VerdictRow | None]] = {}
    place = 0
    for g, group in enumerate(groups):
        out[f"g{g}"] = (place, group, None)
        place += 1
        for r, row in enumerate(group.rows):
            out[f"g{g}r{r}"] = (place, group, row)
            place += 1
    return out


class VerdictsScreen(TableView):
    VIEW_TITLE = "Verdicts"
    COLUMNS = COLUMNS
    ABOVE_ID, TABLE_ID = "verdicts-summary", "verdicts-table"

    def __init__(self) -> None:
        super().__init__(id="verdicts")
        self._shown: Any = object()

    def cells(self, record: tuple[int, VerdictGroup, VerdictRow | None]) -> tuple:
        _place, group, row = record
        if row is None:  # the group's head: the scenario file (or the whole run), its score and window
            window = (f" · {local_time(group.window[0], with_date=False)} → {local_time(group.window[1], with_date=False)}"
                      if group.window else "")
            kind = "whole run" if group.title == WHOLE_RUN else "scenario file"
            return (Text(kind, style="bold"), Text(group.title, style="bold"),
                    Text(f"score {group.score}" if group.score else "", style="bold"), group.counted + window)
        tone = "failed" if row.bad else "passed" if row.bad is False else None
        result = Text(row.result, style=style_for(self.app, tone)) if tone else row.result
        return (row.verdict, row.what, result, row.detail)

    def sync(self) -> None:
        """Show the run's monitoring record as it is now (the app keeps the latest)."""
        # the console's attribute, read by name: the view imports nothing of the app (no circle)
        record: dict | None = getattr(self.app, "verdicts", None)
        if record is self._shown:
            return
        self._shown = record
        self.query_one("#verdicts-summary", Static).update(
            Text(summary(record) if record is not None else NO_RUN))
        self.query_one(VirtualTable).replace(rows_of(verdict_groups(record)) if record is not None else {})
