"""View 4: the timeline. Scenarios, pod events, check transitions and rollback steps of the
session on one time axis: a lane chart of the whole span on top, every entry below."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from ...timeline import Timeline, TimelineEntry
from ..rows import local_time
from ..widgets.header import ConsoleHeader
from ..widgets.footer import ConsoleFooter
from ..widgets.line_log import LineLog
from .base import View

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


def entry_line(e: TimelineEntry, origin: float) -> str:
    return f"{local_time(e.at, with_date=False)} +{e.at - origin:7.1f}s  {e.lane:<9} {e.text}"


class TimelineScreen(View):
    VIEW_TITLE = "Timeline"

    def __init__(self):
        super().__init__(id="timeline")
        self._written = 0

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id="timeline-chart")
        yield LineLog(max_lines=5000, id="timeline-log")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.sync()

    def on_resize(self) -> None:
        self.sync(redraw=True)

    def sync(self, redraw: bool = False) -> None:
        timeline: Timeline = self.app.timeline
        entries = timeline.entries()
        log = self.query_one("#timeline-log", LineLog)
        if redraw or len(entries) < self._written:
            log.clear()
            self._written = 0
        if entries and len(entries) > self._written:
            # Entries can arrive late (a pod event drained after an engine event): rewrite then.
            origin = entries[0].at
            log.clear()
            log.write_lines([entry_line(e, origin) for e in entries])
            self._written = len(entries)
        self.query_one("#timeline-chart", Static).update(lane_chart(entries, self.size.width or 100))
