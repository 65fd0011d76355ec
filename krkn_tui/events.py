"""What the engine, the rollback registry, the executor and the guard report, as frozen dataclasses.

One class per event. Clients dispatch on the class: the command line renders each with one
renderer (``commands/render.py``), the console hands each to one handler (``tui/widgets/
run_panel.py``), and the audit log (``records.py``) writes the audited ones with ``record()``.
A test keeps renderer and handler complete: a new event type needs both.

``record()`` is the JSONL shape of the audit log: ``{"event": <name>, <fields>...}``, the
same keys the log has always had, so old logs and new ones read alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from .statuses import JournalState, RunStatus, ScenarioStatus, StepStatus

EVENT_TYPES: list[type[Event]] = []  # every concrete event type, in definition order


@dataclass(frozen=True)
class Event:
    """Base of every event. ``run_id`` is filled in by the engine for the events of its run."""

    EVENT: ClassVar[str] = ""  # the name in the audit log and the JSON report; empty: abstract
    run_id: str | None = field(default=None, kw_only=True)

    def __init_subclass__(cls, event: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if event is not None:
            cls.EVENT = event
            EVENT_TYPES.append(cls)

    def record(self) -> dict[str, Any]:
        """The audit log's line for this event (without its time); run_id only when known."""
        out: dict[str, Any] = {"event": self.EVENT}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "run_id" and value is None:
                continue
            out[f.name] = _plain(value)
        return out


def _target(namespace: Any, name: Any) -> str:
    """``namespace/name``, or whichever of the two is set."""
    return "/".join(str(p) for p in (namespace, name) if p)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- the run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunStarted(Event, event="run_started"):
    scenarios: int
    iterations: int
    versions_dir: str
    dry_run: bool = False
    journal: str | None = None  # the cluster journal's namespace, None when it is off


@dataclass(frozen=True)
class IterationStarted(Event, event="iteration_started"):
    """A pass over the scenario list begins (said when there is more than one, or in daemon mode)."""

    iteration: int  # 1-based
    iterations: int  # tunings.iterations; ignored in daemon mode
    daemon: bool = False

    @property
    def label(self) -> str:
        return f"iteration {self.iteration} (daemon)" if self.daemon else f"iteration {self.iteration}/{self.iterations}"


@dataclass(frozen=True)
class ScenarioStarted(Event, event="scenario_started"):
    index: int
    scenario_type: str
    file: str
    id: str
    iteration: int = 0


@dataclass(frozen=True)
class Step(Event, event="step"):
    """A line of a scenario's progress; ``progress`` in 0..1 when the plugin knows it."""

    scenario_type: str
    file: str
    message: str
    progress: float | None = None


@dataclass(frozen=True)
class ClusterChange(Event, event="cluster_change"):
    """A change a plugin made to the cluster. ``fields`` say what (namespace, name, node, ...):
    they differ per action and are written flat into the audit line."""

    action: str
    scenario_type: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return _target(self.fields.get("namespace"), self.fields.get("name"))

    def record(self) -> dict[str, Any]:
        out = {"event": self.EVENT, "action": self.action, "scenario_type": self.scenario_type,
               **{k: _plain(v) for k, v in self.fields.items()}}
        if self.run_id is not None:
            out["run_id"] = self.run_id
        return out


@dataclass(frozen=True)
class Waiting(Event, event="waiting"):
    """The pause between two scenarios (``tunings.wait_duration``)."""

    seconds: float


@dataclass(frozen=True)
class ScenarioFinished(Event, event="scenario_finished"):
    index: int
    scenario_type: str
    file: str
    id: str
    iteration: int
    status: ScenarioStatus
    message: str
    seconds: float
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunArchived(Event, event="run_archived"):
    """A run that passed moved its version files to the archive."""

    files: int


@dataclass(frozen=True)
class RunFinished(Event, event="run_finished"):
    status: RunStatus  # aborted: a check, a halt or krkn's STOP; refused: steady state or a halt
    report: str | None = None
    skipped: int = 0  # scenarios of types krkn-tui does not run (--skip-unsupported)

    @property
    def exit_code(self) -> int:
        return run_exit_code(self.status)


def run_exit_code(status: str, failure: str | None = None) -> int:
    """`krkn-tui run`'s exit code for a run's status (a signal's own 128+N is the caller's); a
    run failed by Prometheus alerts alone exits 2, as krkn's does (a failed scenario wins: 1)."""
    if status == "failed" and failure == "alerts":
        return 2
    return {"passed": 0, "failed": 1, "aborted": 3, "refused": 3}.get(status, 130)


# -- rollback ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RollbackRegistered(Event, event="rollback_registered"):
    """A version file is on disk (fsynced), before the change it undoes."""

    file: str
    scenario_type: str
    verb: str
    kind: str
    namespace: str | None = None
    name: str | None = None

    @property
    def target(self) -> str:
        return _target(self.namespace, self.name)


