"""View 4: the timeline. Scenarios, pod events, check transitions and rollback steps of the
session on one time axis: a lane chart of the whole span on top, every entry below in a table
with a row cursor; `p` on an entry opens the pods view filtered to what it touched."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static

from ...timeline import Timeline, TimelineEntry
from ..rows import local_time
from ..widgets.colors import style_for
from ..widgets.virtual_table import Column, VirtualTable
from .table_view import TableView

CHART_LANES = ("scenario", "check", "pod", "rollback")
MARKS = {"good": ("●", "$text-success"), "bad": ("▼", "$text-error"), "info": ("│", "$text-warning")}


def lane_chart(entries: list[TimelineEntry], width: int) -> Content:
    """One line per lane; each entry a mark at its place between the first and last entry."""
    if not entries:
        return Content.styled("nothing yet: run scenarios (view 1) and their events appear here", "dim")
    start, end = entries[0].at, entries[-1].at
    span = max(end - start, 1.0)
    cols = max(10, width - 12)
    lines = []
    for lane in CHART_LANES:
        cells: list[tuple[str, str] | None] = [None] * cols
        for e in entries:
            if e.lane != lane:
                continue
            i = min(cols - 1, int((e.at - start) / span * (cols - 1)))
            mark = MARKS.get(e.tone, MARKS["info"])
            if cells[i] is None or e.tone == "bad":  # a failure wins its column
                cells[i] = mark
        row = [Content.styled(f"{lane:<10}", "bold"), Content("▕")]
        row += [Content.styled(*c) if c else Content.styled("·", "dim") for c in cells]
        lines.append(Content.assemble(*row))
    axis = f"{'':<11}{local_time(start, with_date=False)}"
    right = f"+{end - start:.0f}s {local_time(end, with_date=False)}"
    lines.append(Content.styled(axis + right.rjust(max(0, cols + 11 - len(axis))), "dim"))
    return Content("\n").join(lines)


COLUMNS = [Column("time", "Time"), Column("offset", "Offset"), Column("lane", "Lane"), Column("what", "What")]
TONES = {"good": "passed", "bad": "failed"}


class TimelineScreen(TableView):
    VIEW_TITLE = "Timeline"
    COLUMNS = COLUMNS
    ABOVE_ID, TABLE_ID = "timeline-chart", "timeline-table"
    BINDINGS = [
        Binding("p", "pods", "Pods", id="timeline-pods",
                tooltip="The pods view, filtered to the pods the highlighted entry touched (the pod, its "
                        "namespace or its node)"),
    ]

    def __init__(self) -> None:
        super().__init__(id="timeline")
        self._written = 0
        self._origin = 0.0

    def on_resize(self) -> None:
        self.sync()

    def cells(self, record: tuple[int, TimelineEntry, float]) -> tuple:
        _i, e, origin = record
        tone = TONES.get(e.tone)
        return (local_time(e.at, with_date=False), f"+{e.at - origin:.1f}s",
                Text(e.lane, style=style_for(self.app, tone)) if tone else e.lane, e.text)

    def sync(self) -> None:
        timeline: Timeline = self.app.timeline
        entries = timeline.entries()
        table = self.query_one(VirtualTable)
        if entries and (len(entries) != self._written or entries[0].at != self._origin):
            # Entries can arrive late (a pod event drained after an engine event): the table
            # takes the sorted list again, and redraws only the rows that changed.
            origin = self._origin = entries[0].at
            table.replace({str(i): (i, e, origin) for i, e in enumerate(entries)})
            self._written = len(entries)
        self.query_one("#timeline-chart", Static).update(lane_chart(entries, self.size.width or 100))

    def selected(self) -> TimelineEntry | None:
        table = self.query_one(VirtualTable)
        key = table.current_key
        return table.record(key)[1] if key is not None else None

    def action_pods(self) -> None:
        e = self.selected()
        if e is None:
            self.notify("No entry: run scenarios first (view 1).", severity="warning")
        elif e.pods is None:
            self.notify(f"{e.lane} entry: no pods to show", severity="warning", markup=False)
        else:
            self.app.show_pods_filtered(e.pods)
