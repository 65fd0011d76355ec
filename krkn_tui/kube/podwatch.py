"""Live pod state: a watcher thread that fills a buffer, and a table model that drains it.

The watcher lists (in pages of ``LIST_PAGE`` pods, ``limit``/``continue``), then watches from the
list's resourceVersion with bookmarks, so a reconnect resumes where it left off. Each watch request carries
``timeout_seconds`` so the loop regains control; a 410 Gone (history compacted) means re-list;
a lost API server means reconnect with backoff (0.5 s doubling to 5 s) and resume from the last
resourceVersion. Events go into a deque the UI drains on its own clock, so a burst of events
never blocks the producer on the UI (and the UI never waits on the network).

Each pod is reduced to a ``PodRow`` (seven fields, slots, shared strings for the repeated
values) in the watcher's thread as soon as its JSON is read: the client's object graph of a pod
(~30 KB of Python objects for kwok's pods) never exists, and a page's dicts are dropped before
the next page is read. A namespace (``-n``) and a label selector narrow the list and the watch
on the server.

Nothing here imports Textual: ``PodTable`` is plain data and is tested on plain dicts.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Protocol

from ..sanitize import one_line
from ..signals import quiet_thread

# Event kinds in the buffer. SYNC carries a whole list (after a list or re-list).
ADDED, MODIFIED, DELETED, SYNC = "ADDED", "MODIFIED", "DELETED", "SYNC"

WATCH_TIMEOUT_SECONDS = 30
BACKOFF_START, BACKOFF_MAX = 0.5, 5.0
# Backpressure: past this many undrained events the watcher waits for the UI (as toolong does).
MAX_PENDING = 20_000
LIST_PAGE = 500  # kubectl's chunk size: one page is ~1.5 MB of JSON at most


class Gone(Exception):
    """The resourceVersion we resume from is too old (HTTP 410): list again."""


@dataclass(frozen=True, slots=True)
class BufferedEvent:
    kind: str  # ADDED | MODIFIED | DELETED | SYNC
    payload: Any  # one PodRow (or pod dict), or for SYNC a list of them
    received: float  # wall-clock seconds
    version: str = ""  # the event's resourceVersion


# -- the Kubernetes side ----------------------------------------------------------------------


class PodSource(Protocol):
    """The two calls the watcher makes; the real one talks to the API, tests pass a fake."""

    def list(self) -> tuple[list, str]:
        """All pods in scope (PodRows or pod dicts) and the list's resourceVersion."""

    def watch(self, resource_version: str, timeout_seconds: int) -> "WatchStream":
        """Open a watch; raises Gone when ``resource_version`` has expired."""


class WatchStream(Protocol):
    def __iter__(self) -> Iterator[dict]: ...

    def close(self) -> None: ...


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Newline-delimited JSON from a chunked HTTP body; a line may span chunks."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield line.decode("utf-8", "replace")
    if buffer.strip():
        yield buffer.decode("utf-8", "replace")


class _HttpWatchStream:
    """Watch lines decoded straight into (type, PodRow or None, resourceVersion)."""

    def __init__(self, response):
        self._response = response

    def __iter__(self) -> Iterator[tuple]:
        try:
            from .podjson import WatchError, decode_event
        except ImportError:  # an environment installed before msgspec was a dependency
            yield from map(_from_dict, self._json_events())
            return
        for line in split_lines(self._response.stream(amt=None, decode_content=False)):
            try:
                yield decode_event(line)
            except WatchError as e:
                if e.code == 410:
                    raise Gone(str(e)) from None
                raise RuntimeError(f"watch error {e.code}: {e}") from None

    def _json_events(self) -> Iterator[dict]:
        for line in split_lines(self._response.stream(amt=None, decode_content=False)):
            event = json.loads(line)
            obj = event.get("object") or {}
            if event.get("type") == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(obj.get("message") or "resource version too old")
                raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message') or obj}")
            yield event

    def close(self) -> None:
        close_response(self._response)


def close_response(response) -> None:
    """End a streamed response now. shutdown() wakes a reader blocked in another thread;
    release_conn() would instead drain the body, i.e. wait out a watch's server-side timeout."""
    for step in ("shutdown", "close"):
        try:
            getattr(response, step, lambda: None)()
        except Exception:  # racing the reader thread; either way the stream ends
            pass


