"""The cluster journal: every rollback step mirrored into the cluster it targets.

The version file on disk stays the source of truth for the run; the journal is a copy that
outlives the operator's machine, so a guard (or a colleague) can see and undo what a dead run
left in force. One Secret per step (a Secret because steps may hold captured Secret data), of
type ``krkn-tui.io/rollback-step``, in a namespace of its own (``krkn-rollback`` by default):

- ``data["version.py"]``: the version file's bytes (the first chunk when it is too large for one
  object; the others are Secrets ``<name>-c<i>`` of type ``krkn-tui.io/rollback-step-chunk``,
  written before the head, so a head that exists has all its chunks);
- annotations: digest, run id, file name, scenario type, creation time, cluster identity
  (API server, context, kube-system UID), origin host, and the last state change;
- labels: run and state, so ``kubectl get secrets -l krkn-tui.io/state=pending`` works.

The Secret's name is derived from the run id and file name, so every writer (runner, local
executor, guard) finds the same entry without a lookup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
from dataclasses import dataclass, field

from ..kube.identity import ClusterIdentity, mismatch, record_of, same_cluster
from .journal_settings import DEFAULT_NAMESPACE
from .retry import is_transient

STEP_TYPE = "krkn-tui.io/rollback-step"
CHUNK_TYPE = "krkn-tui.io/rollback-step-chunk"
DATA_KEY = "version.py"
# A Secret may hold 1 MiB in total; base64 makes 512 KiB about 683 KiB, which leaves room for
# the annotations.
CHUNK_BYTES = 512 * 1024
STATES = ("pending", "executed", "failed", "refused", "archived")

PREFIX = "krkn-tui.io/"
L_RUN = PREFIX + "run"
L_STATE = PREFIX + "state"
L_PART = PREFIX + "part"  # head | chunk
L_OF = PREFIX + "chunk-of"
A_RUN_ID = PREFIX + "run-id"
A_FILE = PREFIX + "file"
A_SHA256 = PREFIX + "sha256"
A_SCENARIO = PREFIX + "scenario-type"
A_CREATED_NS = PREFIX + "created-ns"
A_SERVER = PREFIX + "cluster-server"
A_CONTEXT = PREFIX + "cluster-context"
A_UID = PREFIX + "cluster-uid"
A_HOST = PREFIX + "origin-host"
A_CHUNKS = PREFIX + "chunks"
A_SIZE = PREFIX + "size"
A_STATE_BY = PREFIX + "state-by"
A_STATE_TIME = PREFIX + "state-time"
A_ERROR = PREFIX + "error"

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


class JournalError(Exception):
    """The journal could not be written or read; the message is one line. ``transient`` says
    the API server was unreachable or overloaded, so the same call may succeed later."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def _one_line(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status and reason:
        body = getattr(exc, "body", None)
        try:
            message = json.loads(body).get("message") if body else None
        except (TypeError, ValueError, AttributeError):
            message = None
        return " ".join(f"{status} {reason}{': ' + message if message else ''}".split())[:300]
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def api_call(what: str, fn, *args, tolerate: tuple[int, ...] = (), **kwargs):
    """``fn(*args, **kwargs)``'s JSON answer; the status code when it is in ``tolerate``
    (404 for "not there", 409 for "already there" or "changed meanwhile"); JournalError naming
    ``what`` for anything else."""
    from kubernetes.client.exceptions import ApiException

    try:
        resp = fn(*args, _preload_content=False, **kwargs)
    except ApiException as exc:
        if exc.status in tolerate:
            return exc.status
        raise JournalError(f"cannot {what}: {_one_line(exc)}", transient=is_transient(exc)) from None
    except Exception as exc:  # connection refused, TLS, timeouts: the client raises a zoo of types
        raise JournalError(f"cannot {what}: {_one_line(exc)}", transient=is_transient(exc)) from None
    return json.loads(resp.data) if resp.data else {}


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a digest of it (run ids may be long)."""
    if len(text) <= 63 and _LABEL_VALUE.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def entry_name(run_id: str, file: str) -> str:
    """The Secret of one step: ``step-<created time>-<digest of run and file>``, so a listing
    sorted by name is in creation order and two runs never share a name."""
    from .naming import parse_version_name, pending_name

    file = pending_name(file)
    parsed = parse_version_name(file)
    created = parsed[1] if parsed else 0
    digest = hashlib.sha256(f"{run_id}/{file}".encode()).hexdigest()[:12]
    return f"step-{created}-{digest}"


def origin_host() -> str:
    return socket.gethostname() or "unknown"


@dataclass(frozen=True)
class Entry:
    """One step as the journal holds it (the bytes are read separately: they may be large)."""

    name: str
    run_id: str
    file: str
    sha256: str
    scenario_type: str
    created_ns: int
    state: str
    cluster: ClusterIdentity
    origin_host: str
    chunks: int
    size: int
    state_by: str | None = None
    state_time: str | None = None
    error: str | None = None
    resource_version: str = ""
    head_data: bytes = field(default=b"", repr=False)

    @staticmethod
    def from_secret(obj: dict) -> "Entry":
        meta = obj.get("metadata") or {}
        ann = meta.get("annotations") or {}
        labels = meta.get("labels") or {}

        def integer(key: str) -> int:
            try:
                return int(ann.get(key) or 0)
            except ValueError:
                return 0

        raw = (obj.get("data") or {}).get(DATA_KEY) or ""
        try:
            head = base64.b64decode(raw, validate=True)
        except (ValueError, TypeError):
            head = b""
        return Entry(
            name=meta.get("name", ""),
            run_id=ann.get(A_RUN_ID, ""),
            file=ann.get(A_FILE, ""),
            sha256=ann.get(A_SHA256, ""),
            scenario_type=ann.get(A_SCENARIO, ""),
            created_ns=integer(A_CREATED_NS),
            state=labels.get(L_STATE, ""),
            cluster=ClusterIdentity(ann.get(A_SERVER, ""), ann.get(A_CONTEXT, ""), ann.get(A_UID, "")),
            origin_host=ann.get(A_HOST, ""),
            chunks=max(1, integer(A_CHUNKS)),
            size=integer(A_SIZE),
            state_by=ann.get(A_STATE_BY),
            state_time=ann.get(A_STATE_TIME),
            error=ann.get(A_ERROR),
            resource_version=meta.get("resourceVersion", ""),
            head_data=head,
        )


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Journal:
    """The journal in one cluster's namespace. Every method raises JournalError on failure."""

    def __init__(self, api_client, namespace: str = DEFAULT_NAMESPACE,
                 identity: ClusterIdentity | None = None, host: str | None = None):
        from kubernetes import client

        self.namespace = namespace
        self.identity = identity or ClusterIdentity("", "", "")
        self.host = host or origin_host()
        self._core = client.CoreV1Api(api_client)
        self._api_client = api_client
        self._namespace_ready = False

    # -- writing ------------------------------------------------------------------------------

    def ensure_namespace(self) -> None:
        """Create the journal's namespace the first time it is needed (409 means it exists)."""
        if self._namespace_ready:
            return
        api_call(f"create the journal namespace {self.namespace}", self._core.create_namespace,
                 {"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": self.namespace, "labels": {PREFIX + "journal": "true"}}}, tolerate=(409,))
        self._namespace_ready = True

    def record(self, *, run_id: str, file: str, data: bytes, sha256: str, scenario_type: str,
               created_ns: int) -> str:
        """Write one step (its chunks first, then the head); returns the Secret's name."""
        self.ensure_namespace()
        name = entry_name(run_id, file)
        parts = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        run_label = label_value(run_id)
        for i, part in enumerate(parts[1:], start=1):
            self._create({
                "apiVersion": "v1", "kind": "Secret", "type": CHUNK_TYPE,
                "metadata": {"name": f"{name}-c{i}", "namespace": self.namespace,
                             "labels": {L_RUN: run_label, L_PART: "chunk", L_OF: name}},
                "data": {DATA_KEY: base64.b64encode(part).decode()},
            }, what=f"chunk {i} of {file}")
        self._create({
            "apiVersion": "v1", "kind": "Secret", "type": STEP_TYPE,
            "metadata": {
                "name": name, "namespace": self.namespace,
                "labels": {L_RUN: run_label, L_STATE: "pending", L_PART: "head"},
                "annotations": {
                    A_RUN_ID: run_id, A_FILE: file, A_SHA256: sha256, A_SCENARIO: scenario_type,
                    A_CREATED_NS: str(created_ns), A_SERVER: self.identity.server,
                    A_CONTEXT: self.identity.context, A_UID: self.identity.kube_system_uid, A_HOST: self.host,
                    A_CHUNKS: str(len(parts)), A_SIZE: str(len(data)),
                    A_STATE_BY: self.host, A_STATE_TIME: _now_text(),
                },
            },
            "data": {DATA_KEY: base64.b64encode(parts[0]).decode()},
        }, what=file)
        return name

    def _create(self, body: dict, what: str) -> None:
        where = f"write {what} to the cluster journal ({self.namespace}/{body['metadata']['name']})"
        if api_call(where, self._core.create_namespaced_secret, self.namespace, body, tolerate=(409,)) == 409:
            if not self._same_content(body):  # else: written by an earlier attempt of this very step
                raise JournalError(f"cannot {where}: another object of that name exists")

    def _same_content(self, body: dict) -> bool:
        try:
            have = self._get(body["metadata"]["name"])
        except JournalError:
            return False
        return have is not None and (have.get("data") or {}) == body["data"]

    def set_state(self, run_id: str, file: str, state: str, *, by: str | None = None,
                  error: str | None = None, data: bytes | None = None) -> None:
        """Record that a step was executed, failed or archived; a step with no entry (written
        before the journal was on) is left alone. ``data``: the step's new bytes (an executed
        step without its Secret values), with their digest."""
        if state not in STATES:
            raise ValueError(f"unknown journal state {state!r}")
        what = f"record {file} as {state} in the cluster journal"
        patch = {"metadata": {
            "labels": {L_STATE: state},
            "annotations": {A_STATE_BY: by or self.host, A_STATE_TIME: _now_text(),
                            A_ERROR: " ".join(error.split())[:1000] if error else None},
        }}
        name = entry_name(run_id, file)
        if data is not None and not self._replace_chunks(name, data, patch, what):
            return
        api_call(what, self._core.patch_namespaced_secret, name, self.namespace, patch, tolerate=(404,))

    def _replace_chunks(self, name: str, data: bytes, head_patch: dict, what: str) -> bool:
        """Put ``data`` in the entry's existing chunk objects (the later ones first; one left
        over is emptied) and its head's part and digest into ``head_patch``. Only the objects
        the step was written with are patched: the guard's Role may patch, never create.
        False when there is no such entry."""
        entry = self.entry(name)
        if entry is None:
            return False
        parts = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        if len(parts) > entry.chunks:
            raise JournalError(f"cannot {what}: the new text needs more chunks than the entry has")
        for i in range(1, entry.chunks):
            part = parts[i] if i < len(parts) else b""
            api_call(what, self._core.patch_namespaced_secret, f"{name}-c{i}", self.namespace,
                     {"data": {DATA_KEY: base64.b64encode(part).decode()}})
        head_patch["data"] = {DATA_KEY: base64.b64encode(parts[0]).decode()}
        head_patch["metadata"]["annotations"].update({
            A_SHA256: hashlib.sha256(data).hexdigest(), A_SIZE: str(len(data)), A_CHUNKS: str(len(parts))})
        return True

    # -- reading ------------------------------------------------------------------------------

    def _get(self, name: str) -> dict | None:
        obj = api_call(f"read {self.namespace}/{name} from the cluster journal", self._core.read_namespaced_secret,
                       name, self.namespace, tolerate=(404,))
        return None if obj == 404 else obj

    def entry(self, name: str) -> Entry | None:
        obj = self._get(name)
        if obj is None or obj.get("type") != STEP_TYPE:
            return None
        return Entry.from_secret(obj)

    def entry_for(self, run_id: str, file: str) -> Entry | None:
        return self.entry(entry_name(run_id, file))

    def entries(self, run_id: str | None = None, states: tuple[str, ...] | None = None) -> list[Entry]:
        """The journal's steps, oldest first; a missing namespace is an empty journal."""
        selector = f"{L_PART}=head"
        if run_id is not None:
            selector += f",{L_RUN}={label_value(run_id)}"
        if states:
            selector += f",{L_STATE} in ({','.join(states)})"
        items: list[dict] = []
        token = None
        while True:
            page = api_call(f"list the cluster journal {self.namespace}", self._core.list_namespaced_secret,
                            self.namespace, label_selector=selector, field_selector=f"type={STEP_TYPE}",
                            limit=500, _continue=token, tolerate=(404,))
            if page == 404:
                return []
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        out = [Entry.from_secret(obj) for obj in items]
        if run_id is not None:  # a hashed label value could in theory be shared
            out = [e for e in out if e.run_id == run_id]
        out.sort(key=lambda e: (e.created_ns, e.name))
        return out

    def read(self, entry: Entry) -> bytes:
        """The step's bytes, chunks in order (not verified here: see ``verified_bytes``)."""
        from .store import MAX_VERSION_BYTES

        if entry.chunks > MAX_VERSION_BYTES // CHUNK_BYTES + 1:  # the annotation is data: bound it
            raise JournalError(f"{entry.name} claims {entry.chunks} chunks, more than a version file can have")
        parts = [entry.head_data]
        for i in range(1, entry.chunks):
            obj = self._get(f"{entry.name}-c{i}")
            if obj is None or obj.get("type") != CHUNK_TYPE:
                raise JournalError(f"chunk {i} of {entry.name} is missing from the cluster journal")
            try:
                parts.append(base64.b64decode((obj.get("data") or {}).get(DATA_KEY) or "", validate=True))
            except (ValueError, TypeError):
                raise JournalError(f"chunk {i} of {entry.name} is not base64") from None
        return b"".join(parts)


