"""Live pod state as plain data: one ``PodRow`` per pod, the buffered events a watcher fills,
and the ``PodTable`` the console drains them into (nothing here talks to the API or imports
Textual: tested on plain dicts).

Each pod is reduced to a ``PodRow`` (seven fields, slots, shared strings for the repeated
values) as soon as its JSON is read: the client's object graph of a pod (~30 KB of Python
objects for kwok's pods) never exists.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

# Event kinds in the buffer. SYNC carries a whole list (after a list or re-list).
ADDED, MODIFIED, DELETED, SYNC = "ADDED", "MODIFIED", "DELETED", "SYNC"


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    kind: str  # ADDED | MODIFIED | DELETED | SYNC
    payload: Any  # one PodRow (or pod dict), or for SYNC a list of them
    received: float  # wall-clock seconds
    version: str = ""  # the event's resourceVersion


def parse_k8s_time(value: str | None) -> float | None:
    """RFC 3339 ('2024-05-01T12:00:00Z') to epoch seconds; None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class PodRow:
    """What the console shows of a pod: ~200 bytes with its strings, where the client's V1Pod
    graph of the same pod is tens of kilobytes."""

    namespace: str
    name: str
    phase: str
    ready: str  # "n/m"
    restarts: int
    node: str
    created: float | None  # epoch seconds
    all_ready: bool = False  # every container ready (what "n/n" shows)
    deleting: bool = False  # a deletion is under way (the phase shows Terminating)
    key: str = field(default="", compare=False, repr=False)  # namespace/name, made once

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", f"{self.namespace}/{self.name}")


def pod_key(obj: dict | PodRow) -> str:
    if isinstance(obj, PodRow):
        return obj.key
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


_intern = sys.intern  # namespaces, phases, ready counts and nodes repeat across pods: one copy each


def make_row(*, namespace: str, name: str, phase: str | None, reason: str | None, deleting: bool, ready: int,
             containers: int, restarts: int, node: str, created: float | None) -> PodRow:
    phase = phase or "Pending"
    if deleting:
        phase = "Terminating"  # as kubectl shows it: the phase stays Running until it is gone
    elif reason:
        phase = reason  # Evicted, NodeLost, ...
    namespace = _intern(namespace)
    return PodRow(namespace=namespace, name=name, phase=_intern(phase), ready=_intern(f"{ready}/{containers}"),
                  restarts=restarts, node=_intern(node), created=created, all_ready=containers > 0 and ready == containers,
                  deleting=deleting, key=f"{namespace}/{name}")


def pod_row(obj: dict) -> PodRow:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    return make_row(
        namespace=meta.get("namespace") or "", name=meta.get("name") or "", phase=status.get("phase"),
        reason=status.get("reason"), deleting=bool(meta.get("deletionTimestamp")),
        ready=sum(1 for c in statuses if c.get("ready")), containers=len(spec.get("containers") or statuses),
        restarts=sum(int(c.get("restartCount") or 0) for c in statuses), node=spec.get("nodeName") or "",
        created=parse_k8s_time(meta.get("creationTimestamp")))


def as_row(payload: dict | PodRow) -> PodRow:
    return payload if isinstance(payload, PodRow) else pod_row(payload)


