"""The run report as one typed structure: the engine builds a ``Report``, ``encode`` writes it,
``decode`` reads one back from a file that may be hostile. This module alone knows the JSON's
keys and their order (unchanged on disk: tests/test_report_model.py pins them).

Reading is forgiving as the renderers always were: only a JSON object with a string ``run_id``
is a report (else one line naming the file); any other field of the wrong type is read as
missing (None, empty, False), and every string becomes one printable, bounded line.

Two parts stay JSON objects, each with a typed view for what is shown: a scenario's ``details``
(each plugin its own, ``ScenarioResult.recovery()`` reads the killed pods) and ``monitoring``
(the monitor's record of krkn's verdicts, ``Report.verdicts()``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..checks.transition import Transition
from ..errors import UserError
from ..kube.identity import ClusterIdentity
from ..sanitize import blanked_line
from ..timeline import LANES, TimelineEntry

MAX_TEXT = 2000
TIMELINE_TEXT = 300
TONES = ("good", "bad", "info")
_OMIT = {"omit_none": True}  # a field written only when set (as the report always did)


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """One printable line: control, format and separator characters become spaces."""
    if value is None:
        return ""
    s = value if isinstance(value, str) else str(value)
    if not (s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " "):  # else nothing to blank
        s = blanked_line(s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) < 1e13 else None


def whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1e13 else None


def items(value: Any) -> list[dict]:
    """The dict entries of a list field (anything else dropped)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _opt_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else text(value, limit)


# -- the parts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodRecovery:
    """A killed pod's recovery, both times from the deletion (pod_disruption's details)."""

    namespace: str
    name: str
    replacement: str
    rescheduling_seconds: float | None
    readiness_seconds: float | None


@dataclass(frozen=True)
class ScenarioResult:
    index: int | None
    scenario_type: str
    file: str
    id: str
    iteration: int | None
    status: str
    message: str
    seconds: float | None
    details: Mapping[str, Any] = field(default_factory=dict)  # the plugin's own record
    started: float | None = field(default=None, metadata=_OMIT)  # None for a file not run

    def recovery(self) -> tuple[PodRecovery, ...]:
        return tuple(PodRecovery(text(p.get("namespace")), text(p.get("name")), text(p.get("replacement")),
                                 number(p.get("rescheduling_seconds")), number(p.get("readiness_seconds")))
                     for p in items(mapping(self.details).get("pods")))

    @classmethod
    def read(cls, d: dict) -> ScenarioResult:
        return cls(whole(d.get("index")), text(d.get("scenario_type")), text(d.get("file")), text(d.get("id")),
                   whole(d.get("iteration")), text(d.get("status")), text(d.get("message")),
                   number(d.get("seconds")), mapping(d.get("details")), number(d.get("started")))

    @classmethod
    def read_head(cls, d: dict) -> ScenarioResult:
        """Only what a history row counts (which file, which type, its status): a listing of a
        thousand reports reads nothing else."""
        return cls(whole(d.get("index")), text(d.get("scenario_type")), text(d.get("file")), "", None,
                   text(d.get("status")), "", None)


@dataclass(frozen=True)
class RollbackRecord:
    """One executor outcome of the run: a plugin restoring its change, or the run's rollback."""

    file: str
    status: str
    error: str | None
    seconds: float | None
    during: str  # "rollback" | "restore"

    @classmethod
    def read(cls, d: dict) -> RollbackRecord:
        return cls(text(d.get("file")), text(d.get("status")), _opt_text(d.get("error")), number(d.get("seconds")),
                   text(d.get("during")))


@dataclass(frozen=True)
class PreviewTarget:
    kind: str
    count: int | None
    names: tuple[str, ...]
    action: str

    @classmethod
    def read(cls, d: dict) -> PreviewTarget:
        names = d.get("names")
        return cls(text(d.get("kind")), whole(d.get("count")),
                   tuple(text(n) for n in names if isinstance(n, str)) if isinstance(names, list) else (),
                   text(d.get("action")))


@dataclass(frozen=True)
class PreviewRecord:
    """The blast radius of one spec, as the preview found it before the run."""

    index: int | None
    scenario_type: str
    file: str
    id: str
    problem: str | None
    targets: tuple[PreviewTarget, ...]

    @classmethod
    def read(cls, d: dict) -> PreviewRecord:
        return cls(whole(d.get("index")), text(d.get("scenario_type")), text(d.get("file")), text(d.get("id")),
                   _opt_text(d.get("problem")) or None, tuple(PreviewTarget.read(t) for t in items(d.get("targets"))))