def refusal_reason(entry: Entry, data: bytes, here: ClusterIdentity) -> str | None:
    """Why a journal entry must not run on this cluster: the executor's rules for a file of
    ours (intact digest, our header), plus the cluster it was written for."""
    from .meta import parse_meta
    from .source_text import UnsafeSource, checked_source

    if hashlib.sha256(data).hexdigest() != entry.sha256:
        return f"{entry.name} ({entry.file}): bytes do not match their sha256 in the journal"
    if not same_cluster(entry.cluster, here):
        return (f"{entry.name} ({entry.file}) was written for another cluster: "
                f"{entry.cluster.describe()}, this is {here.describe()}")
    try:  # the text rule, as for a file on disk: what show-rollback --cluster shows is what runs
        meta = parse_meta(checked_source(data))
    except UnsafeSource as exc:
        return f"{entry.name} ({entry.file}) is unsafe: {exc}"
    except ValueError as exc:
        return f"{entry.name} ({entry.file}): not a krkn-tui version file ({_one_line(exc)})"
    if meta is None:
        return f"{entry.name} ({entry.file}): not a krkn-tui version file (no header)"
    if meta.get("run_id") != entry.run_id:
        return f"{entry.name} ({entry.file}): its header names run {meta.get('run_id')!r}, not {entry.run_id!r}"
    try:  # the file's own record, covered by the digest, must agree too
        recorded = record_of(meta)
    except ValueError as exc:
        return f"{entry.name} ({entry.file}): bad cluster record: {_one_line(exc)}"
    if recorded is not None and (reason := mismatch(recorded, here)):
        return f"{entry.name} ({entry.file}) {reason}"
    return None
