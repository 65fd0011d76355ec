"""Which rollback failures are worth retrying (the API server being unreachable or overloaded),
and the one loop that retries them until a deadline (``retry_until``)."""

from __future__ import annotations

import time
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")

RETRY_STATUSES = frozenset({0, 429, 500, 502, 503, 504})
BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


def is_transient(exc: BaseException | None) -> bool:
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


def backoff_delays(start: float = BACKOFF_START, cap: float = BACKOFF_MAX) -> Iterator[float]:
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


class GaveUp(Exception):
    """``retry_until`` stopped: ``cause`` is the last failure, ``attempts`` how many calls were
    made, ``timed_out`` whether the failure was worth retrying and the deadline ended it."""

    def __init__(self, cause: Exception, attempts: int, timed_out: bool):
        super().__init__(str(cause))
        self.cause, self.attempts, self.timed_out = cause, attempts, timed_out


def retry_until(call: Callable[[], T], wait: float, *,
                transient: Callable[[BaseException], bool] = is_transient,
                on_retry: Callable[[int, Exception, float], None] | None = None,
                sleep: Callable[[float], None] = time.sleep,
                clock: Callable[[], float] = time.monotonic) -> tuple[T, int]:
    """``(call(), attempts)``: failures that ``transient`` accepts are retried with the backoff
    (0.2 s doubling to 5 s) while the next attempt still starts within ``wait`` seconds, each
    retry announced first by ``on_retry(attempt, failure, delay)``. Any other failure, or the
    deadline, raises ``GaveUp``. ``wait`` 0 makes a single attempt."""
    deadline = clock() + wait
    for attempt, delay in enumerate(backoff_delays(), 1):
        try:
            return call(), attempt
        except Exception as exc:
            retryable = transient(exc)
            if not retryable or clock() + delay > deadline:
                raise GaveUp(exc, attempt, timed_out=retryable) from exc
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("backoff_delays never ends")