def _transition(d: dict) -> Transition:
    return Transition(number(d.get("at")), text(d.get("phase")), text(d.get("state")), text(d.get("seen")))


@dataclass(frozen=True)
class CheckSummary:
    name: str
    what: str
    abort: bool
    state: str
    probes: int | None
    failures: int | None
    last_latency: float | None
    last_seen: str | None
    transitions: tuple[Transition, ...]

    @classmethod
    def read(cls, d: dict) -> CheckSummary:
        return cls(text(d.get("name")), text(d.get("what")), d.get("abort") is True, text(d.get("state")),
                   whole(d.get("probes")), whole(d.get("failures")), number(d.get("last_latency")),
                   _opt_text(d.get("last_seen")), tuple(_transition(t) for t in items(d.get("transitions"))))


@dataclass(frozen=True)
class ChecksRecord:
    interval: float | None
    checks: tuple[CheckSummary, ...]

    @classmethod
    def read(cls, d: dict) -> ChecksRecord:
        return cls(number(d.get("interval")), tuple(CheckSummary.read(c) for c in items(d.get("checks"))))


@dataclass(frozen=True)
class SteadyRecord:
    """Steady state before the first scenario and after the rollback (and how long it took)."""

    before: bool | None = field(default=None, metadata=_OMIT)
    after_seconds: float | None = field(default=None, metadata=_OMIT)
    after: bool | None = field(default=None, metadata=_OMIT)

    @classmethod
    def read(cls, d: dict) -> SteadyRecord:
        flag = lambda v: v if isinstance(v, bool) else None  # noqa: E731
        return cls(flag(d.get("before")), number(d.get("after_seconds")), flag(d.get("after")))


@dataclass(frozen=True)
class Abort:
    """Why a run stopped early: an aborting check, a PromQL stop condition, a halt or krkn's STOP;
    what it saw, and when the rollback that followed was over."""

    check: str
    expr: str | None = field(default=None, metadata=_OMIT)  # a PromQL stop condition's query
    at: float | None = None
    seen: str = ""
    what: str = ""
    reason: str | None = field(default=None, metadata=_OMIT)  # the rollback's reason, when not "check X failed"
    rolled_back_at: float | None = field(default=None, metadata=_OMIT)
    seconds_to_rolled_back: float | None = field(default=None, metadata=_OMIT)

    def rolled_back(self, now: float) -> Abort:
        if self.rolled_back_at is not None:
            return self
        took = round(now - self.at, 3) if self.at is not None else None
        return dataclasses.replace(self, rolled_back_at=now, seconds_to_rolled_back=took)

    @classmethod
    def read(cls, d: dict) -> Abort:
        return cls(text(d.get("check")), _opt_text(d.get("expr")), number(d.get("at")), text(d.get("seen")),
                   text(d.get("what")), _opt_text(d.get("reason")), number(d.get("rolled_back_at")),
                   number(d.get("seconds_to_rolled_back")))


# -- krkn's verdicts (a view of the monitor's record) ---------------------------------------------

@dataclass(frozen=True)
class AlertVerdict:
    severity: str
    description: str
    fired: bool
    fails: bool
    skipped: str  # why it was not evaluated ("" when it was)
    message: str
    expr: str


@dataclass(frozen=True)
class CriticalAlerts:
    fails: bool
    error: str
    post: tuple[str, ...]  # alert names firing after a scenario


@dataclass(frozen=True)
class Resiliency:
    file: str
    score: float | None
    shown_score: str  # the score as it was written ("" when there is none)
    passed_slos: str
    total_slos: str
    slo_results: tuple[tuple[str, bool | None], ...]


@dataclass(frozen=True)
class Cerberus:
    after: str
    go: bool
    reason: str


@dataclass(frozen=True)
class Verdicts:
    alerts: tuple[AlertVerdict, ...] = ()
    critical: CriticalAlerts | None = None
    resiliency: Resiliency | None = None
    cerberus: Cerberus | None = None

    @classmethod
    def read(cls, m: dict) -> Verdicts:
        alerts = tuple(AlertVerdict(text(a.get("severity")), text(a.get("description")), a.get("fired") is True,
                                    a.get("fails") is True, text(a.get("skipped")) if a.get("skipped") else "",
                                    text(a.get("message")), text(a.get("expr")))
                       for a in items(mapping(m.get("alert_profile")).get("alerts")))
        crit = mapping(m.get("critical_alerts"))
        res = mapping(m.get("resiliency"))
        cerb = mapping(m.get("cerberus"))
        return cls(
            alerts,
            CriticalAlerts(crit.get("fails") is True, text(crit.get("error")),
                           tuple(text(mapping(x).get("alertname")) for x in items(crit.get("post")))) if crit else None,
            Resiliency(text(res.get("file")), number(res.get("score")), text(res.get("score")), text(res.get("passed_slos")),
                       text(res.get("total_slos")),
                       tuple((text(k), v if isinstance(v, bool) else None)
                             for k, v in mapping(res.get("slo_results")).items())) if res else None,
            Cerberus(text(cerb.get("after")), cerb.get("go") is True, text(cerb.get("reason"))) if cerb else None)

    def score(self) -> float | None:
        return self.resiliency.score if self.resiliency is not None else None