def _page_decoder() -> Callable[[bytes], tuple[list, str, str | None]]:
    """msgspec's typed decoder; stdlib json (15x the CPU) where msgspec is not installed yet."""
    try:
        from .podjson import decode_page

        return decode_page
    except ImportError:
        def decode_page(data: bytes) -> tuple[list, str, str | None]:
            body = json.loads(data)
            meta = body.get("metadata") or {}
            return [pod_row(p) for p in body.get("items") or ()], meta.get("resourceVersion") or "", meta.get("continue")

        return decode_page


class KubePodSource:
    """Pods of one namespace (or all), optionally of a label selector, as PodRows."""

    def __init__(self, api_client_factory: Callable[[], Any], namespace: str | None = None,
                 connect_timeout: float = 5.0, label_selector: str | None = None, page: int = LIST_PAGE):
        self._factory = api_client_factory
        self._core = None
        self.namespace = namespace
        self.label_selector = label_selector
        self.connect_timeout = connect_timeout
        self.page = page

    def _call(self, **kwargs):
        if self._core is None:
            from kubernetes import client

            self._core = client.CoreV1Api(self._factory())
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        if self.namespace:
            return self._core.list_namespaced_pod(self.namespace, _preload_content=False, **kwargs)
        return self._core.list_pod_for_all_namespaces(_preload_content=False, **kwargs)

    def list(self) -> tuple[list[PodRow], str]:
        """Every page, each reduced to rows before the next is read; an expired continue token
        (410) means list again from the start, like an expired watch."""
        from kubernetes.client.exceptions import ApiException

        decode_page = _page_decoder()

        rows: list[PodRow] = []
        token = None
        while True:
            kwargs = {"limit": self.page} if self.page else {}
            if token:
                kwargs["_continue"] = token
            try:
                response = self._call(_request_timeout=(self.connect_timeout, 60), **kwargs)
            except ApiException as e:
                if e.status == 410:
                    raise Gone(e.reason) from None
                raise
            page, version, token = decode_page(response.data)
            rows.extend(page)
            if not token:
                return rows, version

    def watch(self, resource_version: str, timeout_seconds: int) -> WatchStream:
        from kubernetes.client.exceptions import ApiException

        try:
            response = self._call(
                watch=True, resource_version=resource_version, timeout_seconds=timeout_seconds,
                allow_watch_bookmarks=True,
                # The read timeout outlives the server-side one: silence past it means a dead peer.
                _request_timeout=(self.connect_timeout, timeout_seconds + 15),
            )
        except ApiException as e:
            if e.status == 410:
                raise Gone(e.reason) from None
            raise
        return _HttpWatchStream(response)


# -- the watcher thread -----------------------------------------------------------------------


def _from_dict(event: dict) -> tuple[str, "PodRow | None", str]:
    """A watch event as a plain dict (a test's fake stream) in the decoded stream's shape."""
    obj = event.get("object") or {}
    kind = event.get("type") or ""
    row = pod_row(obj) if kind in (ADDED, MODIFIED, DELETED) else None
    return kind, row, (obj.get("metadata") or {}).get("resourceVersion") or ""


