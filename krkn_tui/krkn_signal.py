"""krkn's signal endpoint (krkn's ``server.py``), so tools that drive a krkn run drive a krkn-tui run.

krkn's config: ``kraken.publish_kraken_status`` (serve it), ``signal_state`` (the state it starts
in: RUN, PAUSE or STOP), ``signal_address`` and ``port`` (8081). As krkn: ``GET /`` answers the
state as plain text; ``POST /RUN``, ``/PAUSE``, ``/STOP`` set it; a run looks at it before each
scenario file, waits while it is PAUSE and ends at STOP. Where krkn-tui differs, and why:
- the address defaults to 127.0.0.1 (krkn's 0.0.0.0): an endpoint that stops runs is not put on
  every interface unless the config asks for it (krkn's shipped configs do, and get it);
- STOP ends the run at once, mid-scenario too, and rolls it back (the emergency stop's path),
  exit 3; krkn finishes the scenario in progress and leaves its changes;
- a run without ``publish_kraken_status`` still honours ``signal_state: STOP`` (nothing runs) and
  ignores PAUSE, as krkn does.
``krkn-tui halt`` posts STOP to the endpoint a config names, so a krkn run of the same game day
stops too. Nothing here imports Textual.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

STATES = ("RUN", "PAUSE", "STOP")
DEFAULT_PORT = 8081  # krkn's
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class SignalSettings:
    publish: bool = False
    state: str = "RUN"
    address: str = LOOPBACK
    port: int = DEFAULT_PORT
    named: bool = False  # the config names signal_address or port: `halt` posts STOP there

    @property
    def url(self) -> str:
        """Where a client reaches it (0.0.0.0 and :: are reached on loopback)."""
        host = LOOPBACK if self.address in ("0.0.0.0", "", "::") else self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


def parse_settings(kraken) -> SignalSettings:
    """From the config's ``kraken`` section (yamlio.Section); one-line errors naming the field."""
    state = kraken.choice("signal_state", STATES, "RUN")
    port = kraken.integer("port", DEFAULT_PORT, minimum=0, maximum=65535)
    address = kraken.string("signal_address", None)
    return SignalSettings(publish=kraken.boolean("publish_kraken_status", False), state=state,
                          address=(address or LOOPBACK).strip(), port=port,
                          named=address is not None or kraken.raw("port") is not None)


class SignalEndpoint:
    """The state and, with ``publish``, its HTTP server; ``on_stop`` is called once, from the
    server's thread, when STOP is posted (the engine stops the run there)."""

    def __init__(self, settings: SignalSettings, on_stop: Callable[[], None] | None = None):
        self.settings = settings
        self.state = settings.state
        self.on_stop = on_stop or (lambda: None)
        self._changed = threading.Condition()
        self._server = None  # http.server's ThreadingHTTPServer while it listens

    def set(self, state: str) -> None:
        with self._changed:
            first_stop = state == "STOP" and self.state != "STOP"
            self.state = state
            self._changed.notify_all()
        if first_stop:
            self.on_stop()

    def wait_while_paused(self, stop: threading.Event, said: Callable[[], None]) -> str:
        """Before a scenario: the state once it is not PAUSE (``said`` is called once when it
        has to wait). krkn waits only when it publishes: a PAUSE nobody can lift is ignored."""
        if not self.settings.publish:
            return "STOP" if self.state == "STOP" else "RUN"
        with self._changed:
            if self.state == "PAUSE":
                said()
            while self.state == "PAUSE" and not stop.is_set():
                self._changed.wait(0.2)
            return self.state

    def start(self) -> None:
        """Listen (with ``publish``); OSError when the address cannot be bound."""
        if not self.settings.publish:
            return
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's names)
                if self.path != "/":
                    self._answer(404, b"")
                    return
                self._answer(200, endpoint.state.encode())

            def do_POST(self):  # noqa: N802
                state = self.path.lstrip("/")
                if state not in STATES:
                    self._answer(404, b"")
                    return
                endpoint.set(state)
                self._answer(200, b"")

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):  # requests are not the run's output
                pass

        server = ThreadingHTTPServer((self.settings.address, self.settings.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="krkn-signal", daemon=True).start()

    @property
    def bound(self) -> str:
        if self._server is None:
            return ""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def post_stop(settings: SignalSettings, timeout: float = 3.0) -> str:
    """Post krkn's STOP to the endpoint the config names; one line saying what happened."""
    import urllib.error
    import urllib.request

    url = f"{settings.url}/STOP"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=timeout) as r:
            return f"krkn STOP posted to {url} ({r.status})"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"krkn STOP not posted to {url}: {reason}"
