"""The Kubernetes side of the pod watch: a page of pods listed, and a watch stream read line by
line over HTTP (``KubePodSource``), each pod decoded straight into a ``PodRow`` (``podjson``).
``timeout_seconds`` on every watch request gives the watcher back control; a 410 Gone (history
compacted) is ``Gone``: list again."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, Protocol

from ..sanitize import one_line
from .podmodel import ADDED, DELETED, MODIFIED, PodRow, pod_row

WATCH_TIMEOUT_SECONDS = 30
LIST_PAGE = 500  # kubectl's chunk size: one page is ~1.5 MB of JSON at most


class Gone(Exception):
    """The resourceVersion we resume from is too old (HTTP 410): list again."""


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
            yield from map(dict_event, self._json_events())
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


# A list's body opens with its metadata (Go writes the fields in order): the continue token is
# there before the items. Base64, so no quote or backslash inside it.
_LIST_HEAD = re.compile(rb'\s*\{"kind":"PodList","apiVersion":"v1","metadata":\{([^{}]*)\}')
_CONTINUE = re.compile(rb'"continue":"([^"\\]*)"')


def continue_token(body: bytes) -> str | None:
    """The continue token from the head of a pod list's body, or None if it has none there."""
    head = _LIST_HEAD.match(body, 0, 4096)
    found = _CONTINUE.search(head.group(1)) if head else None
    return found.group(1).decode() if found and found.group(1) else None


class KubePodSource:
    """Pods of one namespace (or all), optionally of a label selector, as PodRows."""

    def __init__(self, api_client_factory: Callable[[], Any], namespace: str | None = None,
                 connect_timeout: float = 5.0, label_selector: str | None = None, page: int = LIST_PAGE,
                 consistent: bool = False):
        """``consistent``: list as kubectl does (read from etcd, in pages of ``page``) rather than
        from the watch cache."""
        self._factory = api_client_factory
        self._core = None
        self.namespace = namespace
        self.label_selector = label_selector
        self.connect_timeout = connect_timeout
        self.page = page
        self.consistent = consistent

    # query parameter of each keyword request takes (Kubernetes' names)
    QUERY = {"label_selector": "labelSelector", "limit": "limit", "_continue": "continue", "watch": "watch",
             "resource_version": "resourceVersion", "timeout_seconds": "timeoutSeconds",
             "allow_watch_bookmarks": "allowWatchBookmarks"}

    def request(self, _request_timeout=None, **kwargs):
        """GET the pod list or watch through the API client's own request path, not CoreV1Api:
        the generated API class and the pod models it validates against cost ~0.6 s of CPU to
        import and more on its first call (pydantic builds each method's validator), all before
        the first page could be asked for, and nothing here uses them (the body is read raw).
        The request is the one CoreV1Api makes: same path, query, auth and errors."""
        from urllib.parse import quote

        from kubernetes.client.exceptions import ApiException

        if self._core is None:
            self._core = self._factory()
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        query = [(self.QUERY[k], v) for k, v in kwargs.items() if v is not None]
        path = f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods" if self.namespace else "/api/v1/pods"
        request = self._core.param_serialize(method="GET", resource_path=path, query_params=query,
                                             header_params={"Accept": "application/json"},
                                             auth_settings=["BearerToken"])
        response = self._core.call_api(*request, _request_timeout=_request_timeout)
        if not 200 <= response.status <= 299:  # as CoreV1Api with _preload_content=False
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def list(self) -> tuple[list[PodRow], str]:
        """Every page, each reduced to rows as the next one is read: the next page is asked for
        as soon as this one's continue token is known (it heads the body), so the API server
        serves it while this page is decoded. An expired continue token (410) means list again
        from the start, like an expired watch."""
        decode_page = _page_decoder()
        rows: list[PodRow] = []
        with ThreadPoolExecutor(1, thread_name_prefix="pod-list-ahead") as ahead:
            data = self._page(None)
            while True:
                early = continue_token(data)
                following = ahead.submit(self._page, early) if early else None
                page, version, token = decode_page(data)
                rows.extend(page)
                if not token:
                    return rows, version
                # The token read from the head is the page's own; anything else (never seen)
                # is asked for again with the decoded one.
                data = following.result() if following is not None and early == token else self._page(token)

    def _page(self, token: str | None) -> bytes:
        from kubernetes.client.exceptions import ApiException

        kwargs: dict[str, Any] = {"limit": self.page} if self.page else {}
        if token:
            kwargs["_continue"] = token  # it carries the first page's resourceVersion
        elif not self.consistent:
            # resourceVersion 0: the list from the API server's watch cache, not read from etcd,
            # as client-go's informers (k9s) list: 100,000 pods in 15 s against 30 s in pages.
            # The server sends it whole (it ignores the limit there); the watch from its
            # resourceVersion brings every later change.
            kwargs["resource_version"] = "0"
        try:
            return self.request(_request_timeout=(self.connect_timeout, 60), **kwargs).data
        except ApiException as e:
            if e.status == 410:
                raise Gone(e.reason) from None
            raise

    def watch(self, resource_version: str, timeout_seconds: int) -> WatchStream:
        from kubernetes.client.exceptions import ApiException

        try:
            response = self.request(
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


def dict_event(event: dict) -> tuple[str, "PodRow | None", str]:
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
