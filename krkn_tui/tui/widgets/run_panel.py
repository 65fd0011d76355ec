"""Progress of a run: one block per scenario (bar, log lines, result) and the run's own lines
(blast radius, steady state, waits, rollback), all in time order: a run line goes below the
latest started block (above the first before any), and a block moves below the run lines said
before it started; blocks not started yet wait at the bottom in plan order.

The engine's events arrive in order, a batch at a time, as one ``EngineEvents`` message (the
engine's worker never touches widgets); each event goes to the handler of its type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Log, ProgressBar, Static

from ...sanitize import visible
from ..rows import short_type

if TYPE_CHECKING:
    from ... import events as ev

SCENARIO_LOG_LINES = 200
RUN_LOG_LINES = 500


def recovery_lines(details: dict) -> list[str]:
    """Pod recovery times, measured from the deletion: rescheduling and readiness apart."""
    lines = []
    for pod in details.get("pods") or []:
        if not isinstance(pod, dict) or pod.get("rescheduling_seconds") is None and pod.get("readiness_seconds") is None:
            continue
        name = "/".join(p for p in (pod.get("namespace"), pod.get("name")) if p)
        lines.append(f"{name}: replacement created after {_seconds(pod.get('rescheduling_seconds'))}, "
                     f"Ready after {_seconds(pod.get('readiness_seconds'))}")
    return lines


def _seconds(value) -> str:
    return "-" if value is None else f"{value:.2f}s"


class EngineEvents(Message):
    """A batch of the engine's events, oldest first (one per drain of the console)."""

    bubble = False

    def __init__(self, events: tuple[ev.Event, ...]):
        super().__init__()
        self.events = events


class ScenarioProgress(Vertical):
    """One planned scenario: title, bar, its log lines, and its result once finished."""

    def __init__(self, index: int, scenario_type: str, file_label: str):
        super().__init__(classes="scenario-progress")
        self.index = index
        self.title = f"#{index + 1} {short_type(scenario_type)} · {file_label}"
        self.status = "waiting"

    def compose(self) -> ComposeResult:
        yield Label(self._title_text(), classes="scenario-title")
        yield ProgressBar(total=100, show_eta=False)
        yield Log(max_lines=SCENARIO_LOG_LINES, classes="scenario-log")
        yield Static("", classes="scenario-result")

    def _title_text(self) -> Text:
        return plain(f"{self.title} — {self.status}")

    def set_status(self, status: str) -> None:
        self.status = status
        self.set_class(status in ("failed", "error", "interrupted"), "-failed")
        self.set_class(status == "passed", "-passed")
        self.query_one(".scenario-title", Label).update(self._title_text())

    def log_line(self, text: str) -> None:
        self.query_one(Log).write_line(visible(text))

    def progress(self, fraction: float) -> None:
        self.query_one(ProgressBar).update(progress=max(0.0, min(1.0, fraction)) * 100)

    def finish(self, event: ev.ScenarioFinished) -> None:
        status = event.status
        if status == "passed":
            self.progress(1.0)
        self.set_status(status)
        summary = f"{status.upper()} in {event.seconds:.1f}s — {event.message or ''}".rstrip(" —")
        lines = [summary, *recovery_lines(event.details or {})]
        self.query_one(".scenario-result", Static).update(plain("\n".join(lines)))


def plain(text: str) -> Text:
    """Event text as Text: a scenario file or error message holding "[/x]" is shown, not parsed."""
    return Text(visible(text, keep="\n"))


class RunPanel(VerticalScroll):
    """The run's blocks and run-log segments in time order (see the module's note)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.current: ScenarioProgress | None = None
        self.blocks: dict[int, ScenarioProgress] = {}
        self.rolling_back = False  # executor events then belong to the run, not to a scenario
        self._segments: list[Log] = []  # the run's own lines, each segment after the block before it
        self._tail: Log | None = None  # where the next run line goes (None: a new segment)
        self._after: ScenarioProgress | None = None  # the latest started block

    def compose(self) -> ComposeResult:
        yield Static("No run yet: mark scenarios with space, then press r.", id="run-status")
        yield Vertical(id="run-scenarios")

    def start(self, items: list[tuple[int, str, str]]) -> None:
        """items: (index, scenario_type, file label) in run order."""
        self.current = None
        self.rolling_back = False
        self._segments, self._tail, self._after = [], None, None
        self.blocks = {index: ScenarioProgress(index, stype, label) for index, stype, label in items}
        holder = self.query_one("#run-scenarios", Vertical)
        holder.remove_children()
        holder.mount_all(self.blocks.values())
        self.add_class("-started")
        self.remove_class("-failed", "-passed")
        self.set_status(f"starting: {len(items)} scenario(s)")

    def set_status(self, text: str) -> None:
        self.query_one("#run-status", Static).update(plain(text))

    def run_log(self, text: str) -> None:
        self._segment().write_line(visible(text))

    def run_lines(self) -> list[str]:
        """Every run line so far, oldest first."""
        return [line for segment in self._segments for line in segment.lines]

    def _segment(self) -> Log:
        if self._tail is None:
            log = Log(max_lines=RUN_LOG_LINES, classes="run-log")
            holder = self.query_one("#run-scenarios", Vertical)
            if self._after is not None:
                holder.mount(log, after=self._after)
            elif holder.children:
                holder.mount(log, before=0)
            else:
                holder.mount(log)
            self._segments.append(log)
            self._tail = log
        return self._tail

    def scenario_started(self, block: ScenarioProgress) -> None:
        """``block`` goes below everything said so far; the next run line below it."""
        holder = self.query_one("#run-scenarios", Vertical)
        anchor = self._tail or self._after
        if anchor is None:
            holder.move_child(block, before=0)
        elif anchor is not block:
            holder.move_child(block, after=anchor)
        self.current = self._after = block
        self._tail = None

    class CheckEvent(Message):
        """A check's probe or transition, for the app's check strip and pod event log."""

        def __init__(self, event: ev.CheckProbed | ev.CheckChanged):
            super().__init__()
            self.event = event

    @on(EngineEvents)
    def _engine_events(self, message: EngineEvents) -> None:
        for event in message.events:
            self.apply(event)

    def apply(self, event: ev.Event) -> None:
        from .run_events import apply_event  # the events module: after the first frame

        apply_event(event, self)

    def _step_log(self, text: str) -> None:
        """A scenario undoing its own change logs there; the run's rollback in the run log."""
        if self.rolling_back or self.current is None:
            self.run_log(text)
        else:
            self.current.log_line(text)
