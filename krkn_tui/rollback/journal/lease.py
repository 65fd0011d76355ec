"""A run's liveness in the cluster: a ``coordination.k8s.io/v1`` Lease in the journal namespace.

The run holds ``run-<run id>`` and renews it while it runs (like controller leader election:
15 s duration, renewed every 5 s). A run that ends normally releases it (no holder): its steps,
if any are left, wait for the operator. A run that dies leaves a holder whose renew time grows
old; once that is older than the duration plus a grace period, a guard may take the Lease and
roll the run back. Whoever runs a journaled run's steps (the run itself, ``execute-rollback``,
a guard) holds the Lease while it does, and every take is a replace on the resourceVersion it
read, so two takers never both win: each step runs once.

Expiry is judged from the recorded renew time and this machine's clock: the grace period must
cover the clock skew between the runner's machine and the guard's.

A Lease kept renewed for ever would block its run's rollback for ever. So each Lease has a bound
(``hold_bound``): an hour (``hold_past_end``) past the run's planned end when the runner recorded
one (annotation ``krkn-tui.io/planned-end``), never later than ``max_hold`` after the Lease was
created (the API server's creation time, which no holder can move). Past it, the guard reports
the run at every pass (an Event on the Lease) and ``list-rollback --cluster`` shows it; the
holder is not overruled: a long run may be legitimate, and a person decides.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from ...fsio import pid_alive
from .entries import A_RUN_ID, L_RUN, PREFIX, JournalError, api_call, label_value, origin_host, parse_time
from .settings import DEFAULT_DURATION, DEFAULT_RENEW_EVERY
from ...signals import quiet_thread

log = logging.getLogger(__name__)

_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class LeaseHeld(JournalError):
    """Someone alive holds the run's Lease (or took it between our read and our write)."""

    def __init__(self, message: str, holder: str = ""):
        super().__init__(message)
        self.holder = holder


def lease_name(run_id: str) -> str:
    name = f"run-{run_id}"
    if len(name) <= 253 and _DNS_NAME.fullmatch(name):
        return name
    return "run-" + label_value(run_id).lower().replace("_", "-").replace(".", "-")


def new_holder(role: str = "run") -> str:
    """Unique per process and use: two executors on one host are still told apart."""
    return f"{role}@{origin_host()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


_HOLDER = re.compile(r"[a-z]+@(?P<host>[^/]+)/(?P<pid>[0-9]{1,10})/[0-9a-f]+")


def holder_gone(holder: str) -> bool:
    """True when ``holder`` was a process of this host that no longer exists (killed, crashed):
    its Lease need not be waited out. A reused pid only makes us wait for the expiry."""
    m = _HOLDER.fullmatch(holder or "")
    return bool(m) and m["host"] == origin_host() and not pid_alive(int(m["pid"]))


