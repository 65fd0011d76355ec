"""Halt everything: one signed record in the journal namespace that every run, daemon run and
console on that cluster obeys (``krkn-tui halt`` / ``krkn-tui resume``, the console's ``H``).

The record is a Secret named ``krkn-tui-halt`` of type ``krkn-tui.io/halt`` in the journal
namespace (``deploy/journal-policy.yaml`` lets operators create it and any operator delete it:
whoever is in the room may resume). ``halt.json`` holds canonical JSON of ``{"format": 1,
"reason", "by" (the Kubernetes username the API server saw), "host", "time", "signer",
"cluster"}``, signed by the operator's key (annotation ``krkn-tui.io/signature``).

Failing safe: a record whose signature does not verify (unsigned, an unknown key, a bad
signature, unreadable data) is still obeyed as a halt, and said to be unverified. A halt only
stops chaos and rolls it back, the safe direction; whoever can write the journal namespace can
stop chaos anyway (delete a Lease, fill the namespace), while ignoring a halt because the
colleague who pressed it has a key this machine does not trust would keep chaos running in an
emergency. So the signature tells who halted, never whether to halt.

Resume deletes the record. Nothing here imports Textual.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable

from .rollback.journal.entries import A_CREATED_BY, A_HOST, A_SIGNATURE, Journal, JournalError, api_call, now_text
from .sanitize import one_line

NAME = "krkn-tui-halt"
TYPE = "krkn-tui.io/halt"
DATA_KEY = "halt.json"
FORMAT = 1
MAX_REASON = 500
MAX_BYTES = 16 * 1024


@dataclass(frozen=True)
class Halt:
    """A halt record as read back: everything in it came from the cluster (shown folded to one
    line, never obeyed beyond "halt"). ``problem`` says why its signature did not verify."""

    reason: str
    by: str
    host: str
    time: str
    verified_key: str | None = None
    problem: str | None = None

    @property
    def verified(self) -> bool:
        return self.verified_key is not None

    def describe(self) -> str:
        who = self.by or "?"
        if self.host:
            who += f" on {self.host}"
        said = f"halted by {who} at {self.time or '?'}: {self.reason or '(no reason)'}"
        if not self.verified:
            said += f" [unverified: {self.problem}; obeyed all the same]"
        return one_line(said)

    def record(self) -> dict:
        return {"reason": self.reason, "by": self.by, "host": self.host, "time": self.time,
                "verified": self.verified, "problem": self.problem}


class HaltError(Exception):
    """The halt could not be written, read or lifted; one line."""


def _text(value: object, limit: int = MAX_REASON) -> str:
    return one_line(value)[:limit] if isinstance(value, str) else ""


def parse(obj: dict, trusted) -> Halt:
    """The record in Secret ``obj``, checked against ``trusted`` (signing.TrustedKeys)."""
    meta = obj.get("metadata") or {}
    ann = meta.get("annotations") or {}
    problem = None
    payload: Any = None
    raw = b""
    try:
        raw = base64.b64decode((obj.get("data") or {}).get(DATA_KEY) or "", validate=True)
        if len(raw) > MAX_BYTES:
            problem = f"{DATA_KEY} larger than {MAX_BYTES} bytes"
        else:
            payload = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        problem = f"{DATA_KEY} unreadable"
    if problem is None and not isinstance(payload, dict):
        problem = f"{DATA_KEY} is not a JSON object"
    payload = payload if isinstance(payload, dict) else {}
    if obj.get("type") != TYPE and problem is None:
        problem = f"not of type {TYPE}"
    verified = None
    if problem is None:
        ok, why = trusted.check(raw, ann.get(A_SIGNATURE))
        verified, problem = (ok.key_id, None) if ok else (None, why)
    return Halt(_text(payload.get("reason")), _text(payload.get("by"), 200) or _text(ann.get(A_CREATED_BY), 200),
                _text(payload.get("host"), 200) or _text(ann.get(A_HOST), 200), _text(payload.get("time"), 40),
                verified, problem)


def _core(api_client):
    from kubernetes import client

    return client.CoreV1Api(api_client)


def read(api_client, namespace: str, trusted, timeout: float | tuple = (3, 5)) -> Halt | None:
    """The halt in force on the cluster of ``api_client``, or None; HaltError when it cannot be read."""
    try:
        obj = api_call(f"read the halt record {namespace}/{NAME}", _core(api_client).read_namespaced_secret,
                       NAME, namespace, tolerate=(404,), _request_timeout=timeout)
    except JournalError as exc:
        raise HaltError(str(exc)) from None
    return None if obj == 404 else parse(obj, trusted)


def write(api_client, namespace: str, reason: str, *, identity=None, signer=None) -> tuple[Halt, bool]:
    """Record a halt: ``(the halt in force, True)``; when one is in force already, that one and False."""
    from .rollback.signing import canonical

    reason = one_line(reason)
    if not reason.strip():
        raise HaltError("a halt needs a reason (--reason TEXT): the room reads it")
    if len(reason) > MAX_REASON:
        raise HaltError(f"the reason is {len(reason)} characters, more than {MAX_REASON}")
    journal = Journal(api_client, namespace, identity, signer=signer)
    try:
        journal.ensure_namespace()
        by = journal.username()
        payload = {"format": FORMAT, "reason": reason, "by": by, "host": journal.host, "time": now_text(),
                   "signer": journal.signer.key_id, "cluster": journal.identity.to_dict()}
        raw = canonical(payload)
        body = {"apiVersion": "v1", "kind": "Secret", "type": TYPE,
                "metadata": {"name": NAME, "namespace": namespace,
                             "annotations": {A_SIGNATURE: journal.signer.sign(raw), A_CREATED_BY: by,
                                             A_HOST: journal.host}},
                "data": {DATA_KEY: base64.b64encode(raw).decode()}}
        created = api_call(f"write the halt record {namespace}/{NAME}", _core(api_client).create_namespaced_secret,
                           namespace, body, tolerate=(409,))
    except JournalError as exc:
        raise HaltError(str(exc)) from None
    from .rollback.signing import TrustedKeys

    trusted = TrustedKeys([journal.signer.public_raw])
    if created == 409:
        return read(api_client, namespace, trusted), False
    return parse(body, trusted), True


def lift(api_client, namespace: str) -> bool:
    """Resume: delete the record; False when there was none."""
    try:
        gone = api_call(f"delete the halt record {namespace}/{NAME}", _core(api_client).delete_namespaced_secret,
                        NAME, namespace, tolerate=(404,))
    except JournalError as exc:
        raise HaltError(str(exc)) from None
    return gone != 404


class HaltMonitor(threading.Thread):
    """Reads the halt record every ``interval`` seconds until ``stop()``; calls ``on_change``
    with the halt in force (or None) whenever that changes. A read that fails keeps the last
    answer (the API server's silence is the liveness probe's to say) and its error in ``error``."""

    def __init__(self, api_client: Callable[[], Any], namespace: str, trusted, interval: float,
                 on_change: Callable[[Halt | None], None]):
        super().__init__(name="halt-monitor", daemon=True)
        self._api_client, self.namespace, self.trusted = api_client, namespace, trusted
        self.interval = interval
        self.on_change = on_change
        self.current: Halt | None = None
        self.error = ""
        self.checked = threading.Event()  # set after the first answer
        self._stop = threading.Event()

    def check(self) -> Halt | None:
        try:
            halt = read(self._api_client(), self.namespace, self.trusted)
        except Exception as exc:  # unreachable, no right to read: keep the last answer
            self.error = one_line(exc)[:300]
            return self.current
        self.error = ""
        if halt != self.current:
            self.current = halt
            self.on_change(halt)
        self.checked.set()
        return halt

    def run(self) -> None:
        from .signals import quiet_thread

        quiet_thread()
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()


def trust():
    """The keys a reader checks a halt against: the operator's own and its trusted-keys file;
    a missing or broken key set leaves every halt unverified (still obeyed)."""
    from .rollback.signing import SigningError, TrustedKeys, local_trust

    try:
        return local_trust()
    except (SigningError, OSError):
        return TrustedKeys()
