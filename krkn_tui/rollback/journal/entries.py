"""The cluster journal: every rollback step recorded, as data, in the cluster it targets.

The version file on disk stays the source of truth for the run; the journal is its data twin
that outlives the operator's machine, so a guard (or a colleague) can see and undo what a dead
run left in force. One Secret per step, of type ``krkn-tui.io/rollback-step``, in a namespace of
its own (``krkn-rollback`` by default):

- ``data["step.json"]``: canonical JSON (``signing.canonical``) of ``{"format": 2, "op", "run_id",
  "file", "scenario_type", "created_ns", "cluster", "content", "signer"}`` (``entry.py``):
  the name of one of krkn-tui's own undo operations and its data, Secret values redacted. It
  never changes after creation; no code is ever read back from the cluster.
- annotations: ``signature`` (the writer's operator key over ``step.json``), ``created-by`` (the
  writer's Kubernetes username, which the admission policy checks), the origin host (shown
  only), and the last state change, itself signed (``state-signature``);
- labels: run and state, so ``kubectl get secrets -l krkn-tui.io/state=pending`` works. A label
  is a hint: every reader decides from the signatures (``entry.py``).

The Secret's name is derived from the run id and file name, so every writer (runner, local
executor, guard) finds the same entry without a lookup, and a verified entry is at its name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ...sanitize import one_line
from ...statuses import JournalState
from ...kube.identity import ClusterIdentity
from .settings import DEFAULT_NAMESPACE
from ..retry import is_transient

STEP_TYPE = "krkn-tui.io/rollback-step"
DATA_KEY = "step.json"
FORMAT = 2
# A Secret holds at most 1 MiB of data; what is left is for the annotations.
MAX_STEP_BYTES = 768 * 1024
# pending: written, not run; executed; partial: run by the guard, which left objects to the
# operator (a local execute-rollback runs it whole); operator: not run by the guard, which may
# not (it needs pods/exec), left whole to the operator's execute-rollback; failed; refused; archived.
STATES = tuple(JournalState)

PREFIX = "krkn-tui.io/"
L_RUN = PREFIX + "run"
L_STATE = PREFIX + "state"
A_RUN_ID = PREFIX + "run-id"
A_HOST = PREFIX + "origin-host"
A_SIGNATURE = PREFIX + "signature"
A_CREATED_BY = PREFIX + "created-by"
A_STATE_BY = PREFIX + "state-by"
A_STATE_TIME = PREFIX + "state-time"
A_ERROR = PREFIX + "error"
A_STATE_SIGNATURE = PREFIX + "state-signature"

_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


class JournalError(Exception):
    """The journal could not be written or read; the message is one line. ``transient`` says
    the API server was unreachable or overloaded, so the same call may succeed later."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def error_line(exc: BaseException) -> str:
    """An API failure as one line: "403 Forbidden: <the server's message>", else the exception."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status and reason:
        body = getattr(exc, "body", None)
        try:
            message = json.loads(body).get("message") if body else None
        except (TypeError, ValueError, AttributeError):
            message = None
        return one_line(f"{status} {reason}{': ' + message if message else ''}")[:300]
    return one_line(f"{type(exc).__name__}: {exc}")[:300]


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
        raise JournalError(f"cannot {what}: {error_line(exc)}", transient=is_transient(exc)) from None
    except Exception as exc:  # connection refused, TLS, timeouts: the client raises a zoo of types
        raise JournalError(f"cannot {what}: {error_line(exc)}", transient=is_transient(exc)) from None
    return json.loads(resp.data) if resp.data else {}


def label_value(text: str) -> str:
    """``text`` if it is a valid label value, else a digest of it (run ids may be long)."""
    if len(text) <= 63 and _LABEL_VALUE.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def entry_name(run_id: str, file: str) -> str:
    """The Secret of one step: ``step-<created time>-<digest of run and file>``, so a listing
    sorted by name is in creation order and two runs never share a name."""
    from ..naming import parse_version_name, pending_name

    file = pending_name(file)
    parsed = parse_version_name(file)
    created = parsed[1] if parsed else 0
    digest = hashlib.sha256(f"{run_id}/{file}".encode()).hexdigest()[:12]
    return f"step-{created}-{digest}"



def origin_host() -> str:
    return socket.gethostname() or "unknown"


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_time(text: object) -> float | None:
    """A Kubernetes timestamp (``2026-01-02T03:04:05Z``, optionally with microseconds); None if unfit."""
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Entry:
    """One step as the journal holds it. Everything here was read from the cluster: the fields
    of ``payload`` count only once ``entry.refusal`` has verified its signature."""

    name: str
    raw: bytes = field(repr=False)  # step.json's bytes, exactly as signed
    payload: dict | None  # step.json parsed; None when it is not a JSON object (``parse_error``)
    signature: str = ""
    created_by: str = ""
    origin_host: str = ""
    state: str = ""
    state_by: str | None = None
    state_time: str | None = None
    error: str | None = None
    state_signature: str = ""
    resource_version: str = ""
    created_at: float | None = None  # the API server's creationTimestamp
    parse_error: str | None = None

    def _field(self, key: str) -> object:
        return (self.payload or {}).get(key)

    @property
    def run_id(self) -> str:
        return _text(self._field("run_id"))

    @property
    def file(self) -> str:
        return _text(self._field("file"))

    @property
    def scenario_type(self) -> str:
        return _text(self._field("scenario_type"))

    @property
    def op(self) -> str:
        return _text(self._field("op"))

    @property
    def created_ns(self) -> int:
        value = self._field("created_ns")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def content(self) -> dict:
        value = self._field("content")
        return value if isinstance(value, dict) else {}

    @property
    def cluster(self) -> ClusterIdentity:
        """The recorded cluster as shown (unchecked; ``entry.refusal`` checks it)."""
        raw = self._field("cluster")
        raw = raw if isinstance(raw, dict) else {}
        return ClusterIdentity(_text(raw.get("server")), _text(raw.get("context")), _text(raw.get("kube_system_uid")))

    @property
    def step_sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @staticmethod
    def from_secret(obj: dict) -> "Entry":
        meta = obj.get("metadata") or {}
        ann = meta.get("annotations") or {}
        labels = meta.get("labels") or {}
        payload, problem = None, None
        try:
            raw = base64.b64decode((obj.get("data") or {}).get(DATA_KEY) or "", validate=True)
        except (ValueError, TypeError):
            raw, problem = b"", f"{DATA_KEY} is not base64"
        if problem is None:
            if len(raw) > MAX_STEP_BYTES:
                problem = f"{DATA_KEY} is larger than {MAX_STEP_BYTES} bytes"
            else:
                try:
                    payload = json.loads(raw)
                except (ValueError, RecursionError):
                    problem = f"{DATA_KEY} is not JSON"
                if payload is not None and not isinstance(payload, dict):
                    payload, problem = None, f"{DATA_KEY} is not a JSON object"
        return Entry(
            name=_text(meta.get("name")), raw=raw, payload=payload, parse_error=problem,
            signature=_text(ann.get(A_SIGNATURE)), created_by=_text(ann.get(A_CREATED_BY)),
            origin_host=_text(ann.get(A_HOST)), state=_text(labels.get(L_STATE)),
            state_by=ann.get(A_STATE_BY), state_time=ann.get(A_STATE_TIME), error=ann.get(A_ERROR),
            state_signature=_text(ann.get(A_STATE_SIGNATURE)),
            resource_version=_text(meta.get("resourceVersion")), created_at=parse_time(meta.get("creationTimestamp")),
        )


def state_payload(name: str, step_sha256: str, state: str, by: str, time_text: str, error: str | None) -> dict:
    """What a state change's signature covers: the entry (by name and the digest of its data)
    and the change, so a signature copied to another entry or another state does not verify."""
    return {"entry": name, "step_sha256": step_sha256, "state": state, "by": by, "time": time_text, "error": error}


class Journal:
    """The journal in one cluster's namespace. Every method raises JournalError on failure.

    ``signer`` (rollback.signing.Signer) signs what this writer records; the operator's key
    (made on first use) when not given."""

    def __init__(self, api_client, namespace: str = DEFAULT_NAMESPACE,
                 identity: ClusterIdentity | None = None, host: str | None = None, signer=None):
        from kubernetes import client

        self.namespace = namespace
        self.identity = identity or ClusterIdentity("", "", "")
        self.host = host or origin_host()
        self._core = client.CoreV1Api(api_client)
        self.api_client = api_client  # the journal's Leases and identity are read with the same client
        self._namespace_ready = False
        self._signer = signer
        self._username: str | None = None

    @property
    def signer(self):
        if self._signer is None:
            from ..folder_trust import own_signer
            from ..signing import SigningError

            try:
                self._signer = own_signer()
            except (SigningError, OSError) as exc:
                raise JournalError(f"cannot load the signing key: {exc}") from None
        return self._signer

    # -- writing ------------------------------------------------------------------------------

    def ensure_namespace(self) -> None:
        """Create the journal's namespace the first time it is needed (409 means it exists). An
        operator of a deployed journal (deploy/guard.yaml) may not create namespaces: a 403 is
        left to the entry's own create, which says what is wrong if the namespace is missing."""
        if self._namespace_ready:
            return
        api_call(f"create the journal namespace {self.namespace}", self._core.create_namespace,
                 {"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": self.namespace, "labels": {PREFIX + "journal": "true"}}},
                 tolerate=(409, 403))
        self._namespace_ready = True

    def username(self) -> str:
        """This client's Kubernetes username as the API server sees it (a SelfSubjectReview),
        stamped on what it creates so the admission policy can check it; "" when unknown."""
        if self._username is None:
            from kubernetes import client

            api = client.AuthenticationV1Api(self.api_client)
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
            try:
                review = api_call("ask the API server who we are", api.create_self_subject_review, body)
                self._username = _text(((review.get("status") or {}).get("userInfo") or {}).get("username"))
            except JournalError:
                self._username = ""
        return self._username

    def record(self, payload: dict, run_id: str, file: str) -> str:
        """Sign and create one step's entry (``payload`` from ``entry.build_payload``), pending;
        returns the Secret's name."""
        from ..signing import SigningError, canonical

        self.ensure_namespace()
        name = entry_name(run_id, file)
        try:
            raw = canonical(payload)
        except SigningError as exc:
            raise JournalError(f"cannot journal {file}: {exc}") from None
        if len(raw) > MAX_STEP_BYTES:
            raise JournalError(f"cannot journal {file}: its data is {len(raw)} bytes, more than the "
                               f"{MAX_STEP_BYTES} a journal entry holds")
        when = now_text()
        state = state_payload(name, hashlib.sha256(raw).hexdigest(), "pending", self.host, when, None)
        body = {
            "apiVersion": "v1", "kind": "Secret", "type": STEP_TYPE,
            "metadata": {
                "name": name, "namespace": self.namespace,
                "labels": {L_RUN: label_value(run_id), L_STATE: "pending"},
                "annotations": {
                    A_RUN_ID: run_id, A_HOST: self.host, A_SIGNATURE: self.signer.sign(raw),
                    A_CREATED_BY: self.username(), A_STATE_BY: self.host, A_STATE_TIME: when,
                    A_STATE_SIGNATURE: self.signer.sign_obj(state),
                },
            },
            "data": {DATA_KEY: base64.b64encode(raw).decode()},
        }
        where = f"write {file} to the cluster journal ({self.namespace}/{name})"
        if api_call(where, self._core.create_namespaced_secret, self.namespace, body, tolerate=(409,)) == 409:
            have = self._get(name)  # written by an earlier attempt of this very step?
            if have is None or (have.get("data") or {}) != body["data"]:
                raise JournalError(f"cannot {where}: another object of that name exists")
        return name

    def set_state(self, run_id: str, file: str, state: str, *, by: str | None = None,
                  error: str | None = None) -> None:
        """Record, signed, that a step was executed, failed, refused or archived; a step with
        no entry (written before the journal was on) is left alone. The entry's data is never
        changed."""
        entry = self.entry_for(run_id, file)
        if entry is not None:
            self.set_entry_state(entry, state, by=by, error=error)

    def set_entry_state(self, entry: Entry, state: str, *, by: str | None = None, error: str | None = None) -> None:
        """``set_state`` of the entry as read, by its own name: never the name its (unverified)
        run and file would give, which a forged entry could point at another's."""
        if state not in STATES:
            raise ValueError(f"unknown journal state {state!r}")
        by, when = by or self.host, now_text()
        error = one_line(error)[:1000] if error else None
        signed = state_payload(entry.name, entry.step_sha256, state, by, when, error)
        patch = {"metadata": {
            "labels": {L_STATE: state},
            "annotations": {A_STATE_BY: by, A_STATE_TIME: when, A_ERROR: error,
                            A_STATE_SIGNATURE: self.signer.sign_obj(signed)},
        }}
        api_call(f"record {entry.file or entry.name} as {state} in the cluster journal",
                 self._core.patch_namespaced_secret, entry.name, self.namespace, patch, tolerate=(404,))

    def delete(self, entry: Entry) -> None:
        """Delete one entry, as it was read (a changed one is left: its uid is the precondition)."""
        api_call(f"delete {self.namespace}/{entry.name} from the cluster journal",
                 self._core.delete_namespaced_secret, entry.name, self.namespace,
                 body={"preconditions": {"resourceVersion": entry.resource_version}}, tolerate=(404, 409))

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
        """The journal's steps, oldest first; a missing namespace is an empty journal. ``states``
        selects on the label, a hint only: callers that act decide from the signed state."""
        selectors = []
        if run_id is not None:
            selectors.append(f"{L_RUN}={label_value(run_id)}")
        if states:
            selectors.append(f"{L_STATE} in ({','.join(states)})")
        items: list[dict] = []
        token = None
        while True:
            page = api_call(f"list the cluster journal {self.namespace}", self._core.list_namespaced_secret,
                            self.namespace, label_selector=",".join(selectors) or None,
                            field_selector=f"type={STEP_TYPE}", limit=500, _continue=token, tolerate=(404,))
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