# -- the report ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    run_id: str
    config: str = ""
    status: str = ""
    dry_run: bool = False
    started: float | None = None
    finished: float | None = None
    versions_dir: str = ""
    scenarios: tuple[ScenarioResult, ...] = ()
    rollback: tuple[RollbackRecord, ...] = ()
    cluster: ClusterIdentity | None = None
    timeline: tuple[TimelineEntry, ...] = ()
    preview: tuple[PreviewRecord, ...] = ()
    checks: ChecksRecord | None = field(default=None, metadata=_OMIT)
    steady_state: SteadyRecord | None = field(default=None, metadata=_OMIT)
    abort: Abort | None = field(default=None, metadata=_OMIT)
    monitoring: Mapping[str, Any] | None = field(default=None, metadata=_OMIT)  # the monitor's record
    failure: str | None = field(default=None, metadata=_OMIT)  # "scenario", "alerts" or "cerberus"

    @property
    def seconds(self) -> float | None:
        return self.finished - self.started if self.started is not None and self.finished is not None else None

    def verdicts(self) -> Verdicts | None:
        return Verdicts.read(self.monitoring) if isinstance(self.monitoring, dict) and self.monitoring else None


# -- writing and reading ---------------------------------------------------------------------------

def to_json(value: Any) -> Any:
    """The JSON value of a report or any part of it: fields in their order, unset optional ones left out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("omit_none") and getattr(value, f.name) is None)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    return value


def encode(report: Report) -> bytes:
    return json.dumps(to_json(report), indent=2, default=str).encode()


def decode(data: Any, path: Path | str, *, head: bool = False) -> Report:
    """A decoded JSON document as a Report: UserError naming ``path`` unless it is an object with
    a string run_id; every other field read by the rules above. ``head``: only the run's fields
    and its scenarios' file, type and status (history's rows), the rest left empty."""
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise UserError("not a krkn-tui run report (no run_id)", file=path)
    cluster = mapping(data.get("cluster"))
    checks, steady, abort = (None, None, None) if head else (data.get("checks"), data.get("steady_state"),
                                                             data.get("abort"))
    monitoring = data.get("monitoring")
    rest = {} if head else data  # what a history row does not show
    return Report(
        run_id=text(data["run_id"]), config=text(data.get("config")), status=text(data.get("status")),
        dry_run=data.get("dry_run") is True, started=number(data.get("started")),
        finished=number(data.get("finished")), versions_dir=text(data.get("versions_dir")),
        scenarios=tuple(map(ScenarioResult.read_head if head else ScenarioResult.read, items(data.get("scenarios")))),
        rollback=tuple(RollbackRecord.read(r) for r in items(rest.get("rollback"))),
        cluster=ClusterIdentity(text(cluster.get("server")), text(cluster.get("context")),
                                text(cluster.get("kube_system_uid"))) if cluster else None,
        timeline=tuple(e for e in map(_timeline_entry, items(rest.get("timeline"))) if e is not None),
        preview=tuple(PreviewRecord.read(p) for p in items(rest.get("preview"))),
        checks=ChecksRecord.read(checks) if isinstance(checks, dict) else None,
        steady_state=SteadyRecord.read(steady) if isinstance(steady, dict) else None,
        abort=Abort.read(abort) if isinstance(abort, dict) and abort else None,
        monitoring=monitoring if isinstance(monitoring, dict) else None,
        failure=_opt_text(data.get("failure")),
    )


def _timeline_entry(e: dict) -> TimelineEntry | None:
    at = number(e.get("at"))
    if at is None:
        return None
    lane, tone = text(e.get("lane")), e.get("tone")
    return TimelineEntry(at, lane if lane in LANES else "run", text(e.get("text"), TIMELINE_TEXT),
                         tone if tone in TONES else "info", _opt_text(e.get("pods")))
