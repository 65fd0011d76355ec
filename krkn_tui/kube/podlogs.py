"""A pod's log, followed: the stream read in a thread, lines kept in a bounded ring.

A chatty pod writes faster than anyone reads, so nothing here grows without bound: the ring
keeps the last ``LOG_CAP`` lines (k9s keeps 1000; a few screens more here, for search) and
counts what it dropped; a line longer than ``MAX_LINE`` characters is cut. Bytes are decoded
leniently (a log is not always UTF-8) and every line passes through the sanitiser: a log is
text the pod chose, and a terminal obeys escape sequences.

A pod on a kwok (fake) node has no containers and no kubelet to serve its log: ``log_refusal``
says so in one line before a stream is opened. Nothing here imports Textual.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..sanitize import one_line, visible
from ..signals import quiet_thread

LOG_CAP = 5000  # lines kept per view; older ones are dropped (and counted)
MAX_LINE = 4096  # characters kept of one line; the rest is cut and marked
TAIL_LINES = 1000  # what a view asks for first: the recent past, not the pod's whole history
# Nodes kwok plays the kubelet for: the annotation kwok selects its nodes by (the local
# cluster sets it to "fake"), or the label the local cluster may put on its node kinds.
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
NODE_KIND_LABEL = "krkn-tui.io/node-kind"


def is_fake_node(node: dict) -> bool:
    meta = node.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return KWOK_ANNOTATION in annotations or labels.get(NODE_KIND_LABEL) == "kwok"


def log_refusal(pod: dict, node: dict | None) -> str | None:
    """One line on why this pod has no log to read, or None when its kubelet can serve one."""
    name = (pod.get("metadata") or {}).get("name") or "?"
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return f"{visible(name)} is not scheduled on a node yet: it has no logs."
    if node is not None and is_fake_node(node):
        return (f"{visible(name)} runs on {visible(node_name)}, a kwok (fake) node: no container runs there, "
                "so the pod has no logs.")
    return None


def default_container(pod: dict) -> str | None:
    """kubectl's choice: the default-container annotation, else the first container."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = container_names(pod)
    chosen = annotations.get("kubectl.kubernetes.io/default-container")
    if chosen in names:
        return chosen
    return names[0] if names else None