def human_age(seconds: float | None) -> str:
    """kubectl's short ages: 45s, 3m12s, 17m, 5h3m, 30h, 3d4h, 12d."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 600:
        return f"{m}m{s % 60}s"
    if s < 3 * 3600:
        return f"{m}m"
    if s < 8 * 3600:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if s < 48 * 3600:
        return f"{h}h"
    if s < 8 * 86400:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    return f"{d}d"


@dataclass(frozen=True)
class LogEntry:
    time: float
    kind: str  # ADDED | MODIFIED | DELETED | SYNC, or CHECK for a check's transition (note)
    key: str
    detail: str = ""  # for people: what changed, as text
    # The pod after the event and before it (None: not a pod's, or not known): what the entry
    # means is read from these, never parsed back out of the detail.
    row: PodRow | None = field(default=None, compare=False, repr=False)
    before: PodRow | None = field(default=None, compare=False, repr=False)

    def line(self, fmt: Callable[[float], str]) -> str:
        return f"{fmt(self.time)} {self.kind:<8} {self.key}" + (f"  {self.detail}" if self.detail else "")


@dataclass
class TableChanges:
    """What a drained batch did to the rows: the UI touches only these keys."""

    added: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    log: list[LogEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.log)


class PodTable:
    """Latest state per pod key (namespace/name) and a capped log of what happened."""

    def __init__(self, log_limit: int = 1000):
        self.rows: dict[str, PodRow] = {}
        self.log: deque[LogEntry] = deque(maxlen=log_limit)
        self.log_total = 0  # entries ever logged: a reader knows how many it has not seen
        self.synced = False

    def note(self, entry: LogEntry) -> None:
        """An entry from outside the watch (a check turning red), in the log among the pods'."""
        self.log.append(entry)
        self.log_total += 1

    def apply(self, events: Iterable[BufferedEvent]) -> TableChanges:
        """Fold a drained batch in; the result names only the keys whose row differs now."""
        before: dict[str, PodRow | None] = {}  # first-seen state of every key this batch touched
        log: list[LogEntry] = []
        for event in events:
            if event.kind == SYNC:
                for key in self.rows.keys() | {pod_key(p) for p in event.payload}:
                    before.setdefault(key, self.rows.get(key))
                log.extend(self._sync(event))
            else:
                key = pod_key(event.payload)
                before.setdefault(key, self.rows.get(key))
                entry = self._one(event)
                if entry is not None:
                    log.append(entry)
        self.log.extend(log)
        self.log_total += len(log)
        changes = TableChanges(log=log)
        for key, old in before.items():
            new = self.rows.get(key)
            if old is None and new is not None:
                changes.added.add(key)
            elif old is not None and new is None:
                changes.removed.add(key)
            elif old != new:
                changes.changed.add(key)
        return changes

    def _one(self, event: BufferedEvent) -> LogEntry | None:
        row = as_row(event.payload)
        if event.kind == DELETED:
            before = self.rows.pop(row.key, None)
            return LogEntry(event.received, DELETED, row.key, row.node, row, before)
        previous = self.rows.get(row.key)
        self.rows[row.key] = row
        if previous == row:
            return None  # a status heartbeat that changed nothing we show
        return LogEntry(event.received, event.kind, row.key, _what_changed(previous, row), row, previous)

    def _sync(self, event: BufferedEvent) -> list[LogEntry]:
        """Replace everything; after the first list, log what changed while we were away."""
        fresh = {row.key: row for row in map(as_row, event.payload)}
        old, self.rows = self.rows, fresh
        if not self.synced:
            self.synced = True
            return [LogEntry(event.received, SYNC, f"{len(fresh)} pods", "listed")]
        entries = [LogEntry(event.received, DELETED, key, "gone while relisting", None, old[key])
                   for key in sorted(old.keys() - fresh.keys())]
        for key in sorted(fresh):
            if key not in old:
                entries.append(LogEntry(event.received, ADDED, key, _what_changed(None, fresh[key]), fresh[key]))
            elif old[key] != fresh[key]:
                entries.append(LogEntry(event.received, MODIFIED, key, _what_changed(old[key], fresh[key]),
                                        fresh[key], old[key]))
        entries.append(LogEntry(event.received, SYNC, f"{len(fresh)} pods", "relisted"))
        return entries


def _what_changed(old: PodRow | None, new: PodRow) -> str:
    if old is None:
        return " ".join(p for p in (new.phase, new.ready, new.node) if p)
    def shown(value) -> str:
        return "-" if value in ("", None) else str(value)

    parts = [f"{name} {shown(getattr(old, name))} → {shown(getattr(new, name))}"
             for name in ("phase", "ready", "restarts", "node") if getattr(old, name) != getattr(new, name)]
    return ", ".join(parts)
