"""Progress of a run: one block per scenario (bar, log lines, result) and a run log.

Fed with the engine's event dicts, in order, on the UI thread (the engine's worker never touches
widgets)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Log, ProgressBar, Static

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

    def _title_text(self) -> str:
        return f"{self.title} — {self.status}"

    def set_status(self, status: str) -> None:
        self.status = status
        self.set_class(status in ("failed", "error", "interrupted"), "-failed")
        self.set_class(status == "passed", "-passed")
        self.query_one(".scenario-title", Label).update(self._title_text())

    def log_line(self, text: str) -> None:
        self.query_one(Log).write_line(text)

    def progress(self, fraction: float) -> None:
        self.query_one(ProgressBar).update(progress=max(0.0, min(1.0, fraction)) * 100)

    def finish(self, event: dict) -> None:
        status = event.get("status", "?")
        if status == "passed":
            self.progress(1.0)
        self.set_status(status)
        summary = f"{status.upper()} in {event.get('seconds', 0):.1f}s — {event.get('message') or ''}".rstrip(" —")
        lines = [summary, *recovery_lines(event.get("details") or {})]
        self.query_one(".scenario-result", Static).update("\n".join(lines))


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
        self.query_one("#run-status", Static).update(text)

    def run_log(self, text: str) -> None:
        self.query_one("#run-log", Log).write_line(text)

    def apply(self, event: dict) -> None:
        kind = event.get("event")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(event)

    # -- one method per engine event ----------------------------------------------------------

    def _on_run_started(self, e: dict) -> None:
        self.set_status(f"running {e.get('scenarios')} scenario(s) · run {e.get('run_id', '')}")

    def _on_scenario_started(self, e: dict) -> None:
        self.current = self.blocks.get(e.get("index"))
        if self.current is not None:
            self.current.set_status("running")
            self.current.progress(0)
            self.current.log_line(f"started {e.get('id')} (iteration {e.get('iteration', 0) + 1})")

    def _on_step(self, e: dict) -> None:
        if self.current is not None:
            self.current.log_line(str(e.get("message", "")))
            if isinstance(e.get("progress"), (int, float)):
                self.current.progress(float(e["progress"]))

    def _on_rollback_registered(self, e: dict) -> None:
        target = "/".join(p for p in (e.get("namespace"), e.get("name")) if p)
        text = f"rollback registered: {e.get('verb')} {e.get('kind')} {target}"
        self.current.log_line(text) if self.current is not None else self.run_log(text)

    def _on_cluster_change(self, e: dict) -> None:
        target = "/".join(p for p in (e.get("namespace"), e.get("name")) if p)
        if self.current is not None:
            self.current.log_line(f"changed: {e.get('action')} {target}".rstrip())

    def _on_waiting(self, e: dict) -> None:
        self.run_log(f"waiting {e.get('seconds', 0):g}s before the next scenario")

    def _on_scenario_finished(self, e: dict) -> None:
        block = self.blocks.get(e.get("index"))
        if block is not None:
            block.finish(e)

    def _on_rollback_run_started(self, e: dict) -> None:
        self.rolling_back = True
        self.set_status(f"rolling back {e.get('files', 0)} file(s): {e.get('reason')}")
        self.run_log(f"rollback started ({e.get('reason')}): {e.get('files', 0)} pending file(s)")

    def _step_log(self, text: str) -> None:
        """A scenario undoing its own change logs there; the run's rollback in the run log."""
        if self.rolling_back or self.current is None:
            self.run_log(text)
        else:
            self.current.log_line(text)

    def _on_rollback_executed(self, e: dict) -> None:
        if self.rolling_back:  # a scenario's own restore is logged by the scenario ("restored: ...")
            self.run_log(f"rollback step executed: {_name(e)}")

    def _on_rollback_failed(self, e: dict) -> None:
        self._step_log(f"rollback step FAILED: {_name(e)}: {e.get('error')}")

    def _on_rollback_refused(self, e: dict) -> None:
        self._step_log(f"rollback step refused: {_name(e)}: {e.get('error')}")

    def _on_rollback_run_finished(self, e: dict) -> None:
        self.rolling_back = False
        steps = e.get("steps") or []
        failed = [s for s in steps if s.get("status") not in ("executed", "skipped")]
        self.run_log(f"rollback finished: {len(steps) - len(failed)} done, {len(failed)} failed")

    def _on_run_archived(self, e: dict) -> None:
        self.run_log(f"run passed: {e.get('files', 0)} version file(s) archived")

    def _on_run_finished(self, e: dict) -> None:
        status = e.get("status", "?")
        code = {"passed": 0, "failed": 1}.get(status, 130)
        report = f" · report {tilde(e['report'])}" if e.get("report") else ""
        self.set_status(f"run {status} (exit {code}){report}")
        self.set_class(status != "passed", "-failed")
        self.set_class(status == "passed", "-passed")
        self.run_log(f"run {status} (exit {code})")


def _name(e: dict) -> str:
    return str(e.get("file", "")).rsplit("/", 1)[-1]