def describe_error(exc: BaseException) -> str:
    """One short line for the header: 'connection refused', 'HTTP 403 Forbidden', ..."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
    text = one_line(exc)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if marker in text:
            return marker.lower()
    return f"{type(exc).__name__}: {text}"[:160]


class PodWatcher(threading.Thread):
    """List then watch pods, forever, until ``stop()``; events accumulate in ``buffer``."""

    def __init__(self, source: PodSource, *, on_state: Callable[[str], None] | None = None,
                 timeout_seconds: int = WATCH_TIMEOUT_SECONDS, backoff: tuple[float, float] = (BACKOFF_START, BACKOFF_MAX),
                 max_pending: int = MAX_PENDING, clock: Callable[[], float] = time.time,
                 on_wake: Callable[[], None] | None = None):
        """``on_wake`` is called (from this thread) for the first event buffered after a drain,
        so a consumer can drain at once instead of polling; later events of a burst do not call it."""
        super().__init__(name="pod-watcher", daemon=True)
        self.source = source
        self.buffer: deque[BufferedEvent] = deque()
        self._on_wake = on_wake
        self._wake_armed = True
        self.state = "connecting"
        self.timeout_seconds = timeout_seconds
        self.backoff = backoff
        self.max_pending = max_pending
        self._on_state = on_state
        self._clock = clock
        self._stop_event = threading.Event()
        self._stream_lock = threading.Lock()
        self._stream: WatchStream | None = None
        self.resource_version: str | None = None

    # -- control ------------------------------------------------------------------------------

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop_event.set()
        with self._stream_lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop_event.is_set()

    def drain(self) -> list[BufferedEvent]:
        """Everything buffered so far; safe to call from another thread while events arrive."""
        # Armed before emptying: an event appended from here on wakes the consumer again (at
        # worst once too often, never a buffered event left without a wake).
        self._wake_armed = True
        out = []
        while True:
            try:
                out.append(self.buffer.popleft())
            except IndexError:
                return out

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        quiet_thread()
        delay = self.backoff[0]
        while not self.stopped:
            try:
                if self.resource_version is None:
                    self._list()
                self._watch_once()
                delay = self.backoff[0]
            except Gone:
                self.resource_version = None
                self._set_state("relisting")
            except Exception as exc:  # network, 5xx, auth: all mean "try again later"
                if self.stopped:
                    break
                self._set_state(f"reconnecting: {describe_error(exc)}")
                self._stop_event.wait(delay)
                delay = min(delay * 2, self.backoff[1])
        self._set_state("stopped")

    def _list(self) -> None:
        items, resource_version = self.source.list()
        self._push(SYNC, [as_row(item) for item in items], resource_version)
        self.resource_version = resource_version

    def _watch_once(self) -> None:
        stream = self.source.watch(self.resource_version, self.timeout_seconds)
        with self._stream_lock:
            self._stream = stream
        if self.stopped:  # stop() came between opening and publishing the stream
            stream.close()
            return
        self._set_state("connected")
        try:
            for event in stream:
                if self.stopped:
                    return
                kind, row, version = event if isinstance(event, tuple) else _from_dict(event)
                if kind in (ADDED, MODIFIED, DELETED):
                    self._push(kind, row, version or "")
                if version:  # BOOKMARKs only move the resume point
                    self.resource_version = version
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()

    def _push(self, kind: str, payload: Any, version: str = "") -> None:
        while len(self.buffer) >= self.max_pending and not self.stopped:
            self._stop_event.wait(0.05)
        self.buffer.append(BufferedEvent(kind, payload, self._clock(), version))
        if self._wake_armed and self._on_wake is not None:
            self._wake_armed = False
            try:
                self._on_wake()
            except Exception:  # a broken UI callback must not kill the watch
                pass

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:  # a broken UI callback must not kill the watch
                pass


# -- the table model --------------------------------------------------------------------------


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
                  restarts=restarts, node=_intern(node), created=created, key=f"{namespace}/{name}")


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
    detail: str = ""

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
            self.rows.pop(row.key, None)
            return LogEntry(event.received, DELETED, row.key, row.node)
        previous = self.rows.get(row.key)
        self.rows[row.key] = row
        if previous == row:
            return None  # a status heartbeat that changed nothing we show
        return LogEntry(event.received, event.kind, row.key, _what_changed(previous, row))

    def _sync(self, event: BufferedEvent) -> list[LogEntry]:
        """Replace everything; after the first list, log what changed while we were away."""
        fresh = {row.key: row for row in map(as_row, event.payload)}
        old, self.rows = self.rows, fresh
        if not self.synced:
            self.synced = True
            return [LogEntry(event.received, SYNC, f"{len(fresh)} pods", "listed")]
        entries = [LogEntry(event.received, DELETED, key, "gone while relisting")
                   for key in sorted(old.keys() - fresh.keys())]
        for key in sorted(fresh):
            if key not in old:
                entries.append(LogEntry(event.received, ADDED, key, _what_changed(None, fresh[key])))
            elif old[key] != fresh[key]:
                entries.append(LogEntry(event.received, MODIFIED, key, _what_changed(old[key], fresh[key])))
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