@dataclass(frozen=True)
class RollbackStepEvent(Event):
    """Base of what the executor says about one version file."""

    file: str
    error: str | None = None

    @property
    def file_name(self) -> str:
        return self.file.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class RollbackStarted(RollbackStepEvent, event="rollback_started"):
    pass


@dataclass(frozen=True)
class RollbackRetrying(RollbackStepEvent, event="rollback_retrying"):
    """The API server is unreachable or overloaded; the step is tried again after ``delay``."""

    attempt: int = 1
    delay: float = 0.0


@dataclass(frozen=True)
class RollbackStepDone(RollbackStepEvent):
    """Base of a step's outcome; STATUS is the step's status in the run report."""

    STATUS: ClassVar[str] = ""


@dataclass(frozen=True)
class RollbackExecuted(RollbackStepDone, event="rollback_executed"):
    """The step ran; ``error`` is a note when it ran but could not be marked executed."""

    STATUS: ClassVar[str] = "executed"
    attempts: int = 1
    seconds: float = 0.0


@dataclass(frozen=True)
class RollbackFailed(RollbackStepDone, event="rollback_failed"):
    """The step ran and failed: the file stays runnable, the error is recorded beside it."""

    STATUS: ClassVar[str] = "failed"
    attempts: int = 1


@dataclass(frozen=True)
class RollbackRefused(RollbackStepDone, event="rollback_refused"):
    """The step was not run: unsafe file or location, changed digest, or a foreign file."""

    STATUS: ClassVar[str] = "refused"


@dataclass(frozen=True)
class RollbackClusterForced(RollbackStepEvent, event="rollback_cluster_forced"):
    """A step recorded for another cluster than the connected one, run anyway (--force-cluster).
    ``error`` names both; the two records are kept for the audit log."""

    recorded: Mapping[str, str] = field(default_factory=dict)
    connected: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackArchived(RollbackStepEvent, event="rollback_archived"):
    """A step moved to the archive folder (history is kept there)."""

    archived_as: str = ""

    def record(self) -> dict[str, Any]:
        out = super().record()
        del out["error"]  # an archive that fails is refused before anything moves
        return out


@dataclass(frozen=True)
class StaleTempRemoved(RollbackStepEvent, event="stale_temp_removed"):
    """The temp file of a writer that died mid-write, removed before its run is rolled back."""

    def record(self) -> dict[str, Any]:
        out = super().record()
        del out["error"]
        return out


@dataclass(frozen=True)
class SecretsRevealed(RollbackStepEvent, event="secrets_revealed"):
    """A person asked to see the captured Secret values of a step (``show-rollback --reveal``,
    the console's inspect view); audited before they are shown. ``count`` says how many values,
    never what they are."""

    count: int = 0

    def record(self) -> dict[str, Any]:
        out = super().record()
        del out["error"]
        return out


@dataclass(frozen=True)
class RollbackExecutedElsewhere(RollbackStepEvent, event="rollback_executed_elsewhere"):
    """A guard already ran this step from the cluster journal: marked executed here, not run again.
    ``error`` says by whom."""


@dataclass(frozen=True)
class JournalStateDistrusted(RollbackStepEvent, event="journal_state_distrusted"):
    """The cluster journal says a step was executed, but that state's signature does not
    verify against the trusted keys: the step is run here all the same (``error`` says why)."""


@dataclass(frozen=True)
class LeaseHeldPastBound(Event, event="lease_held_past_bound"):
    """A run's Lease is still renewed past its bound (an hour past the run's planned end, or the
    journal's max hold): whoever renews it blocks the run's rollback. Reported, not obeyed silently."""

    holder: str = ""
    over_for: float = 0.0  # seconds past the bound


@dataclass(frozen=True)
class RollbackFromJournal(Event, event="rollback_from_journal"):
    """A guard ran (or refused) a step of a dead run from the cluster journal. Its audit line is
    named after the outcome (rollback_executed, ...), as a step run from a file is."""

    status: JournalState  # executed, partial, operator, failed or refused
    file: str  # <journal namespace>/<entry>
    version_file: str
    by: str
    error: str | None = None
    seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        out = super().record()
        out["event"] = f"rollback_{self.status}"
        del out["status"]
        return {**out, "source": "cluster journal"}


@dataclass(frozen=True)
class RunLeftAlone(Event, event="run_left_alone"):
    """A journaled run's steps were not executed: someone alive holds its Lease (``error`` says who)."""

    error: str = ""


@dataclass(frozen=True)
class JournalNotUpdated(Event, event="journal_not_updated"):
    """The cluster journal could not take a step's new state (or could not be read at all:
    ``file`` None); the local files are the source of truth and are done."""

    file: str | None = None
    error: str = ""


