"""Live pod state: a watcher thread that fills a buffer the console drains into its table.

The watcher lists (in pages of ``podstream.LIST_PAGE`` pods, ``limit``/``continue``), then
watches from the list's resourceVersion with bookmarks, so a reconnect resumes where it left off.
Each watch request carries ``timeout_seconds`` so the loop regains control; a 410 Gone (history
compacted) means re-list; a lost API server means reconnect with backoff (0.5 s doubling to 5 s)
and resume from the last resourceVersion. Events go into a deque the UI drains on its own clock,
so a burst of events never blocks the producer on the UI (and the UI never waits on the network).

The stream and its decoding are ``podstream``'s (and ``podjson``'s); the rows, the events and the
table are plain data in ``podmodel``. A namespace (``-n``) and a label selector narrow the list and
the watch on the server.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

from ..signals import quiet_thread
from .podmodel import ADDED, DELETED, MODIFIED, SYNC, BufferedEvent, as_row
from .podstream import WATCH_TIMEOUT_SECONDS, Gone, PodSource, WatchStream, dict_event, describe_error

BACKOFF_START, BACKOFF_MAX = 0.5, 5.0
# Backpressure: past this many undrained events the watcher waits for the UI (as toolong does).
MAX_PENDING = 20_000
DELETING = "DELETING"  # newest_change(): a deletion's start


class PodWatcher(threading.Thread):
    """List then watch pods, forever, until ``stop()``; events accumulate in ``buffer``."""

    def __init__(self, source: PodSource, *, on_state: Callable[[str], None] | None = None,
                 timeout_seconds: int = WATCH_TIMEOUT_SECONDS, backoff: tuple[float, float] = (BACKOFF_START, BACKOFF_MAX),
                 max_pending: int = MAX_PENDING, clock: Callable[[], float] = time.time,
                 on_wake: Callable[[], None] | None = None):
        """``on_wake`` is called (from this thread) for the first event buffered after a drain,
        so a consumer can drain at once instead of polling, and for a deletion's DELETED (a
        consumer may hold the deletion's start back for it); other events of a burst do not."""
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

    def newest_change(self) -> str | None:
        """The kind of the newest buffered event, ``DELETING`` for a MODIFIED that starts a pod's
        deletion (with no grace period its DELETED follows within milliseconds: Kubernetes sends
        a MODIFIED, then the DELETED); None when nothing is buffered."""
        try:
            event = self.buffer[-1]
        except IndexError:
            return None
        if event.kind == MODIFIED and getattr(event.payload, "deleting", False):
            return DELETING
        return event.kind

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
                kind, row, version = event if isinstance(event, tuple) else dict_event(event)
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
        # A deletion's DELETED wakes the consumer even within a batch: it may hold the
        # deletion's start back until its end comes, to draw both in one frame.
        ends_deletion = kind == DELETED and self._wake_armed is False and self.newest_change() == DELETING
        self.buffer.append(BufferedEvent(kind, payload, self._clock(), version))
        if (self._wake_armed or ends_deletion) and self._on_wake is not None:
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
