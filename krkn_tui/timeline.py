"""One time axis for a run: scenarios, pod events of the watched namespaces, check transitions
and rollback steps. The engine records one for the report; the console keeps one live. Both
build entries with the same functions here, so the two never disagree on what an event means."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

LANES = ("scenario", "check", "pod", "rollback", "run")
MAX_ENTRIES = 5000  # a long run keeps its first entries and counts the rest


@dataclass(frozen=True)
class TimelineEntry:
    at: float  # wall-clock seconds
    lane: str  # one of LANES
    text: str
    tone: str = "info"  # info | good | bad
    pods: str | None = None  # the pods view's filter for what it touched (`p` in the timeline view)


class Timeline:
    """Thread-safe, bounded list of entries (pod watchers and the engine add from their threads)."""

    def __init__(self, limit: int = MAX_ENTRIES):
        self.limit = limit
        self._entries: list[TimelineEntry] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, entry: TimelineEntry | None) -> None:
        if entry is None:
            return
        with self._lock:
            if len(self._entries) < self.limit:
                self._entries.append(entry)
            else:
                self.dropped += 1

    def extend(self, entries: Iterable[TimelineEntry | None]) -> None:
        for e in entries:
            self.add(e)

    def entries(self) -> list[TimelineEntry]:
        with self._lock:
            return sorted(self._entries, key=lambda e: e.at)

    def record(self) -> list[dict]:
        return [{k: v for k, v in asdict(e).items() if k != "pods" or v is not None} for e in self.entries()]


def pod_entry(log: Any) -> TimelineEntry | None:
    """A pod table's LogEntry (kube.podwatch) as a timeline entry; list markers are left out."""
    if log.kind == "SYNC":
        return None
    tone = "bad" if log.kind == "DELETED" or "Terminating" in log.detail else \
        "good" if "→ 1/1" in log.detail or log.detail.endswith(" 1/1") else "info"
    verb = {"ADDED": "added", "MODIFIED": "changed", "DELETED": "deleted"}.get(log.kind, log.kind.lower())
    return TimelineEntry(log.time, "pod", f"{log.key} {verb}" + (f": {log.detail}" if log.detail else ""), tone,
                         pods=log.key)


def pods_touched(action: str, fields: Any) -> str | None:
    """The pods view's filter for a change: the pod (``namespace/name``), else its namespace's
    pods, else the node's; None when it touched no pods' place."""
    namespace, node = fields.get("namespace"), fields.get("node")
    pod = fields.get("pod") or (fields.get("name") if action.endswith("_pod") else None)
    if namespace and pod:
        return f"{namespace}/{pod}"
    if namespace:
        return f"{namespace}/"
    return str(node) if node else None


class PodTimeline:
    """Watches the pods of some namespaces for the length of a run; `entries()` at the end."""

    def __init__(self, api_client_factory: Callable[[], Any], namespaces: Iterable[str]):
        from .kube.podstream import KubePodSource
        from .kube.podwatch import PodWatcher

        self._watchers = [PodWatcher(KubePodSource(api_client_factory, ns), timeout_seconds=10)
                          for ns in sorted(set(namespaces))]
        for w in self._watchers:
            w.start()

    def stop(self) -> list[TimelineEntry]:
        from .kube.podmodel import PodTable

        out: list[TimelineEntry] = []
        for w in self._watchers:
            w.stop(timeout=2.0)
            table = PodTable(log_limit=MAX_ENTRIES)
            out.extend(e for e in map(pod_entry, table.apply(w.drain()).log) if e is not None)
        return out


# -- engine events --------------------------------------------------------------------------------

def entry_for_event(event: Any, at: float | None = None) -> TimelineEntry | None:
    """The timeline's entry for an engine event, or None when it is not on the time axis."""
    import time

    from . import events as ev

    at = at if at is not None else time.time()
    if isinstance(event, ev.ScenarioStarted):
        return TimelineEntry(at, "scenario", f"{event.id} started ({event.scenario_type})")
    if isinstance(event, ev.ScenarioFinished):
        return TimelineEntry(at, "scenario", f"{event.id} {event.status} after {event.seconds:.1f}s",
                             "good" if event.status == "passed" else "bad")
    if isinstance(event, ev.ClusterChange):
        return TimelineEntry(at, "scenario", f"changed: {event.action} {event.target}".rstrip(), "bad",
                             pods=pods_touched(event.action, event.fields))
    if isinstance(event, ev.CheckChanged):
        return TimelineEntry(event.at or at, "check", f"{event.name} {event.state} ({event.phase}): {event.seen}",
                             "good" if event.state == "passing" else "bad")
    if isinstance(event, ev.CheckAborted):
        return TimelineEntry(event.at or at, "check", f"{event.name} failed: stopping the run ({event.seen})", "bad")
    if isinstance(event, ev.RunHalted):
        return TimelineEntry(event.at or at, "run", f"{event.source}: {event.detail}", "bad")
    if isinstance(event, ev.RollbackRunStarted):
        return TimelineEntry(at, "rollback", f"rollback of {event.files} file(s) started: {event.reason}")
    if isinstance(event, ev.RollbackStepDone):
        return TimelineEntry(at, "rollback", f"{event.STATUS}: {event.file_name}" + (
            f" ({event.error})" if event.error else ""), "good" if event.STATUS == "executed" else "bad")
    if isinstance(event, ev.RunStarted):
        return TimelineEntry(at, "run", "run started")
    if isinstance(event, ev.RunFinished):
        return TimelineEntry(at, "run", f"run {event.status}", "good" if event.status == "passed" else "bad")
    if isinstance(event, ev.ScenarioVerdicts):
        bad = ((event.scenario.get("critical_alerts") or {}).get("fails") is True
               or (event.scenario.get("cerberus") or {}).get("go") is False)
        score = (event.scenario.get("resiliency") or {}).get("score")
        return TimelineEntry(at, "check", f"verdicts after {event.name}" + (f": score {score}" if score is not None
                                                                            else ""), "bad" if bad else "info")
    if isinstance(event, ev.RunVerdicts):
        failure = event.monitoring.get("failure")
        score = (event.monitoring.get("resiliency") or {}).get("score")
        return TimelineEntry(at, "run", "verdicts of the run" + (f": score {score}" if score is not None else "")
                             + (f", fails it ({failure})" if failure else ""), "bad" if failure else "good")
    if isinstance(event, ev.SteadyState):
        return TimelineEntry(at, "check", f"steady state {event.phase}: " + (
            "ok" if event.ok else f"failing ({', '.join(event.failing)})"), "good" if event.ok else "bad")
    return None