def _micro(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


A_PLANNED_END = PREFIX + "planned-end"


@dataclass(frozen=True)
class LeaseState:
    name: str
    run_id: str
    holder: str
    duration: float
    renew_time: float | None
    resource_version: str
    transitions: int
    body: dict
    created: float | None = None  # the API server's creation time
    planned_end: float | None = None  # the run's planned end, when its runner recorded one

    @staticmethod
    def from_object(obj: dict) -> "LeaseState":
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        return LeaseState(
            name=meta.get("name", ""),
            run_id=(meta.get("annotations") or {}).get(A_RUN_ID, ""),
            holder=spec.get("holderIdentity") or "",
            duration=float(spec.get("leaseDurationSeconds") or 0),
            renew_time=parse_time(spec.get("renewTime") or spec.get("acquireTime")),
            resource_version=meta.get("resourceVersion", ""),
            transitions=int(spec.get("leaseTransitions") or 0),
            body=obj,
            created=parse_time(meta.get("creationTimestamp")),
            planned_end=parse_time((meta.get("annotations") or {}).get(A_PLANNED_END)),
        )

    def expired_for(self, now: float | None = None) -> float:
        """Seconds since the Lease expired (negative: still valid)."""
        if self.renew_time is None:
            return float("inf")
        return (now if now is not None else time.time()) - (self.renew_time + self.duration)


def hold_bound(lease: LeaseState, settings) -> float | None:
    """Until when ``lease`` may be held before it is reported (see the module's doc); None when
    the API server gave no creation time."""
    if lease.created is None:
        return None
    bound = lease.created + settings.max_hold
    if lease.planned_end is not None:
        bound = min(bound, lease.planned_end + settings.hold_past_end)
    return bound


def held_past_bound(lease: LeaseState | None, settings, now: float | None = None) -> float | None:
    """Seconds a live holder has kept ``lease`` past its bound, or None when it has not."""
    if lease is None or not lease.holder:
        return None
    now = time.time() if now is None else now
    bound = hold_bound(lease, settings)
    if bound is None or lease.expired_for(now) >= 0 or now <= bound:
        return None
    return now - bound


class Leases:
    """Lease access in the journal namespace."""

    def __init__(self, api_client, namespace: str):
        from kubernetes import client

        self.namespace = namespace
        self._api = client.CoordinationV1Api(api_client)

    def get(self, name: str) -> LeaseState | None:
        obj = api_call(f"read lease {self.namespace}/{name}", self._api.read_namespaced_lease, name, self.namespace,
                       tolerate=(404,))
        return None if obj == 404 else LeaseState.from_object(obj)

    def list(self) -> list[LeaseState]:
        page = api_call(f"list leases in {self.namespace}", self._api.list_namespaced_lease, self.namespace,
                        label_selector=L_RUN, tolerate=(404,))
        return [] if page == 404 else [LeaseState.from_object(o) for o in page.get("items") or []]

    def create(self, body: dict) -> LeaseState | None:
        """None when it exists already."""
        obj = api_call(f"create lease {self.namespace}/{body['metadata']['name']}", self._api.create_namespaced_lease,
                       self.namespace, body, tolerate=(409,))
        return None if obj == 409 else LeaseState.from_object(obj)

    def replace(self, body: dict) -> LeaseState | None:
        """Optimistic: None when the resourceVersion in ``body`` is no longer current (or it is gone)."""
        name = body["metadata"]["name"]
        obj = api_call(f"update lease {self.namespace}/{name}", self._api.replace_namespaced_lease, name,
                       self.namespace, body, tolerate=(404, 409))
        return None if obj in (404, 409) else LeaseState.from_object(obj)


class RunLease:
    """One run's Lease as seen by one holder: acquire, keep renewed, release."""

    def __init__(self, api_client, namespace: str, run_id: str, *, holder: str | None = None,
                 duration: float = DEFAULT_DURATION, renew_every: float = DEFAULT_RENEW_EVERY,
                 planned_end: float | None = None):
        self.leases = Leases(api_client, namespace)
        self.planned_end = planned_end
        self.namespace = namespace
        self.run_id = run_id
        self.name = lease_name(run_id)
        self.holder = holder or new_holder()
        self.duration = duration
        self.renew_every = renew_every
        self.state: LeaseState | None = None
        self.lost_to: str | None = None  # set when someone else took it while we held it
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self.state is not None and self.lost_to is None

    def _spec(self, previous: LeaseState | None, now: float) -> dict:
        spec = dict((previous.body.get("spec") if previous else None) or {})
        taken = previous is None or previous.holder != self.holder
        spec.update({
            "holderIdentity": self.holder,
            "leaseDurationSeconds": max(1, int(round(self.duration))),
            "renewTime": _micro(now),
        })
        if taken:
            spec["acquireTime"] = _micro(now)
            if previous is not None and previous.holder:
                spec["leaseTransitions"] = previous.transitions + 1
        return spec

    def _body(self, previous: LeaseState | None, now: float) -> dict:
        annotations = {A_RUN_ID: self.run_id}
        if self.planned_end is not None:
            annotations[A_PLANNED_END] = _micro(self.planned_end)
        meta = {"name": self.name, "namespace": self.namespace,
                "labels": {L_RUN: label_value(self.run_id)}, "annotations": annotations}
        if previous is not None:
            old = previous.body.get("metadata", {})
            meta = {**old, **meta, "resourceVersion": previous.resource_version,
                    "annotations": {**(old.get("annotations") or {}), **annotations}}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": self._spec(previous, now)}

    def acquire(self, *, expired_for: float = 0.0, only_if_held: bool = False) -> LeaseState:
        """Take the Lease: create it, or take it when it is free (released), expired for at
        least ``expired_for`` seconds, or held by a process of this host that is gone. With ``only_if_held``, a released Lease is not taken (the
        guard leaves runs that ended normally alone). Raises LeaseHeld otherwise, also when
        another taker won the race for the same resourceVersion."""
        with self._lock:
            current = self.leases.get(self.name)
            now = time.time()
            if current is None:
                if only_if_held:
                    raise LeaseHeld(f"run {self.run_id} has no lease", "")
                made = self.leases.create(self._body(None, now))
                if made is None:
                    raise LeaseHeld(f"lease {self.name} was created by someone else meanwhile")
                self.state = made
                self.lost_to = None
                return made
            mine = current.holder == self.holder
            free = not current.holder
            if only_if_held and free:
                raise LeaseHeld(f"run {self.run_id} ended normally (its lease is released)", "")
            if not mine and not free and current.expired_for(now) < expired_for and not holder_gone(current.holder):
                left = -current.expired_for(now)
                when = f"expires in {left:.0f}s" if left > 0 else f"expired {-left:.0f}s ago"
                raise LeaseHeld(f"run {self.run_id} is held by {current.holder} (lease {when})", current.holder)
            taken = self.leases.replace(self._body(current, now))
            if taken is None:
                raise LeaseHeld(f"lease {self.name} was taken by someone else meanwhile")
            self.state = taken
            self.lost_to = None
            return taken

    def renew(self) -> bool:
        """One renewal; False (and ``lost_to`` set) when someone else holds it now."""
        with self._lock:
            if self.state is None or self.lost_to is not None:
                return False
            taken = self.leases.replace(self._body(self.state, time.time()))
            if taken is None:
                current = self.leases.get(self.name)
                if current is None or current.holder != self.holder:
                    self.lost_to = current.holder if current else "(deleted)"
                    log.warning("lease %s lost to %s", self.name, self.lost_to)
                    return False
                taken = self.leases.replace(self._body(current, time.time()))
                if taken is None:
                    return False  # next round
            self.state = taken
            return True

    def start_renewing(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        quiet_thread()
        while not self._stop.wait(self.renew_every):
            try:
                if not self.renew() and self.lost_to is not None:
                    return
            except JournalError as exc:  # API server away: try again next round, the duration covers it
                log.warning("%s", exc)

    def stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def release(self) -> bool:
        """Stop renewing and clear the holder, if it is still ours. True when released."""
        self.stop_renewing()
        with self._lock:
            if self.state is None or self.lost_to is not None:
                return False
            for _ in range(3):
                current = self.leases.get(self.name)
                if current is None or current.holder != self.holder:
                    return False
                spec = dict(current.body.get("spec") or {})
                spec.update({"holderIdentity": None, "renewTime": _micro(time.time()), "leaseDurationSeconds": 1})
                body = {**current.body, "spec": spec}
                if self.leases.replace(body) is not None:
                    self.state = None
                    return True
            return False


__all__ = ["DEFAULT_DURATION", "DEFAULT_RENEW_EVERY", "LeaseHeld", "LeaseState", "Leases", "RunLease",
           "held_past_bound", "hold_bound", "lease_name", "new_holder"]


def leases_by_name(journal) -> dict[str, LeaseState]:
    """The run Leases beside a journal's entries (rollback.journal.Journal), by Lease name."""
    return {lease.name: lease for lease in Leases(journal.api_client, journal.namespace).list()}
