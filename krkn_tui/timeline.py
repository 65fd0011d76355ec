"""One time axis for a run: scenarios, pod events of the watched namespaces, check transitions
and rollback steps. The engine records one for the report; the console keeps one live. Both
build entries with the same functions (here, and the entry per engine event in
``timeline_events``), so the two never disagree on what an event means."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from .kube.podmodel import LogEntry

LANES = ("scenario", "check", "pod", "rollback", "run")
MAX_ENTRIES = 5000  # a long run keeps its first entries and counts the rest


@dataclass(frozen=True)
class TimelineEntry:
    at: float  # wall-clock seconds
    lane: str  # one of LANES
    text: str
    tone: str = "info"  # info | good | bad
    # the pods view's filter for what it touched (`p` in the timeline view); left out of a report when unset
    pods: str | None = field(default=None, metadata={"omit_none": True})


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


def pod_entry(log: LogEntry) -> TimelineEntry | None:
    """A pod table's LogEntry (kube.podmodel) as a timeline entry; list markers are left out.
    Its tone from the pod's rows: bad when it goes or is being deleted, good when it has just
    become ready (every container), else info."""
    if log.kind == "SYNC":
        return None
    row, before = log.row, log.before
    tone = "bad" if log.kind == "DELETED" or (row is not None and row.deleting) else \
        "good" if row is not None and row.all_ready and not (before is not None and before.all_ready) else "info"
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
