"""The chaos run: parse every scenario first, then run them in order with rollback safety.

Policy:
- Every scenario file is parsed before the cluster is touched: bad input changes nothing.
- A plugin registers each rollback before its change and undoes its own change at the end of
  the scenario by executing that rollback file, so the rollback path runs on every run.
- A failed scenario rolls back this run's pending files when `auto_rollback` is on; a stop
  request (signal, emergency stop) rolls them back always. Rollback continues past a failed
  file and reports it (see rollback.executor).
- A halt of the cluster (``halt.py``, read before the first change and every check interval)
  refuses the run or stops it like the emergency stop; so does krkn's STOP (``krkn_signal.py``).
- A run whose scenarios all passed archives its files; other runs leave them for inspection.
- Each change and each rollback step is also a Kubernetes Event on the object it touched, best
  effort (kube.chaos_events): an Event that cannot be written is said once and fails nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import Config, ScenarioRef
from .errors import UserError
from .events import (
    Event,
    IterationStarted,
    RollbackRunFinished,
    RollbackRunStarted,
    RollbackStepDone,
    RunArchived,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
    Step,
    StepRecord,
    Waiting,
    run_exit_code,
)
from .kube.chaos_events import ChaosEventRecorder
from .kube.identity import ClusterIdentity
from .monitoring.monitor import RunMonitor
from .monitoring.settings import check_prometheus
from .records import AuditLog, audit_path, check_reports
from .report.load import write_report
from .report.model import Report, RollbackRecord, ScenarioResult
from .rollback import RunRollback
from .rollback.journal.mirror import RunMirror
from .rollback.service import EXECUTABLE, RollbackService
from .run_watch import RunWatch
from .sanitize import one_line
from .scenarios.base import RESTORE_WAIT, Interrupted, Outcome, ScenarioContext, ScenarioFailed, plugin_for
from .scenarios.krkn_only import UNSUPPORTED_NOTE
from .signals import wait_for_stop
from .statuses import RunStatus, ScenarioStatus

Emit = Callable[[Event], None]


@dataclass
class PlannedScenario:
    index: int
    scenario_type: str
    file: Path
    specs: list[Any]
    where: str = ""  # the file and how its path was resolved (ScenarioRef.where)
    skipped: str | None = None  # why it is not run (a krkn type krkn-tui does not implement)
    error: str | None = None  # a dry run's verdict on a file that does not parse (its one line)
    listed_as: str = ""  # the path as the config lists it (krkn's scenario name in its reports)


@dataclass
class RunResult:
    run_id: str
    status: RunStatus
    report_path: Path | None
    scenarios: list[ScenarioResult] = field(default_factory=list)
    rollback: list[RollbackRecord] = field(default_factory=list)
    failure: str | None = None  # what failed the run: scenario, alerts, cerberus (None: passed or stopped)

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)

    @property
    def exit_code(self) -> int:
        return run_exit_code(self.status, self.failure)


def unsupported_error(config: Config, refs: list[ScenarioRef]) -> UserError:
    by_type: dict[str, list[str]] = {}
    for ref in refs:
        by_type.setdefault(ref.scenario_type, []).append(f"#{ref.index + 1}")
    listed = ", ".join(f"{t} ({' '.join(at)})" for t, at in by_type.items())
    return UserError(f"{UNSUPPORTED_NOTE}: {listed}; pass --skip-unsupported to run the rest",
                     file=config.path, field="kraken.chaos_scenarios")


def plan(config: Config, only: set[int] | None = None, *, skip_unsupported: bool = False,
         each_verdict: bool = False) -> list[PlannedScenario]:
    """Parse the selected scenario files; raises UserError on the first bad one (with
    ``each_verdict``, a dry run's: every bad file is planned with its one-line error instead), and
    when a selected scenario is of a type krkn-tui does not run unless ``skip_unsupported``."""
    selected = [ref for ref in config.scenarios if only is None or ref.index in only]
    unsupported = [ref for ref in selected if not ref.supported]
    if unsupported and not skip_unsupported:
        raise unsupported_error(config, unsupported)
    planned = []
    for ref in selected:
        if not ref.supported:
            planned.append(PlannedScenario(ref.index, ref.scenario_type, ref.file, [], ref.where, UNSUPPORTED_NOTE,
                                           listed_as=ref.listed_as))
            continue
        plugin = plugin_for(ref.scenario_type)
        try:
            specs = plugin.parse(ref.file)
        except UserError as e:
            if not each_verdict:
                raise
            planned.append(PlannedScenario(ref.index, ref.scenario_type, ref.file, [], ref.where, error=str(e),
                                           listed_as=ref.listed_as))
            continue
        planned.append(PlannedScenario(ref.index, ref.scenario_type, ref.file, specs, ref.where,
                                       listed_as=ref.listed_as))
    return planned


class Engine:
    restore_wait = RESTORE_WAIT  # seconds a scenario waits for another executor holding its restore step

    def __init__(self, config: Config, api_client_factory: Callable[[], Any], *, emit: Emit | None = None,
                 stop: threading.Event | None = None, dry_run: bool = False, kubeconfig: str | None = None,
                 context: str | None = None):
        self.config = config
        self.api_client_factory = api_client_factory
        self.stop = stop or threading.Event()
        self.dry_run = dry_run
        self._emit_cb = emit or (lambda _e: None)
        # Checks, blast radius, the run's pods and its timeline (see run_watch's policy).
        self.watch = RunWatch(config, self.api_client, self._emit, self.stop, dry_run)
        self._kubeconfig, self._context = kubeconfig, context
        self._identity = None
        # Every version file records the cluster it changes (read before the first one is written).
        self.rollback = RunRollback(config.versions_dir, on_event=self._emit, identity=self.cluster_identity)
        if config.journal.enabled and not dry_run:
            self.rollback.mirror = RunMirror(self.api_client, config.journal, self.rollback.run_id,
                                             lambda _client: self.cluster_identity())
        # Every step this run executes or archives goes through the service, which audits it.
        self.service = RollbackService(
            config.versions_dir, self.api_client, kubeconfig=kubeconfig, context=context, on_event=self._forward,
            audit=None if dry_run else AuditLog(audit_path(config.versions_dir), self.rollback.run_id),
            journal=self.rollback.mirror, cluster_identity=self.cluster_identity)
        self._rollback_steps: list[RollbackRecord] = []
        self.kube_events = None if dry_run else ChaosEventRecorder(self.api_client, lambda: self.run_id,
                                                                   socket.gethostname())
        self._client = None
        self.rolling_back = False
        # krkn's signal endpoint (krkn_signal) and the cluster's halt record (halt): both stop the run.
        from .krkn_signal import SignalEndpoint

        self.signal = SignalEndpoint(config.signal, on_stop=lambda: self.watch.stopped_by(
            "krkn signal STOP", "posted to the run's signal endpoint"))
        self.halt_monitor = None
        # Prometheus and cerberus verdicts (krkn's), and the PromQL stop conditions.
        self.monitor = None if dry_run or not config.monitoring else RunMonitor(
            config.monitoring, self._emit, config.checks.interval, self.watch.stop_for)
        self._ended_by: str | None = None  # a critical alert or a cerberus no-go between scenarios

    @property
    def run_id(self) -> str:
        return self.rollback.run_id

    def _emit(self, event: Event) -> None:
        """The engine's and the plugins' events: audited, then passed on."""
        if event.run_id is None:
            event = dataclasses.replace(event, run_id=self.run_id)
        self.service.record(event)
        self._forward(event)

    def _forward(self, event: Event) -> None:
        """Passed on to the client (the service has audited the rollback steps already)."""
        if event.run_id is None:
            event = dataclasses.replace(event, run_id=self.run_id)
        # Executor outcomes, whether a plugin restored its own change or the run is rolled back.
        if isinstance(event, RollbackStepDone):
            seconds = getattr(event, "seconds", None)
            self._rollback_steps.append(RollbackRecord(
                event.file, event.STATUS, event.error, round(seconds, 3) if seconds is not None else None,
                "rollback" if self.rolling_back else "restore"))
        self.watch.on_event(event)
        self._emit_cb(event)
        if self.kube_events is not None:
            self.kube_events.observe(event)
            self._say_events_note()

    def _say_events_note(self) -> None:
        note = self.kube_events.take_note()
        if note:
            self._forward(Step("", "", note))

    def api_client(self):
        if self._client is None:
            self._client = self.api_client_factory()
        return self._client

    def _read_identity(self, client):
        from .kube.identity import connected_identity

        return connected_identity(client, self._kubeconfig, self._context)

    def cluster_identity(self):
        """The identity of the cluster this run changes, read once (before the first change:
        every version file records it)."""
        if self._identity is None:
            self._identity = self._read_identity(self.api_client())
        return self._identity

    # -- the run ------------------------------------------------------------------------------

    def run(self, planned: list[PlannedScenario]) -> RunResult:
        # A Prometheus the verdicts need must answer before anything changes (both clients).
        check_prometheus(self.config.monitoring, self.config.path)
        if not self.dry_run:  # a report or audit line that cannot be private stops the run before it starts
            self.service.check_audit()
            check_reports(self.config.versions_dir)
            self._listen()
        started = time.time()
        mirror = self.rollback.mirror
        try:
            self._emit(RunStarted(len(planned), self.config.iterations, str(self.config.versions_dir),
                                  self.dry_run, mirror.settings.namespace if mirror else None))
            return self._run(planned, started)
        finally:
            self.signal.close()
            if self.halt_monitor is not None:
                self.halt_monitor.stop()
            if mirror is not None:
                mirror.close()
            if self.kube_events is not None:
                self.kube_events.close()

    def _listen(self) -> None:
        """krkn's signal endpoint, when the config publishes it; a port that cannot be bound is
        the config's problem, said before anything is changed (krkn exits too)."""
        try:
            self.signal.start()
        except OSError as exc:
            s = self.config.signal
            raise UserError(f"cannot serve krkn's signal endpoint on {s.address}:{s.port}: "
                            f"{exc.strerror or exc}", file=self.config.path, field="kraken.port") from None
        if self.signal.bound:
            self._emit(Step("", "", f"krkn signal endpoint: {self.signal.bound} ({self.signal.state}; "
                                    "POST /STOP stops and rolls back, /PAUSE holds before the next scenario)"))

    def _halted_at_start(self) -> bool:
        """Is the cluster halted? Read once before the first change, then every check interval
        by a monitor that stops the run (a dry run only says it)."""
        from .halt import HaltMonitor, trust

        def on_change(halt) -> None:
            if halt is not None and not self.dry_run:
                self.watch.stopped_by("halt", halt.describe(), before=not started_run)

        started_run = False
        monitor = HaltMonitor(self.api_client, self.config.journal.namespace, trust(),
                              self.config.checks.interval, on_change)
        halt = monitor.check()
        if monitor.error and halt is None:
            self._emit(Step("", "", f"halt record unreadable: {monitor.error}"))
        if self.dry_run:
            if halt is not None:
                self._emit(Step("", "", f"note: cluster {halt.describe()}; a real run would be refused"))
            return False
        if halt is not None:
            return True
        started_run = True
        self.halt_monitor = monitor
        monitor.start()
        return False

    def _run(self, planned: list[PlannedScenario], started: float) -> RunResult:
        results: list[ScenarioResult] = []
        watch = self.watch
        try:
            watch.preview(planned)
        except Exception as e:  # the blast radius is information: a run is not refused for it
            self._emit(Step("", "", f"blast radius unavailable: {one_line(e)[:500]}"))
        if self._halted_at_start():
            status = "refused"  # a halt is in force: nothing runs until `krkn-tui resume`
        elif not watch.steady_state_before():
            status = "refused"  # nothing touched: a failing steady state is no baseline
        else:
            watch.start(watch.watched_namespaces())
            if self.monitor is not None:
                self.monitor.start(started)
            status = self._scenarios(planned, results)
            watch.finish()
            if self.monitor is not None:
                self.monitor.finish(time.time())
                if status == "passed" and self.monitor.failure():
                    status = "failed"
        return self._finish(status, started, results)

    def _scenarios(self, planned: list[PlannedScenario], results: list[ScenarioResult]) -> str:
        status = "passed"
        started_one = False
        daemon, iterations = self.config.daemon_mode, self.config.iterations
        try:
            runnable = any(not item.skipped for item in planned)
            for iteration in iteration_numbers(self.config, self.dry_run, runnable):
                self.stop_check()
                if daemon or iterations > 1:
                    self._emit(IterationStarted(iteration + 1, iterations, daemon))
                for item in planned:
                    if item.skipped or item.error:
                        results.append(self._skip(item, iteration))
                        status = "failed" if item.error else status
                        continue
                    if started_one:
                        self._emit(Waiting(self.config.wait_duration))
                        ctx_sleep(self.stop, self.config.wait_duration)
                    started_one = True
                    self._signal_gate()
                    item_started = time.time()
                    for spec_index, spec in enumerate(item.specs):
                        outcome = self._run_one(item, spec, spec_index, iteration)
                        results.append(outcome)
                        if outcome.status == "interrupted":
                            raise Interrupted()
                        if outcome.status != "passed":
                            status = "failed"
                            if self.config.auto_rollback:
                                self._roll_back("scenario failed")
                    if self._after_scenario(item, item_started):
                        return "failed"
            if self.watch.abort is not None:  # the check failed after the last scenario's end
                raise Interrupted()
        except Interrupted:
            abort = self.watch.abort
            status = "aborted" if abort else "interrupted"
            self._roll_back((abort.reason or f"check {abort.check} failed") if abort else "stop requested")
            self.watch.rolled_back()
        return status

    def _after_scenario(self, item: PlannedScenario, started: float) -> bool:
        """krkn's checks after a scenario file; True when one ends the run (its pending files are
        rolled back: no further scenario starts on a cluster Prometheus or cerberus calls unwell)."""
        if self.monitor is None:
            return False
        why = self.monitor.after_scenario(item.file.name, started, time.time(), item.listed_as or str(item.file))
        if why is None:
            return False
        self._ended_by = why
        self._roll_back(why)
        return True

    def _finish(self, status: str, started: float, results: list[ScenarioResult]) -> RunResult:
        rollback_steps = self._rollback_steps
        if self.kube_events is not None:  # the run's last Events written, or why not said, before its end
            self.kube_events.close()
            self._say_events_note()
        if status == "passed" and not self.dry_run:
            self._archive_run()
        failure = self._failure(status, results)
        seen = self.watch.record()
        report = Report(
            run_id=self.run_id, config=str(self.config.path), status=status, dry_run=self.dry_run, started=started,
            finished=time.time(), versions_dir=str(self.config.versions_dir),
            scenarios=tuple(results), rollback=tuple(rollback_steps),
            cluster=self._cluster_record(), timeline=seen.timeline, preview=seen.preview, checks=seen.checks,
            steady_state=seen.steady_state, abort=seen.abort,
            monitoring=self.monitor.record() if self.monitor is not None else None, failure=failure or None)
        report_path = None
        if not self.dry_run:
            try:
                report_path = write_report(self.config.versions_dir, report)
            except UserError as exc:  # planted since the check at the start: the run is done, say so
                self._forward(Step("", "", f"report not written: {exc}"))
        skipped = sum(1 for r in results if r.status == "skipped")
        self._emit(RunFinished(status, str(report_path) if report_path else None, skipped))
        return RunResult(self.run_id, status, report_path, results, rollback_steps, failure)

    def _failure(self, status: str, results: list[ScenarioResult]) -> str | None:
        if status != "failed":
            return None
        if any(r.status not in ("passed", "skipped") for r in results):
            return "scenario"
        return self.monitor.failure() if self.monitor is not None else None

    def _skip(self, item: PlannedScenario, iteration: int) -> ScenarioResult:
        """A file not run: skipped (krkn's type), or failed with the error that stops it (a dry run's)."""
        said = ScenarioFinished(item.index, item.scenario_type, str(item.file), item.file.name, iteration,
                                ScenarioStatus.FAILED if item.error else ScenarioStatus.SKIPPED,
                                item.error or item.skipped or "", 0.0, {})
        self._emit(said)
        return _result(said)

    def _cluster_record(self) -> ClusterIdentity | None:
        """Which cluster the run was on, for the report (None when it cannot be read now)."""
        try:
            return self.cluster_identity()
        except Exception:
            return None

    def _run_one(self, item: PlannedScenario, spec: Any, spec_index: int, iteration: int) -> ScenarioResult:
        label = getattr(spec, "id", None) or f"{item.file.name}#{spec_index}"
        self._emit(ScenarioStarted(item.index, item.scenario_type, str(item.file), label, iteration))
        t0, wall = time.monotonic(), time.time()
        problem = self.watch.preview_problem(item.index, spec_index) if self.dry_run else None
        try:
            self.stop_check()
            if problem:  # a dry run marks what the preview found failing, without running it
                raise ScenarioFailed(f"blast radius: {problem}")
            ctx = ScenarioContext(
                api_client=self.api_client(), rollback=self.rollback, scenario_type=item.scenario_type,
                file=item.file, stop=self.stop, emit=self._emit, executor=self.service.executor(),
                protected_namespaces=self.config.protected_namespaces,
                allow_protected=self.config.allow_protected, dry_run=self.dry_run, restore_wait=self.restore_wait,
            )
            outcome = plugin_for(item.scenario_type).run(spec, ctx)
        except Interrupted:
            outcome = Outcome("interrupted", "stop requested")
        except ScenarioFailed as e:
            outcome = Outcome("failed", str(e), e.details)
        except Exception as e:  # an API error or a plugin bug must not skip the rollback
            outcome = Outcome("error", f"{type(e).__name__}: {one_line(e)[:500]}")
        said = ScenarioFinished(item.index, item.scenario_type, str(item.file), label, iteration, outcome.status,
                                outcome.message, round(time.monotonic() - t0, 3), outcome.details)
        self._emit(said)
        return _result(said, started=wall)

    def _signal_gate(self) -> None:
        """krkn's signal before each scenario file: wait while PAUSE, stop at STOP."""
        if self.dry_run:
            return
        state = self.signal.wait_while_paused(self.stop, lambda: self._emit(Step(
            "", "", f"paused by krkn's signal: waiting for POST {self.signal.bound}/RUN (or /STOP)")))
        if state == "STOP":
            self.watch.stopped_by("krkn signal STOP", f"signal_state {state}")
        self.stop_check()

    def stop_check(self) -> None:
        if self.stop.is_set():
            raise Interrupted()

    def pending_files(self) -> list[Path]:
        if not self.rollback.run_dir.exists():
            return []
        return [v.path for v in self.service.select(run=self.run_id, statuses=EXECUTABLE)]

    def _roll_back(self, reason: str) -> None:
        files = self.pending_files()
        self.rolling_back = True
        self._emit(RollbackRunStarted(reason, len(files)))
        steps = self.service.execute(files) if files else []
        self._emit(RollbackRunFinished(reason, tuple(StepRecord(str(s.path), s.status, s.error, round(s.seconds, 3), s.undone)
                                                     for s in steps)))
        self.rolling_back = False

    def _archive_run(self) -> None:
        if not self.rollback.run_dir.exists():
            return
        versions = self.service.select(run=self.run_id)
        if versions:
            self.service.archive([v.path for v in versions])
            self._emit(RunArchived(len(versions)))


def _result(said: ScenarioFinished, started: float | None = None) -> ScenarioResult:
    """The report's record of a finished (or skipped) scenario spec: what was said, and when it started."""
    return ScenarioResult(said.index, said.scenario_type, said.file, said.id, said.iteration, said.status,
                          said.message, said.seconds, said.details, started)


def iteration_numbers(config: Config, dry_run: bool, runnable: bool = True) -> Iterable[int]:
    """0, 1, ...: ``tunings.iterations`` of them; in daemon mode (krkn's ``daemon_mode``) without
    end, until a stop request (signal, emergency stop, an aborting check) ends the run. A dry run
    of a daemon plans one iteration: it changes nothing, so repeating it would show nothing new;
    so does a daemon with nothing ``runnable`` (no scenario, or only skipped ones), which would
    otherwise spin without ever waiting."""
    if config.daemon_mode:
        return itertools.count() if runnable and not dry_run else range(1)
    return range(config.iterations)


def repeat_note(config: Config, dry_run: bool) -> str | None:
    """What a client says before a daemon run starts (None when the config is not in daemon mode)."""
    if not config.daemon_mode:
        return None
    if dry_run:
        return "daemon mode: this dry run plans one iteration; a real run repeats the scenarios until stopped"
    return "daemon mode: the scenarios repeat until stopped (Ctrl+C, SIGTERM or E-STOP stops and rolls back)"


def ctx_sleep(stop: threading.Event, seconds: float) -> None:
    if seconds > 0 and wait_for_stop(stop, seconds):
        raise Interrupted()
    if stop.is_set():
        raise Interrupted()

