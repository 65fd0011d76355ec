"""What a run watches besides its scenarios: the blast radius before it starts, the steady-state
checks (before the first scenario, during the run at their interval, after the rollback), the
pods of the namespaces it touches, and one timeline of all of it.

Policy:
- A failing check before the first scenario refuses the run: nothing is changed.
- During the run, the first failure of an aborting check (`exit_on_failure: true`, or `abort:
  true`) sets the run's stop event, the same one the emergency stop and signals set: the
  scenario unwinds at once and the run's pending files roll back. The report says which check,
  when, what it saw, and how long it took from that probe to the end of the rollback.
- After the run (and its rollback), every check is probed until all pass or `recovery_timeout`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import threading
import time
from typing import Any, Callable

from . import events as ev
from .checks.runner import CheckRunner, CheckState
from .checks.probes import Observation
from .config import Config
from .report.model import Abort, ChecksRecord, CheckSummary, PreviewRecord, PreviewTarget, SteadyRecord
from .scenarios.preview import ScenarioPreview, preview_plan
from .timeline import PodTimeline, Timeline, TimelineEntry
from .timeline_events import entry_for_event


class RunWatch:
    def __init__(self, config: Config, api_client: Callable[[], Any], emit: Callable[[ev.Event], None],
                 stop: threading.Event, dry_run: bool = False):
        self.config = config
        self.api_client = api_client
        self.emit = emit
        self.stop = stop
        self.dry_run = dry_run
        self.timeline = Timeline()
        self.previews: list[ScenarioPreview] = []
        self.checks = CheckRunner(config.checks, api_client, on_probe=self._on_probe) if config.checks else None
        self.abort: Abort | None = None
        self.steady = SteadyRecord()
        self._pods: PodTimeline | None = None

    # -- before ---------------------------------------------------------------------------------

    def preview(self, planned: list) -> list[ScenarioPreview]:
        self.previews = preview_plan(planned, self.api_client(), self.config)
        for p in self.previews:
            self.emit(ev.ScenarioPreviewed(p.index, p.scenario_type, p.id, p.problem, tuple(p.lines())))
        return self.previews

    def preview_problem(self, index: int, spec_index: int) -> str | None:
        """The preview's failure for one spec (previews are in plan order, one per spec)."""
        same = [p for p in self.previews if p.index == index]
        return same[spec_index].problem if spec_index < len(same) else None

    def steady_state_before(self) -> bool:
        if self.checks is None:
            return True
        self.checks.probe_all("before")
        return self._steady("before", not self.checks.failing())

    def start(self, namespaces: set[str]) -> None:
        if namespaces and not self.dry_run:
            self._pods = PodTimeline(self.api_client, namespaces)
        if self.checks is not None:
            self.checks.start(self._on_abort)

    def watched_namespaces(self) -> set[str]:
        found = {c.namespace for c in self.config.checks.checks if hasattr(c, "namespace")}
        found.update(ns for p in self.previews for t in p.targets for ns in t.pod_namespaces)
        return found

    # -- during -----------------------------------------------------------------------------------

    def _on_probe(self, st: CheckState, obs: Observation, changed: bool, phase: str) -> None:
        self.emit(ev.CheckProbed(st.name, obs.ok, obs.latency, obs.seen, phase, st.failures, st.probes))
        if changed:
            self.emit(ev.CheckChanged(st.name, st.state, obs.seen, phase, st.check.abort, obs.at))

    def _on_abort(self, st: CheckState, obs: Observation) -> None:
        self.stop_for(Abort(check=st.name, at=obs.at, seen=obs.seen, what=st.check.describe()))

    def stop_for(self, abort: Abort) -> None:
        """An aborting check, or a PromQL stop condition, is red: stop the run and roll it back."""
        if self.abort is not None:
            return
        self.abort = abort
        self.emit(ev.CheckAborted(abort.check, abort.seen, abort.at if abort.at is not None else time.time()))
        self.stop.set()

    def stopped_by(self, source: str, detail: str, *, before: bool = False) -> None:
        """A halt or krkn's STOP: the run stops as an aborting check stops it (the first cause wins)."""
        if self.abort is None:
            now = time.time()
            self.abort = Abort(check=source, at=now, seen=detail, what=source, reason=f"{source}: {detail}")
            self.emit(ev.RunHalted(source, detail, before, now))
        self.stop.set()

    def on_event(self, event: ev.Event) -> None:
        self.timeline.add(entry_for_event(event))

    def rolled_back(self) -> None:
        """Called when the rollback that follows an abort is over: the measured figure."""
        if self.abort is not None:
            self.abort = self.abort.rolled_back(time.time())

    # -- after ------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Stop watching, then probe every check until all pass (steady state restored) or time out."""
        if self._pods is not None:
            self.timeline.extend(self._pods.stop())
            self._pods = None
        if self.checks is None:
            return
        self.checks.stop()
        t0 = time.monotonic()
        # A dry run changed nothing: one probe says how things stand, there is nothing to wait for.
        ok = self.checks.wait_passing("after", 0 if self.dry_run else self.config.checks.recovery_timeout)
        self.steady = dataclasses.replace(self.steady, after_seconds=round(time.monotonic() - t0, 3))
        self._steady("after", ok)

    def _steady(self, phase: str, ok: bool) -> bool:
        failing = tuple(st.name for st in self.checks.failing()) if self.checks else ()
        self.steady = dataclasses.replace(self.steady, **{phase: ok})
        self.emit(ev.SteadyState(phase, ok, failing))
        return ok

    def record(self) -> WatchRecord:
        """The report's parts this watch saw."""
        checks = self.checks
        return WatchRecord(
            tuple(self.timeline.entries()), tuple(_preview_record(p) for p in self.previews),
            ChecksRecord(checks.interval, tuple(_check_summary(st) for st in checks.states)) if checks else None,
            self.steady if checks else None, self.abort)


@dataclass(frozen=True)
class WatchRecord:
    """What a run's watch adds to its report (``model.Report``'s fields of the same names);
    ``checks`` and ``steady_state`` None when the config declares no checks."""

    timeline: tuple[TimelineEntry, ...]
    preview: tuple[PreviewRecord, ...]
    checks: ChecksRecord | None
    steady_state: SteadyRecord | None
    abort: Abort | None


def _preview_record(p: ScenarioPreview) -> PreviewRecord:
    return PreviewRecord(p.index, p.scenario_type, p.file, p.id, p.problem,
                         tuple(PreviewTarget(t.kind, t.count, tuple(t.names), t.action) for t in p.targets))


def _check_summary(st: CheckState) -> CheckSummary:
    return CheckSummary(st.name, st.check.describe(), st.check.abort, st.state, st.probes, st.failures,
                        st.last.latency if st.last else None, st.last.seen if st.last else None,
                        tuple(st.transitions))
