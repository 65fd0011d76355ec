"""Stand-in HTTP servers for tests (a Prometheus, a cerberus, a health endpoint): one way to
start one on loopback in a thread and stop it."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0,
          tls=None) -> ThreadingHTTPServer:
    """A server answering with `handler` in a daemon thread (`tls`: an ssl.SSLContext to wrap it
    in); stop it with ``stop``."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]):
    """The base URL of a loopback server answering with `handler`, for the block's length."""
    server = serve(handler)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop(server)
