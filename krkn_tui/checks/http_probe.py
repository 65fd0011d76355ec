"""One HTTP health probe: a GET bounded by a total deadline, redirects kept to one origin.

- The check's ``timeout`` bounds the whole probe (connect, TLS handshake, status line, headers,
  the first bytes of the body, every redirect), not each socket read: a watchdog shuts the
  socket down when the time is up, so a server dripping one header byte at a time cannot hold
  the probe (a socket timeout alone restarts at every byte). Name resolution is the one step it
  cannot cut (a blocking libc call); a check names a host the cluster's operator controls.
- Redirects are followed within the same origin only (``urls.redirect_refusal`` says why not
  another, nor https to http), at most ``MAX_REDIRECTS``: the credentials never leave the origin
  the config named.
- Credentials: ``bearer_token``, then basic auth from ``auth`` or, as krkn's requests does, from
  the URL's ``user:pass@``. No proxy from the environment: a check must hit the URL itself.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
from urllib.parse import unquote, urljoin, urlsplit

from ..sanitize import one_line
from .spec import HttpCheck
from .urls import redirect_refusal

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
BODY_BYTES = 300  # what a probe reads of the body: enough for its one-line gist


class Deadline:
    """A probe's total time. Sockets it watches are shut down (not closed: their owner closes
    them) by a timer thread when the time is up; a blocked read then returns at once."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds
        self.expired = False
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError("deadline exceeded")
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                raise TimeoutError("deadline exceeded")
            self._open.append(sock)

    def close(self, sock: socket.socket) -> None:
        """Unwatched under the lock, then closed: the timer never shuts down a reused fd."""
        with self._lock:
            if sock in self._open:
                self._open.remove(sock)
        sock.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._open:
                try:  # the plain socket's shutdown: an SSLSocket's would drop its state under the reader
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def cancel(self) -> None:
        self._timer.cancel()


def http_get(check: HttpCheck) -> tuple[bool, str]:
    """(healthy, one line of what it saw). Healthy is HTTP 200 within the deadline."""
    deadline = Deadline(check.timeout)
    try:
        return _follow(check, deadline)
    except http.client.InvalidURL:  # its message quotes the path and query: say what, not where
        return False, "invalid URL: spaces or control characters in its path or query"
    except (OSError, http.client.HTTPException) as e:
        if deadline.expired or isinstance(e, TimeoutError):
            return False, f"deadline exceeded: no full answer within {check.timeout:g}s"
        if isinstance(e, http.client.HTTPException):
            return False, f"bad answer: {type(e).__name__}: {one_line(e)[:160]}"
        return False, f"unreachable: {one_line(e)[:160]}"
    finally:
        deadline.cancel()


def _follow(check: HttpCheck, deadline: Deadline) -> tuple[bool, str]:
    url, headers = check.url, _headers(check)
    for _ in range(MAX_REDIRECTS + 1):
        status, location, body = _get_once(url, headers, check.verify, deadline)
        if status not in _REDIRECTS or not location:
            return status == 200, f"HTTP {status}{_gist(body)}"
        target = urljoin(url, location)
        refusal = redirect_refusal(url, target)
        if refusal:
            return False, f"HTTP {status}: {refusal}"
        url = target
    return False, f"more than {MAX_REDIRECTS} redirects"


def _headers(check: HttpCheck) -> dict[str, str]:
    headers = {"User-Agent": "krkn-tui health check", "Accept": "*/*", "Connection": "close"}
    if check.bearer_token:
        headers["Authorization"] = f"Bearer {check.bearer_token}"
    parts = urlsplit(check.url)
    auth = check.auth or ((unquote(parts.username), unquote(parts.password or "")) if parts.username else None)
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return headers


def _get_once(url: str, headers: dict[str, str], verify: bool, deadline: Deadline) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    host, port = parts.hostname or "", parts.port or (443 if https else 80)
    sock = socket.create_connection((host, port), timeout=deadline.left())
    try:
        deadline.watch(sock)
        if https:  # wrapped without I/O, watched, then the handshake: the deadline covers it too
            tls = _tls_context(verify).wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            deadline.close(sock)  # detached by the wrap: closing it closes nothing
            sock = tls
            deadline.watch(sock)
            sock.do_handshake()
        conn = http.client.HTTPConnection(host, port, timeout=deadline.left())
        conn.sock = sock  # ours, already connected: HTTPConnection never opens one itself
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
        with conn.getresponse() as resp:  # closed: its reader holds the socket open otherwise
            answer = resp.status, resp.getheader("Location"), resp.read(BODY_BYTES)
        if deadline.expired:  # cut mid-answer: http.client takes the shut-down socket's EOF for an end
            raise TimeoutError("deadline exceeded")
        return answer
    finally:
        deadline.close(sock)


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _gist(body: bytes) -> str:
    text = one_line(body.decode(errors="replace"))[:120]
    return f": {text}" if text else ""

