"""Progress of a run: one block per scenario (bar, log lines, result) and a run log.

The engine's events arrive in order, a batch at a time, as one ``EngineEvents`` message (the
engine's worker never touches widgets); each event goes to the handler of its type."""

from __future__ import annotations

from functools import singledispatchmethod

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Log, ProgressBar, Static

from ... import events as ev
from ...sanitize import visible
from ..rows import short_type, tilde

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
    """The run's blocks in plan order, then the run-level log (waits, rollback, archive)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.current: ScenarioProgress | None = None
        self.blocks: dict[int, ScenarioProgress] = {}
        self.rolling_back = False  # executor events then belong to the run, not to a scenario

    def compose(self) -> ComposeResult:
        yield Static("No run yet: mark scenarios with space, then press r.", id="run-status")
        yield Vertical(id="run-scenarios")
        yield Log(max_lines=RUN_LOG_LINES, id="run-log")

    def start(self, items: list[tuple[int, str, str]]) -> None:
        """items: (index, scenario_type, file label) in run order."""
        self.current = None
        self.rolling_back = False
        self.blocks = {index: ScenarioProgress(index, stype, label) for index, stype, label in items}
        holder = self.query_one("#run-scenarios", Vertical)
        holder.remove_children()
        holder.mount_all(self.blocks.values())
        self.query_one("#run-log", Log).clear()
        self.add_class("-started")
        self.remove_class("-failed", "-passed")
        self.set_status(f"starting: {len(items)} scenario(s)")

    def set_status(self, text: str) -> None:
        self.query_one("#run-status", Static).update(plain(text))

    def run_log(self, text: str) -> None:
        self.query_one("#run-log", Log).write_line(visible(text))

    class CheckEvent(Message):
        """A check's probe or transition, for the app's check strip and pod event log."""

        def __init__(self, event: ev.CheckProbed | ev.CheckChanged):
            super().__init__()
            self.event = event

    @on(EngineEvents)
    def _engine_events(self, message: EngineEvents) -> None:
        for event in message.events:
            self.apply(event)

    # -- one handler per event type (a test checks none is missing) -----------------------------

    @singledispatchmethod
    def apply(self, event: ev.Event) -> None:
        """An event type this panel does not know yet: ignored, never a crash of the console."""

    @apply.register
    def _(self, e: ev.RunStarted) -> None:
        self.set_status(f"running {e.scenarios} scenario(s) · run {e.run_id or ''}")

    @apply.register
    def _(self, e: ev.IterationStarted) -> None:
        self.set_status(f"running {e.label} · run {e.run_id or ''}")
        self.run_log(f"{e.label} started" + (": repeats until stopped (E-STOP ends it)" if e.daemon else ""))

    @apply.register
    def _(self, e: ev.ScenarioStarted) -> None:
        self.current = self.blocks.get(e.index)
        if self.current is not None:
            self.current.set_status("running")
            self.current.progress(0)
            self.current.log_line(f"started {e.id} (iteration {e.iteration + 1})")

    @apply.register
    def _(self, e: ev.Step) -> None:
        if self.current is not None:
            self.current.log_line(e.message)
            if e.progress is not None:
                self.current.progress(float(e.progress))

    @apply.register
    def _(self, e: ev.RollbackRegistered) -> None:
        self._step_log(f"rollback registered: {e.verb} {e.kind} {e.target}")

    @apply.register
    def _(self, e: ev.ClusterChange) -> None:
        if self.current is not None:
            self.current.log_line(f"changed: {e.action} {e.target}".rstrip())

    @apply.register
    def _(self, e: ev.Waiting) -> None:
        self.run_log(f"waiting {e.seconds:g}s before the next scenario")

    @apply.register
    def _(self, e: ev.ScenarioFinished) -> None:
        block = self.blocks.get(e.index)
        if block is not None:
            block.finish(e)

    @apply.register
    def _(self, e: ev.RollbackRunStarted) -> None:
        self.rolling_back = True
        self.set_status(f"rolling back {e.files} file(s): {e.reason}")
        self.run_log(f"rollback started ({e.reason}): {e.files} pending file(s)")

    def _step_log(self, text: str) -> None:
        """A scenario undoing its own change logs there; the run's rollback in the run log."""
        if self.rolling_back or self.current is None:
            self.run_log(text)
        else:
            self.current.log_line(text)

    @apply.register
    def _(self, e: ev.RollbackStarted) -> None:
        if self.rolling_back:
            self.set_status(f"rolling back: {e.file_name}")

    @apply.register
    def _(self, e: ev.RollbackRetrying) -> None:
        self._step_log(f"{e.file_name}: API server not available; retrying in {e.delay:.1f}s (attempt {e.attempt})")

    @apply.register
    def _(self, e: ev.RollbackExecuted) -> None:
        self._step_log(f"rollback step executed: {e.file_name}" if self.rolling_back else f"restored: {e.file_name}")

    @apply.register
    def _(self, e: ev.RollbackFailed) -> None:
        self._step_log(f"rollback step FAILED: {e.file_name}: {e.error}")

    @apply.register
    def _(self, e: ev.RollbackRefused) -> None:
        self._step_log(f"rollback step refused: {e.file_name}: {e.error}")

    @apply.register
    def _(self, e: ev.RollbackExecutedElsewhere) -> None:
        self._step_log(f"rollback step already executed from the cluster journal: {e.file_name}")

    @apply.register
    def _(self, e: ev.RollbackClusterForced) -> None:
        self._step_log(f"rollback step of another cluster, run anyway (--force-cluster): {e.file_name}: {e.error}")

    @apply.register(ev.GuardStarted)
    @apply.register(ev.GuardTakeover)
    @apply.register(ev.GuardIdle)
    @apply.register(ev.JournalUnavailable)
    @apply.register(ev.RollbackFromJournal)
    def _(self, e: ev.Event) -> None:
        """Only `krkn-tui guard` reports these, and the console runs no guard: what a guard did
        reaches the console through the journal (the versions view's journal column)."""

    @apply.register
    def _(self, e: ev.RunLeftAlone) -> None:
        self.run_log(f"run {e.run_id} left alone: {e.error}")

    @apply.register
    def _(self, e: ev.JournalNotUpdated) -> None:
        self.run_log("cluster journal not updated" + (f" for {e.file}" if e.file else "") + f": {e.error}")

    @apply.register
    def _(self, e: ev.StaleTempRemoved) -> None:
        self.run_log(f"removed {e.file_name}: left by a writer that died mid-write")

    @apply.register
    def _(self, e: ev.RollbackArchived) -> None:
        pass  # a run's archive is said once, by RunArchived

    @apply.register
    def _(self, e: ev.SecretsRevealed) -> None:
        pass  # said by the inspect view that revealed them, not part of a run

    @apply.register
    def _(self, e: ev.RollbackRunFinished) -> None:
        self.rolling_back = False
        self.run_log(f"rollback finished: {len(e.steps) - len(e.failed)} done, {len(e.failed)} failed")

    @apply.register
    def _(self, e: ev.RunArchived) -> None:
        self.run_log(f"run passed: {e.files} version file(s) archived")

    @apply.register
    def _(self, e: ev.RunFinished) -> None:
        report = f" · report {tilde(e.report)}" if e.report else ""
        self.set_status(f"run {e.status} (exit {e.exit_code}){report}")
        self.set_class(e.status != "passed", "-failed")
        self.set_class(e.status == "passed", "-passed")
        self.run_log(f"run {e.status} (exit {e.exit_code})")

    # -- steady-state checks and the blast radius: the run log, the header's check strip, the
    # pod event log (transitions), and the timeline (the app adds every event to it) ----------

    @apply.register
    def _(self, e: ev.ScenarioPreviewed) -> None:
        for line in e.lines:
            self.run_log(line)

    @apply.register
    def _(self, e: ev.CheckProbed) -> None:
        self.post_message(self.CheckEvent(e))  # the header's strip is the app's

    @apply.register
    def _(self, e: ev.CheckChanged) -> None:
        self.run_log(f"check {e.name}: {e.state} ({e.phase}): {e.seen}")
        self.post_message(self.CheckEvent(e))

    @apply.register
    def _(self, e: ev.CheckAborted) -> None:
        self.set_status(f"check {e.name} failed: stopping and rolling back")
        self.run_log(f"check {e.name} FAILED ({e.seen}): stopping the run and rolling back")

    @apply.register
    def _(self, e: ev.SteadyState) -> None:
        state = "ok" if e.ok else f"FAILING ({', '.join(e.failing)})"
        self.run_log(f"steady state {e.phase}: {state}")
