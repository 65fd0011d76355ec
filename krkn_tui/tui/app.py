"""The console: six views (1 scenarios, 2 pods, 3 versions, 4 timeline, 5 verdicts, 6 history), one run at
a time, a pod watch, and the steady-state checks' strip in the header.

Threads never touch widgets. The engine's worker and the pod watcher append to deques, drained
together inside ``batch_update()`` (measured: as fast as events arrive, where a message per
event fell behind): by a 100 ms timer, and at once when the watcher buffers the first event
since the last drain (one message), at most every 20 ms so a burst still arrives in batches.
The engine's events (typed, ``krkn_tui.events``) reach the run panel as one message per drain.
One-off results come back as messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from ..errors import UserError
from ..kube.client import describe_target, load_api_client
from ..rollback.front import JournalSettings
from ..rollback.front import config_paths_used
from ..sanitize import one_line
from ..timeline import Timeline, pod_entry
from .commands import ConsoleCommands
from .screens.base import allowed
from .screens.picker import PickerScreen
from .settings import ConsoleSettings, load_console_config
from .widgets.check_strip import CheckBoard

if TYPE_CHECKING:
    from ..engine import RunResult
    from ..events import Event
    from ..kube.podmodel import PodTable
    from ..kube.podwatch import PodWatcher
    from ..rollback.front import RollbackService

# Only the first view (the scenarios) is imported to start: the others, the pod watch, the
# rollback service and the engine's events are imported after the first frame, or when used.


def _pods_screen():
    from .screens.pods import PodsScreen

    return PodsScreen()


def _versions_screen():
    from .screens.versions import VersionsScreen  # pulls in the executor

    return VersionsScreen()


def _timeline_screen():
    from .screens.timeline import TimelineScreen

    return TimelineScreen()


def _verdicts_screen():
    from .screens.verdicts import VerdictsScreen

    return VerdictsScreen()


def _history_screen():
    from .screens.history import HistoryScreen

    return HistoryScreen()


DRAIN_SECONDS = 0.1  # engine events; pod events during a burst or should a wake-up be missed
WAKE_GAP_SECONDS = 0.02  # a woken drain comes at most this often, but for a DELETED (at once)
# A deletion's start waits for its end at most this long: Kubernetes sends a delete as a
# MODIFIED then a DELETED (10-15 ms apart on the local cluster), which then take one drain and
# one frame, not two; the DELETED's arrival ends the wait. Anything else drains at once.
WAKE_DELAY_SECONDS = 0.03
# A drain that took more pod events than this means a burst: leave it to the 100 ms timer, as
# each drain costs a frame (measured: 20 ms drains at 2,000 events/s doubled key latency).
BURST_EVENTS = 8
LIVENESS_LOOK_SECONDS = 0.5  # the header's look at the probe's last answer: flagged within 3.5 s
VIEWS = {"picker": PickerScreen, "pods": _pods_screen, "versions": _versions_screen, "timeline": _timeline_screen,
         "verdicts": _verdicts_screen, "history": _history_screen}
THEMES = ("textual-dark", "textual-light")


class KrknConsole(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "krkn-tui"
    # The first view is the first screen: no blank default screen to build, style and leave.
    DEFAULT_MODE = "picker"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("1", "show('picker')", "Scenarios", id="view-picker", tooltip="Scenario picker and run progress"),
        Binding("2", "show('pods')", "Pods", id="view-pods", tooltip="Live pod table and pod events"),
        Binding("3", "show('versions')", "Versions", id="view-versions", tooltip="Rollback version files"),
        Binding("4", "show('timeline')", "Timeline", id="view-timeline",
                tooltip="Timeline: scenarios, pods, checks and rollback on one axis"),
        Binding("5", "show('verdicts')", "Verdicts", id="view-verdicts",
                tooltip="krkn's verdicts: SLOs, alerts, cerberus and the resiliency score, per scenario file"),
        # Not in the footer (the versions view's keys fill it): in the help and the palette.
        Binding("6", "show('history')", "History", id="view-history", show=False,
                tooltip="Past runs from the versions folder's reports, newest first (as `krkn-tui history`)"),
        Binding("w", "write_report", "Report", id="write-report", show=False,
                tooltip="Write the last run's report (Markdown and HTML)"),
        Binding("ctrl+e", "emergency_stop", "E-STOP", id="emergency-stop", priority=True,
                tooltip="Emergency stop: stop the run and roll back its pending changes"),
        Binding("colon", "command_line", "Command", id="command-line", show=False,
                tooltip="k9s's command line: ctx lists the kubeconfig's contexts, ctx NAME switches to one"),
        Binding("H", "halt_toggle", "Halt", id="halt", show=False,
                tooltip="Halt every run on this cluster (asks why), or resume after a halt (asks first)"),
        Binding("question_mark", "help", "Help", id="help", tooltip="List the keys of this view"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="theme", tooltip="Switch between the dark and light theme"),
        Binding("ctrl+s", "screenshot", "Screenshot", id="screenshot", show=False,
                tooltip="Save an SVG screenshot in the current folder"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (asks first while a run is active)"),
    ]

    server_version = reactive("…")
    watch_state = reactive("off")
    run_state = reactive("idle")
    checks_changed = reactive(0)  # bumped when the check strip changes: the header redraws
    target_text = reactive("")
    api_state = reactive("")  # how the API server answers the liveness probe ("" without one)
    api_stale = reactive(False)  # silent past STALE_SECONDS: views grey what may be out of date
    halt_state = reactive("")  # the cluster's halt as every header says it ("" when not halted)

    class HaltChanged(Message):
        def __init__(self, said: str, monitor):
            super().__init__()
            self.said = said
            self.monitor = monitor  # a replaced monitor's last words are ignored

    class WatchState(Message):
        def __init__(self, state: str, watcher: PodWatcher | None = None):
            super().__init__()
            self.state = state
            self.watcher = watcher  # a replaced watcher's last words are ignored

    class PodsPending(Message):
        """The pod watcher buffered its first event since the last drain (from its thread)."""

    def __init__(self, settings: ConsoleSettings | None = None, *, pod_table: PodTable | None = None):
        super().__init__()
        self.settings = settings or ConsoleSettings()
        self.loaded = load_console_config(self.settings)
        self.versions_dir, self.archive_dir = self.loaded.versions_dir, self.loaded.archive_dir
        self.kubeconfig = self.loaded.target.kubeconfig
        # The config's relative paths and where they were found (the header says it).
        self.config_paths = config_paths_used(self.loaded.target, self.loaded.config)
        self.run_iteration = ""
        self.target, self.target_error = None, None
        try:
            self.target = describe_target(self.kubeconfig, self.settings.context)
            self.target_text = f"context {self.target.context} │ server {self.target.server} │ user {self.target.user}"
        except UserError as exc:
            self.target_error = str(exc)
            self.target_text = f"no cluster: {exc}"
        config = self.loaded.config
        self.journal_settings = config.journal if config is not None else JournalSettings()
        self._rollback_service: RollbackService | None = None
        self._service_lock = threading.Lock()  # the versions view's workers may ask first
        self._pod_table = pod_table
        self.pod_watcher: PodWatcher | None = None
        self.liveness = None  # kube.liveness.ApiLiveness, once the cluster workers start
        self.halt_monitor = None  # halt.HaltMonitor: the cluster's halt record, read every check interval
        self._liveness_timer = None
        self.pod_label_selector: str | None = None  # narrows the pod list and watch on the server
        self._last_drain = 0.0  # monotonic time of the last drain that applied something
        self._last_batch = 0  # pod events in that drain
        self._wake_timer = None
        self.engine_events: deque[Event] = deque()
        self.stop_event = threading.Event()
        self.engine_done = threading.Event()
        self.engine_done.set()
        self.last_result: RunResult | None = None
        self.last_report = None  # the HTML report the `w` key wrote last
        self.verdicts: dict | None = None  # the run's monitoring record as its verdicts arrive (view 5)
        # The session's timeline (engine events and pod events) and the checks' strip.
        self.timeline = Timeline()
        self.check_board = CheckBoard(self.loaded.config.checks.checks if self.loaded.config else ())
        self._quit_after_run = False
        self.views: dict[str, object] = {}
        for name in VIEWS:
            self.add_mode(name, partial(self._make_view, name))

    def _make_view(self, name: str):
        self.views[name] = view = VIEWS[name]()
        return view

    @property
    def rollback_service(self) -> RollbackService:
        """Execute and archive go through the core's service, as the CLI's do (same rules, same audit)."""
        with self._service_lock:
            if self._rollback_service is None:
                from ..rollback.front import RollbackService

                self._rollback_service = RollbackService.for_target(
                    self.loaded.target, client="console", api_client_factory=self.api_client_factory,
                    allow_foreign=self.settings.allow_foreign, journal_settings=self.journal_settings,
                    force_cluster=self.settings.force_cluster)
            return self._rollback_service

    @property
    def pod_table(self) -> PodTable:
        if self._pod_table is None:
            from ..kube.podmodel import PodTable

            self._pod_table = PodTable()
        return self._pod_table

    # -- cluster access -----------------------------------------------------------------------

    def api_client_factory(self):
        if self.target_error:
            raise UserError(self.target_error)
        return load_api_client(self.kubeconfig, self.settings.context)

    @property
    def target_summary(self) -> str:
        """Which cluster an action will touch, for confirmation dialogs."""
        if self.target is None:
            return f"no usable cluster ({self.target_error})"
        return f"context {self.target.context} ({self.target.server})"

    @property
    def run_active(self) -> bool:
        return not self.engine_done.is_set()

    # -- lifecycle ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.target_error is not None:
            self.server_version = "-"
            self.watch_state = "cannot watch: no usable kubeconfig"
        # After the first frame: both workers import kubernetes (~0.2 s of CPU), which would
        # otherwise hold the GIL while the first view is drawn.
        self.call_after_refresh(self.start_cluster_workers)
        self.set_interval(DRAIN_SECONDS, self.drain)

    def start_cluster_workers(self) -> None:
        if self.target_error is not None or not self.is_running:
            return
        if self.settings.probe_cluster:
            self.fetch_server_version()
            self.start_liveness()
            self.start_halt_monitor()
        if self.settings.watch_pods:
            self.start_pod_watch()

    def start_liveness(self) -> None:
        from ..kube.liveness import ApiLiveness, version_probe

        self.liveness = ApiLiveness(version_probe(self.api_client_factory))
        self.liveness.start()
        self.look_at_liveness()
        if self._liveness_timer is None:
            self._liveness_timer = self.set_interval(LIVENESS_LOOK_SECONDS, self.look_at_liveness)

    def start_halt_monitor(self) -> None:
        from ..halt import HaltMonitor, trust

        interval = self.loaded.config.checks.interval if self.loaded.config is not None else 2.0
        monitor = HaltMonitor(self.api_client_factory, self.journal_settings.namespace, trust(), interval,
                              lambda halt: self.post_message(self.HaltChanged(halt.describe() if halt else "",
                                                                              monitor)))
        self.halt_monitor = monitor
        monitor.start()

    def on_krkn_console_halt_changed(self, message: HaltChanged) -> None:
        if message.monitor is self.halt_monitor:
            self.halt_state = message.said

    def look_at_liveness(self) -> None:
        """The header says how long ago the cluster answered; reactives redraw only on change."""
        from ..kube.liveness import said

        self.api_state, self.api_stale = said(self.liveness)

    def on_unmount(self) -> None:
        if self.liveness is not None:
            self.liveness.stop()
        if self.halt_monitor is not None:
            self.halt_monitor.stop()
        if self.pod_watcher is not None:
            self.pod_watcher.stop(timeout=2)
        if self.run_active:  # leaving without the quit dialog (a crash): still roll back
            self.stop_event.set()

    def start_pod_watch(self) -> None:
        from ..kube.podstream import KubePodSource
        from ..kube.podwatch import PodWatcher

        source = KubePodSource(self.api_client_factory, self.settings.namespace,
                               label_selector=self.pod_label_selector)
        # post_message is thread-safe; a Textual timer cannot be started from the watcher's thread.
        watcher = PodWatcher(source, on_state=lambda s: self.post_message(self.WatchState(s, watcher)),
                             clock=self.settings.clock,
                             on_wake=lambda: self.post_message(self.PodsPending()))
        self.pod_watcher = watcher
        self.watch_state = "connecting"
        watcher.start()

    def watch_pods_with(self, label_selector: str | None) -> None:
        """List and watch again, narrowed on the server to ``label_selector`` (None: every pod)."""
        if label_selector == self.pod_label_selector:
            return
        self.pod_label_selector = label_selector
        old, self.pod_watcher = self.pod_watcher, None
        if old is not None:
            old.stop(timeout=0)  # its thread ends on its own once its stream is closed
        self._pod_table = None  # a new, empty table
        pods = self.views.get("pods")
        if pods is not None and pods.is_mounted:
            pods.restart()
        if self.target_error is None and self.settings.watch_pods:
            self.start_pod_watch()

    def on_krkn_console_watch_state(self, message: WatchState) -> None:
        if message.watcher is None or message.watcher is self.pod_watcher:
            self.watch_state = message.state

    def on_krkn_console_pods_pending(self, message: PodsPending) -> None:
        if self._last_batch > BURST_EVENTS:
            return
        from ..kube.podmodel import DELETED
        from ..kube.podwatch import DELETING

        newest = self.pod_watcher.newest_change() if self.pod_watcher is not None else None
        if self._wake_timer is not None and newest != DELETED:
            return
        wait = self._last_drain + WAKE_GAP_SECONDS - time.monotonic()
        if newest == DELETING:
            wait = max(wait, WAKE_DELAY_SECONDS)
        elif newest == DELETED:  # a pod gone is shown at once, even right after its Terminating
            wait = 0
        if wait <= 0:
            self.drain()
            return
        self._wake_timer = self.set_timer(wait, self._woken_drain)

    def _woken_drain(self) -> None:
        self._wake_timer = None
        self.drain()

    @work(thread=True, exclusive=True, exit_on_error=False, group="probe")
    def fetch_server_version(self) -> str:
        from kubernetes import client

        from ..kube.podstream import describe_error

        try:
            api = client.VersionApi(self.api_client_factory())
            return api.get_code(_request_timeout=5).git_version
        except Exception as exc:
            return f"unreachable: {describe_error(exc)}"

    # -- the drain: pods and engine events, batched -------------------------------------------

    def drain(self) -> None:
        if self._wake_timer is not None:  # this drain takes what it was for
            self._wake_timer.stop()
            self._wake_timer = None
        if not self.is_running:  # shutting down: the views' widgets go before the app's timers
            return
        events = []
        while self.engine_events:
            events.append(self.engine_events.popleft())
        pod_events = self.pod_watcher.drain() if self.pod_watcher is not None else []
        if not events and not pod_events:
            return
        self._last_drain, self._last_batch = time.monotonic(), len(pod_events)
        with self.batch_update():
            if pod_events:
                changes = self.pod_table.apply(pod_events)
                self.timeline.extend(pod_entry(entry) for entry in changes.log)
                pods = self.views.get("pods")
                if pods is not None and pods.is_mounted:
                    pods.sync(changes)
            if events:  # each event to every widget that shows it, from here
                from ..timeline_events import entry_for_event  # the events module: after the first frame

                self.timeline.extend(entry_for_event(e) for e in events)
                self.views["picker"].apply_engine_events(events)
                self._checks_seen(events)
                self._follow_run_state(events)
            for name in ("timeline", "verdicts"):
                view = self.views.get(name)
                if view is not None and self.screen is view:
                    view.sync()

    def _checks_seen(self, events: list[Event]) -> None:
        """A check's probe goes to the header's strip, its transition also to the pod event log."""
        from ..events import CheckChanged, CheckProbed
        from ..kube.podmodel import LogEntry

        noted = False
        for e in events:
            if isinstance(e, CheckProbed):
                self.check_board.probed(e.name, e.ok, e.latency, e.failures)
                self.checks_changed += 1
            elif isinstance(e, CheckChanged):
                self.pod_table.note(LogEntry(e.at or time.time(), "CHECK", e.name, f"{e.state} ({e.phase}): {e.seen}"))
                noted = True
        pods = self.views.get("pods")
        if noted and pods is not None and pods.is_mounted:
            pods.write_new_log_lines()

    def _follow_run_state(self, events: list[Event]) -> None:
        from ..events import (IterationStarted, RollbackRunStarted, RunFinished, RunVerdicts, ScenarioStarted,
                              ScenarioVerdicts)

        for e in events:
            if isinstance(e, (ScenarioVerdicts, RunVerdicts)):
                self.verdicts = dict(e.monitoring)
            elif isinstance(e, IterationStarted):
                self.run_iteration = f" ({e.label})"
            elif isinstance(e, ScenarioStarted):
                self.run_state = f"running{self.run_iteration}: {e.id}"
            elif isinstance(e, RollbackRunStarted):
                self.run_state = f"rolling back ({e.reason})"
            elif isinstance(e, RunFinished):
                self.run_state = e.status

    # -- running ------------------------------------------------------------------------------

    def start_run(self, indices: set[int]) -> None:
        if self.run_active or self.loaded.config is None or not allowed(self, "run_marked"):
            return
        self.stop_event = threading.Event()
        self.engine_done.clear()
        self.run_iteration = ""  # " (iteration N/M)" or " (iteration N (daemon))" once the engine says
        self.verdicts = None
        self.run_state = "running"
        self.run_engine(sorted(indices))

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def run_engine(self, indices: list[int]) -> RunResult:
        try:
            from ..engine import Engine, plan

            planned = plan(self.loaded.config, only=set(indices))
            # The run keeps the cluster it started on, whatever context the console switches to.
            kubeconfig, context = self.kubeconfig, self.settings.context
            engine = Engine(self.loaded.config, partial(load_api_client, kubeconfig, context),
                            emit=self.engine_events.append, stop=self.stop_event, kubeconfig=kubeconfig,
                            context=context)
            return engine.run(planned)
        finally:
            self.engine_done.set()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "probe" and event.state == WorkerState.SUCCESS:
            self.server_version = worker.result
        elif worker.group == "run":
            self.drain()  # the run's last events first
            self._run_ended(worker)

    def _run_ended(self, worker: Worker) -> None:
        if worker.state == WorkerState.SUCCESS:
            self.last_result = worker.result
            self.run_state = f"{worker.result.status} (exit {worker.result.exit_code})"
        else:
            error = worker.error
            message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
            self.run_state = "error"
            self.views["picker"].run_failed_to_start(message)
            self.notify(f"run failed: {one_line(message)}", severity="error", timeout=15, markup=False)
        if self._quit_after_run:
            self.exit(self.last_result.exit_code if self.last_result else 1)

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return allowed(self, action)

    def action_show(self, view: str) -> None:
        if self.current_mode != view:
            self.switch_mode(view)

    def show_pods_filtered(self, text: str) -> None:
        """Switch to the pods view with its filter set (the versions view's jump to a step's pods)."""
        self.action_show("pods")
        pods = self.views["pods"]
        if pods.is_mounted:
            pods.show_filtered(text)
        else:
            self.call_after_refresh(lambda: pods.show_filtered(text))

    def action_write_report(self) -> None:
        """The last run's report for people, beside its JSON report: RUN.md and RUN.html."""
        result = self.last_result
        if result is None or result.report_path is None:
            self.notify("No run report yet: run scenarios first (a dry run writes none).", severity="warning")
            return
        from ..report import read_report, write_report_file

        try:
            report = read_report(result.report_path)
            md = write_report_file(report, "md", result.report_path.with_suffix(".md"))
            self.last_report = write_report_file(report, "html", result.report_path.with_suffix(".html"))
        except UserError as exc:
            self.notify(f"report not written: {exc}", severity="error", timeout=10)
            return
        self.notify(f"report written: {md} and {self.last_report.name}", timeout=10)

    def action_emergency_stop(self) -> None:
        if not self.run_active:
            self.notify("No run in progress.")
            return
        self.stop_event.set()
        self.run_state = "stopping: rolling back"
        self.notify("Emergency stop: stopping the run and rolling back its pending changes.", severity="warning")

    def action_command_line(self) -> None:
        from .screens.contexts import CommandLine

        self.push_screen(CommandLine(), callback=self._command)

    def _command(self, text: str | None) -> None:
        from .screens.contexts import ContextPicker

        words = (text or "").split()
        if not words:
            return
        if words[0] not in ("ctx", "context", "contexts") or len(words) > 2:
            self.notify(f"unknown command {one_line(text)!r} (ctx, or ctx NAME)", severity="warning", markup=False)
        elif len(words) == 2:
            self.switch_context(words[1])
        else:
            from ..kube.client import list_contexts

            try:
                contexts = list_contexts(self.kubeconfig)
            except UserError as exc:
                self.notify(f"no contexts: {one_line(exc)}", severity="error", markup=False)
                return
            current = self.target.context if self.target else None
            self.push_screen(ContextPicker(contexts, current),
                             callback=lambda name: self.switch_context(name) if name else None)

    def switch_context(self, name: str) -> None:
        """Point the console at another context: header, pods view, API and halt probes, journal
        rows and the cluster rollback steps are checked against. A run in progress keeps its own."""
        from dataclasses import replace

        try:
            target = describe_target(self.kubeconfig, name)
        except UserError as exc:
            self.notify(f"context not switched: {one_line(exc)}", severity="error", markup=False)
            return
        if self.target is not None and target.context == self.target.context and self.target_error is None:
            return
        self.settings.context = target.context
        self.target, self.target_error = target, None
        self.target_text = f"context {target.context} │ server {target.server} │ user {target.user}"
        self.loaded.target = replace(self.loaded.target, context=target.context)
        with self._service_lock:
            self._rollback_service = None  # the next execute is checked against the new cluster
        for worker in (self.liveness, self.halt_monitor):
            if worker is not None:
                worker.stop()
        self.liveness = self.halt_monitor = None
        self.server_version, self.api_state, self.api_stale, self.halt_state = "…", "", False, ""
        old, self.pod_watcher = self.pod_watcher, None
        if old is not None:
            old.stop(timeout=0)
        self._pod_table = None
        pods = self.views.get("pods")
        if pods is not None and pods.is_mounted:
            pods.restart()
        versions = self.views.get("versions")
        if versions is not None and versions.is_mounted:
            versions.follow_cluster()
        self.start_cluster_workers()
        note = "; the run in progress stays on its cluster" if self.run_active else ""
        self.notify(f"context {target.context} ({target.server}){note}", markup=False)

    def action_halt_toggle(self) -> None:
        """Halt every run on the cluster (a reason asked), or resume (asked first)."""
        from .screens.confirm import ConfirmScreen
        from .screens.halt_dialog import HaltDialog

        if self.target_error is not None:
            self.notify(f"No cluster to halt: {self.target_error}", severity="error")
        elif self.halt_state:
            self.push_screen(ConfirmScreen("Resume runs on this cluster?", f"{self.target_summary}: "
                                           f"{self.halt_state}. Resuming lets runs start again.", "Resume"),
                             callback=lambda yes: self.halt_write(None) if yes else None)
        else:
            self.push_screen(HaltDialog(self.target_summary),
                             callback=lambda reason: self.halt_write(reason) if reason else None)

    @work(thread=True, exit_on_error=False, group="halt")
    def halt_write(self, reason: str | None) -> None:
        """Write (``reason``) or lift (None) the halt record; the monitor's next look shows it."""
        from ..halt import HaltError, lift, write
        from ..kube.identity import read_identity

        namespace = self.journal_settings.namespace
        try:
            client = self.api_client_factory()
            if reason is None:
                said = "Resumed: the halt is lifted." if lift(client, namespace) else "Not halted."
            else:
                identity = read_identity(client, self.target.context if self.target else "")
                halt, new = write(client, namespace, reason, identity=identity)
                said = f"{'' if new else 'Already '}{halt.describe() if halt else 'halted'}"
        except (HaltError, UserError) as exc:
            self.call_from_thread(self.notify, f"halt not changed: {one_line(exc)}", severity="error", markup=False)
            return
        if self.halt_monitor is not None:
            self.halt_monitor.check()
        self.call_from_thread(self.notify, said, severity="warning", markup=False)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    async def action_quit(self) -> None:
        from .screens.confirm import ConfirmScreen

        if not self.run_active:
            self.exit(0)
            return
        if self._quit_after_run:
            self.notify("Rolling back before quitting…", severity="warning")
            return
        self.push_screen(
            ConfirmScreen("A run is in progress", "Quitting stops it and rolls back its pending changes first.",
                          "Stop, roll back and quit"),
            callback=self._quit_confirmed)

    def _quit_confirmed(self, yes: bool) -> None:
        if yes and self.run_active:
            self._quit_after_run = True
            self.action_emergency_stop()
        elif yes:
            self.exit(0)
