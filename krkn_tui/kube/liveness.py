"""Is the API server answering? A cheap periodic probe beside the pod watch (as k9s does).

A watch cannot tell a quiet cluster from a frozen API server: a partitioned or stopped server
keeps its connections open and sends nothing, and the watch's read timeout fires only after
its server-side timeout plus a margin (45 s). A ``GET /version`` every second, with a 2 s
timeout, can: the console says how long ago the cluster last answered, and calls it silent
once that is more than ``STALE_SECONDS`` (flagged within ``STALE_SECONDS`` plus one look of
the UI, under 5 s). Nothing here imports Textual.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from ..signals import quiet_thread

PROBE_SECONDS = 1.0  # between the end of one probe and the start of the next
PROBE_TIMEOUT = (1.0, 2.0)  # connect, read: a frozen server costs one probe 2 s at most
STALE_SECONDS = 3.0  # silent for longer than this: said, and the pods table greyed


class ApiLiveness(threading.Thread):
    """Calls ``probe()`` every ``interval`` seconds until ``stop()``; remembers when it last
    answered (monotonic ``clock``) and the last error."""

    def __init__(self, probe: Callable[[], object], *, interval: float = PROBE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(name="api-liveness", daemon=True)
        self._probe = probe
        self.interval = interval
        self._clock = clock
        self.started_at = clock()
        self.last_answer: float | None = None
        self.last_error = ""
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        quiet_thread()
        while not self._stop.is_set():
            self.probe_once()
            self._stop.wait(self.interval)

    def probe_once(self) -> None:
        try:
            self._probe()
        except Exception as exc:  # refused, timed out, 5xx: all mean "not answering"
            from .podstream import describe_error

            self.last_error = describe_error(exc)
            return
        self.last_answer, self.last_error = self._clock(), ""

    def silence(self, now: float | None = None) -> float:
        """Seconds since the last answer (since the start, before the first)."""
        now = self._clock() if now is None else now
        return max(0.0, now - (self.last_answer if self.last_answer is not None else self.started_at))


def said(liveness: ApiLiveness, now: float | None = None, stale: float = STALE_SECONDS) -> tuple[str, bool]:
    """(what the header says, whether it is stale). Below ``stale`` the text does not change
    with every probe, so a healthy cluster costs the header no redraw."""
    silence = liveness.silence(now)
    if silence <= stale:
        return ("answering" if liveness.last_answer is not None else "probing"), False
    why = f": {liveness.last_error}" if liveness.last_error else ""
    if liveness.last_answer is None:
        return f"no answer yet ({silence:.0f}s){why}", True
    return f"silent for {silence:.0f}s{why}", True


def version_probe(api_client_factory: Callable[[], Any]) -> Callable[[], object]:
    """``GET /version`` on a client of its own (the watch's pool never waits on it)."""
    holder: dict[str, Any] = {}

    def probe() -> object:
        from kubernetes import client

        if "api" not in holder:
            holder["api"] = client.VersionApi(api_client_factory())
        return holder["api"].get_code(_request_timeout=PROBE_TIMEOUT)

    return probe