# -- the guard (`krkn-tui guard`): runs whose machine died, rolled back from the cluster journal --
# A step's outcome is RollbackFromJournal; a run whose Lease someone alive holds is RunLeftAlone.

@dataclass(frozen=True)
class GuardStarted(Event, event="guard_started"):
    """The guard is connected and watching; ``interval`` None: one pass (--once)."""

    holder: str
    namespace: str
    cluster: str
    grace: float
    interval: float | None = None


@dataclass(frozen=True)
class GuardTakeover(Event, event="guard_takeover"):
    """The guard took the Lease of a run whose owner stopped renewing it and rolls back its
    ``steps`` pending steps, newest first. ``holder`` None: the run had no Lease at all."""

    steps: int
    holder: str | None = None
    expired_for: float | None = None  # seconds since the Lease expired


@dataclass(frozen=True)
class GuardIdle(Event, event="guard_idle"):
    """A pass found no run due (said once until something changes, not every interval)."""


@dataclass(frozen=True)
class GuardSeesHalt(Event, event="guard_sees_halt"):
    """The cluster's halt came or went (``detail`` empty: lifted). A halt stops runs, never the
    guard: it goes on rolling back what dead runs left."""

    detail: str = ""


@dataclass(frozen=True)
class JournalUnavailable(Event, event="journal_unavailable"):
    """The guard could not read the journal or the Leases (API server away); it tries again
    after ``retry_in`` seconds."""

    error: str
    retry_in: float = 0.0


@dataclass(frozen=True)
class StepRecord:
    """One step of a run's rollback, as the run's summary lists it."""

    file: str
    status: StepStatus  # any but would-run
    error: str | None = None
    seconds: float = 0.0
    undone: bool = False  # the change is known undone (a skip too, when it verifiably ran elsewhere)


@dataclass(frozen=True)
class RollbackRunStarted(Event, event="rollback_run_started"):
    """The run's pending files are executed, newest first (failed scenario or stop request)."""

    reason: str
    files: int


@dataclass(frozen=True)
class RollbackRunFinished(Event, event="rollback_run_finished"):
    reason: str
    steps: tuple[StepRecord, ...] = ()

    @property
    def failed(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status not in ("executed", "skipped")]


# -- steady-state checks and the blast radius ---------------------------------------------------

@dataclass(frozen=True)
class ScenarioPreviewed(Event, event="scenario_previewed"):
    """What one scenario will touch, read before the run; ``problem`` set: it would fail before
    any change (it matches nothing, or it is refused). ``lines``: the preview, said once."""

    index: int
    scenario_type: str
    id: str
    problem: str | None = None
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckProbed(Event, event="check_probed"):
    """One probe of one steady-state check (every interval during the run)."""

    name: str
    ok: bool
    latency: float
    seen: str
    phase: str  # before | during | after
    failures: int = 0
    probes: int = 0


@dataclass(frozen=True)
class CheckChanged(Event, event="check_changed"):
    """A check turned passing or failing (its first probe counts as a change)."""

    name: str
    state: str  # passing | failing
    seen: str
    phase: str
    abort: bool = False
    at: float = 0.0


@dataclass(frozen=True)
class CheckAborted(Event, event="check_aborted"):
    """An aborting check failed during the run: the run stops now and rolls back."""

    name: str
    seen: str
    at: float = 0.0


@dataclass(frozen=True)
class RunHalted(Event, event="run_halted"):
    """A halt of the cluster (``krkn-tui halt``) or krkn's STOP signal: before the first
    scenario the run is refused; during it, the run stops now and rolls back."""

    source: str  # "halt" | "krkn signal STOP"
    detail: str
    before: bool = False
    at: float = 0.0


@dataclass(frozen=True)
class SteadyState(Event, event="steady_state"):
    """Every check probed before the first scenario (failing: the run is refused) or after the
    run and its rollback (failing: the steady state was not restored in time)."""

    phase: str  # before | after
    ok: bool
    failing: tuple[str, ...] = ()


# -- krkn's Prometheus and cerberus verdicts (monitoring.monitor) --------------------------------

@dataclass(frozen=True)
class ScenarioVerdicts(Event, event="scenario_verdicts"):
    """krkn's verdicts after one scenario file: its SLOs and score (``scenario["resiliency"]``),
    the critical alerts firing now, cerberus's go/no-go; ``monitoring`` is the report's
    monitoring record so far (the console's verdicts view shows it as it grows)."""

    name: str  # the scenario file's name
    scenario: Mapping[str, Any] = field(default_factory=dict)
    monitoring: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunVerdicts(Event, event="run_verdicts"):
    """After the run: the alert profile over its window, the SLOs over the whole run and the
    resiliency score; ``monitoring`` is the report's monitoring record."""

    monitoring: Mapping[str, Any] = field(default_factory=dict)
    krkn_report: str | None = None  # krkn's KRKN_RESILIENCY_REPORT_JSON line (resiliency_run_mode: detailed)
