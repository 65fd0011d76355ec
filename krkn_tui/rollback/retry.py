"""Which rollback failures are worth retrying: the API server being unreachable or overloaded."""

from __future__ import annotations

RETRY_STATUSES = frozenset({0, 429, 500, 502, 503, 504})
BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


def is_transient(exc: BaseException) -> bool:
    """True for connection problems, also when a callable wrapped them (``raise ... from``)."""
    # Here, not at module level: kubernetes costs ~0.2 s to import and the console's first
    # frame reaches this module through the engine.
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (MaxRetryError, ProtocolError, NewConnectionError, ConnectionError)):
            return True
        if isinstance(exc, ApiException):  # the server answered: its status decides
            return (exc.status or 0) in RETRY_STATUSES
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def backoff_delays(start: float = BACKOFF_START, cap: float = BACKOFF_MAX):
    delay = start
    while True:
        yield delay
        delay = min(delay * 2, cap)


def short_reason(error: str) -> str:
    """The gist of a connection error; urllib3's own text is a paragraph."""
    for marker in ("Connection refused", "timed out", "Connection reset", "Name or service not known",
                   "No route to host", "Service Unavailable", "Too Many Requests", "Internal Server Error"):
        if marker in error:
            return marker.lower()
    return error[:160]