def container_names(pod: dict) -> list[str]:
    return [c.get("name") for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name")]


@dataclass
class LogBuffer:
    """The last ``cap`` lines of a stream fed in chunks; a line may span chunks."""

    cap: int = LOG_CAP
    max_line: int = MAX_LINE

    def __post_init__(self):
        self.lines: deque[str] = deque(maxlen=self.cap)
        self.total = 0  # lines ever kept: a reader knows how many it has not seen
        self._partial = b""

    @property
    def dropped(self) -> int:
        return self.total - len(self.lines)

    def feed(self, chunk: bytes) -> list[str]:
        """Add a chunk; returns the complete lines it finished (already in the ring)."""
        data = self._partial + chunk
        *whole, self._partial = data.split(b"\n")
        if len(self._partial) > self.max_line * 4:  # a line with no end in sight: cut it now
            whole.append(self._partial)
            self._partial = b""
        return self._keep(whole)

    def end(self) -> list[str]:
        """The stream ended: its unterminated last line, if any."""
        rest, self._partial = self._partial, b""
        return self._keep([rest]) if rest else []

    def _keep(self, raw: list[bytes]) -> list[str]:
        out = [self._line(r) for r in raw]
        self.lines.extend(out)
        self.total += len(out)
        return out[-self.cap:]

    def _line(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace").removesuffix("\r")
        if len(text) > self.max_line:
            text = text[: self.max_line] + f" …[{len(text) - self.max_line} characters cut]"
        return visible(text, keep="\t").expandtabs(8)


class LogFollower(threading.Thread):
    """Reads one log stream into ``pending`` (a bounded deque the UI drains on its own clock).

    ``open_stream()`` returns an iterable of byte chunks with an optional ``close()``; the
    default (``kube_log_stream``) is the API server's streamed log. ``on_end(message)`` is
    called once when the stream ends or fails (message: one line, or "" for a clean end)."""

    def __init__(self, open_stream: Callable[[], Iterable[bytes]], *, cap: int = LOG_CAP,
                 on_end: Callable[[str], None] | None = None):
        super().__init__(name="pod-log", daemon=True)
        self._open = open_stream
        self.buffer = LogBuffer(cap=cap)
        self.pending: deque[str] = deque(maxlen=cap)  # not drained yet; bounded like the ring
        self._on_end = on_end
        self.end: str | None = None  # once the stream is over: why ("" for a clean end)
        self._stop = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.pending.popleft())
            except IndexError:
                return out

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            stream = self._stream
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()  # wakes the reader blocked on the socket
            except Exception:
                pass

    def run(self) -> None:
        quiet_thread()
        message = ""
        try:
            stream = self._open()
            with self._lock:
                self._stream = stream
            if self._stop.is_set():
                return
            for chunk in stream:
                if self._stop.is_set():
                    return
                self.pending.extend(self.buffer.feed(chunk))
            self.pending.extend(self.buffer.end())
        except Exception as exc:
            if self._stop.is_set():
                return
            message = describe_log_error(exc)
        finally:
            self.stop()
        self.end = message
        if self._on_end is not None:
            self._on_end(message)


def describe_log_error(exc: BaseException) -> str:
    """The API server's own words where it gave some (``container "c" is waiting to start``)."""
    import json

    body = getattr(exc, "body", None)
    if body:
        try:
            text = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        return one_line(text)[:300]
    from .podstream import describe_error

    return describe_error(exc)


def kube_log_stream(api_client: Any, namespace: str, name: str, *, container: str | None,
                    previous: bool = False, tail_lines: int | None = TAIL_LINES) -> Iterator[bytes]:
    """The pod's log as it is written (``follow``; a previous container's log ends by itself)."""
    from kubernetes import client

    kwargs: dict[str, Any] = {"follow": not previous, "previous": previous, "_preload_content": False}
    if previous:  # a finished log: bounded. A followed one may stay quiet for hours: no read
        kwargs["_request_timeout"] = (5, 60)  # timeout (the client takes none for one half), stop() ends it
    if container:
        kwargs["container"] = container
    if tail_lines:
        kwargs["tail_lines"] = tail_lines
    response = client.CoreV1Api(api_client).read_namespaced_pod_log(name, namespace, **kwargs)
    return _ChunkStream(response)


class _ChunkStream:
    def __init__(self, response):
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from self._response.stream(amt=None, decode_content=True)

    def close(self) -> None:
        from .podstream import close_response

        close_response(self._response)


def search(lines: list[str], needle: str, start: int, backwards: bool = False) -> int | None:
    """Index of the next line (wrapping round) holding ``needle``, case-insensitive."""
    if not needle or not lines:
        return None
    needle = needle.lower()
    n = len(lines)
    step = -1 if backwards else 1
    for i in range(1, n + 1):
        index = (start + step * i) % n
        if needle in lines[index].lower():
            return index
    return None


class KubeLogSource:
    """The real pod: where its log can come from, and the stream itself."""

    def __init__(self, api_client_factory: Callable[[], Any], namespace: str, name: str):
        self._factory = api_client_factory
        self._client = None
        self.namespace, self.name = namespace, name

    def _api(self):
        if self._client is None:
            self._client = self._factory()
        return self._client

    def prepare(self) -> tuple[str | None, list[str], str | None]:
        """(why it has no logs or None, its containers, the one to show first)."""
        from .poddetail import read_node, read_pod

        pod = read_pod(self._api(), self.namespace, self.name)
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = read_node(self._api(), node_name) if node_name else None
        return log_refusal(pod, node), container_names(pod), default_container(pod)

    def open(self, container: str | None, previous: bool) -> Iterable[bytes]:
        return kube_log_stream(self._api(), self.namespace, self.name, container=container, previous=previous)
