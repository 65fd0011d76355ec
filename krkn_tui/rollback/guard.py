"""The guard: roll back, from the cluster journal, the runs whose owner stopped renewing its Lease.

A run is due when it has pending (or failed) steps in the journal and its Lease has a holder
whose renew time is older than the Lease duration plus the grace period (or the Lease is gone).
A run whose Lease was released ended normally: its steps wait for the operator.

The guard takes the Lease (a replace on the resourceVersion it read: of several guards one wins),
keeps it renewed, re-reads the run's pending steps under it and executes them newest first with
the executor's rules for a file of ours (digest, header, same loading and retries) plus the
cluster check (the kube-system UID recorded with the step must be this cluster's). Each outcome
goes to the journal entry, to the guard's audit log and, as a Kubernetes Event, to the Lease.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from typing import Callable

from ..events import Event, GuardIdle, GuardTakeover, JournalUnavailable, RollbackFromJournal, RunLeftAlone
from .executor import Executor
from .journal import Entry, Journal, JournalError, _one_line, origin_host, refusal_reason
from .lease import LeaseHeld, Leases, LeaseState, RunLease, lease_name, new_holder
from .mirror import JournalSettings
from .redact import redact_secrets

log = logging.getLogger(__name__)

DEFAULT_GRACE = 30.0
DEFAULT_INTERVAL = 5.0
RETRIED_STATES = ("pending", "failed")


def due_runs(journal: Journal, leases: Leases, grace: float, now: float | None = None
             ) -> list[tuple[str, LeaseState | None]]:
    """Runs with steps left whose Lease expired more than ``grace`` seconds ago (or is gone)."""
    now = time.time() if now is None else now
    runs = sorted({e.run_id for e in journal.entries(states=RETRIED_STATES) if e.run_id})
    if not runs:
        return []
    by_name = {lease.name: lease for lease in leases.list()}
    due = []
    for run_id in runs:
        lease = by_name.get(lease_name(run_id))
        if lease is None or (lease.holder and lease.expired_for(now) >= grace):
            due.append((run_id, lease))
    return due


class Guard:
    """Reports what it does as events (``events.py``) to ``on_event``: a takeover, each step's
    outcome (RollbackFromJournal), a run left to whoever holds its Lease, an idle pass, the
    journal out of reach, and the executor's retries."""

    def __init__(self, api_client, settings: JournalSettings, identity, *, grace: float = DEFAULT_GRACE,
                 audit=None, on_event: Callable[[Event], None] | None = None,
                 retry_deadline: float = 60.0, holder: str | None = None):
        self.api_client = api_client
        self.settings = settings
        self.identity = identity
        self.grace = grace
        self.audit = audit
        self.on_event = on_event or (lambda _e: None)
        self.holder = holder or new_holder("guard")
        self.journal = Journal(api_client, settings.namespace, identity)
        self.leases = Leases(api_client, settings.namespace)
        self.executor = Executor(lambda: api_client, retry_deadline=retry_deadline, on_event=self.on_event)
        self._idle = False  # "nothing due" is said when the guard becomes idle, not every pass

    def once(self) -> list[RollbackFromJournal]:
        """Handle every run that is due now; the outcome of each step it ran or refused, in order."""
        due = due_runs(self.journal, self.leases, self.grace)
        if not due and not self._idle:
            self.on_event(GuardIdle())
        self._idle = not due
        done: list[RollbackFromJournal] = []
        for run_id, lease in due:
            done.extend(self.roll_back(run_id, lease, lease_existed=lease is not None))
        return done

    def run_forever(self, stop: threading.Event, interval: float = DEFAULT_INTERVAL) -> None:
        while not stop.is_set():
            try:
                self.once()
            except JournalError as exc:  # API server away: say so, try again next round
                self.on_event(JournalUnavailable(str(exc), retry_in=interval))
                self._idle = False
            stop.wait(interval)

    def roll_back(self, run_id: str, previous: LeaseState | None = None, *,
                  lease_existed: bool = True) -> list[RollbackFromJournal]:
        """Take the run's Lease (``previous``: as it was read when the run was found due) and
        execute its pending steps newest first; their outcomes."""
        lease = RunLease(self.api_client, self.settings.namespace, run_id, holder=self.holder,
                         duration=self.settings.lease_duration, renew_every=self.settings.renew_every)
        try:
            lease.acquire(expired_for=self.grace, only_if_held=lease_existed)
        except LeaseHeld as exc:  # another guard or executor won it, or the run came back
            self.on_event(RunLeftAlone(str(exc), run_id=run_id))
            return []
        lease.start_renewing()
        done: list[RollbackFromJournal] = []
        try:
            # Read under the Lease: what an earlier holder executed is no longer pending.
            entries = sorted(self.journal.entries(run_id, states=RETRIED_STATES),
                             key=lambda e: (e.created_ns, e.name), reverse=True)
            self.on_event(GuardTakeover(len(entries), previous.holder if previous else None,
                                        previous.expired_for() if previous else None, run_id=run_id))
            for left, entry in enumerate(entries):
                if lease.lost_to is not None:
                    self.on_event(RunLeftAlone(f"lease taken by {lease.lost_to}; "
                                               f"{len(entries) - left} step(s) left to it", run_id=run_id))
                    break
                done.append(self._step(entry, lease))
        finally:
            try:
                lease.release()
            except JournalError as exc:
                log.warning("%s", exc)
        return done

    def _step(self, entry: Entry, lease: RunLease) -> RollbackFromJournal:
        started = time.monotonic()
        try:
            data = self.journal.read(entry)
            reason = refusal_reason(entry, data, self.identity)
        except JournalError as exc:
            data, reason = b"", str(exc)
        if reason:
            status, error = "refused", reason
        else:
            error, _attempts = self.executor.run_verified(entry.file, data)
            status = "executed" if error is None else "failed"
        outcome = RollbackFromJournal(status, f"{self.settings.namespace}/{entry.name}", entry.file, self.holder,
                                      error, round(time.monotonic() - started, 3), run_id=entry.run_id)
        notes = []
        # As on disk: an executed step keeps no Secret values (a recreated namespace's).
        redacted, count = redact_secrets(data.decode("utf-8", "replace")) if status == "executed" else ("", 0)
        try:
            self.journal.set_state(entry.run_id, entry.file, status, by=self.holder, error=error,
                                   data=redacted.encode("utf-8") if count else None)
        except JournalError as exc:
            notes.append(str(exc))
        self._record(outcome, entry, lease, notes)
        if notes:  # said with the outcome; the audit line and the Event keep the step's own error
            outcome = replace(outcome, error="; ".join(filter(None, [error, *notes])))
        self.on_event(outcome)
        return outcome

    def _record(self, outcome: RollbackFromJournal, entry: Entry, lease: RunLease, notes: list[str]) -> None:
        if self.audit is not None:
            try:
                self.audit.record(outcome)
            except OSError as exc:
                notes.append(f"cannot write the audit log: {exc.strerror or exc}")
        try:
            self._event(outcome, entry, lease)
        except Exception as exc:  # the step is done and recorded in the journal already
            notes.append(f"cannot record the Event on the lease: {_one_line(exc)}")

    def _event(self, outcome: RollbackFromJournal, entry: Entry, lease: RunLease) -> None:
        from kubernetes import client

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = outcome.status
        reason = {"executed": "RollbackExecuted", "failed": "RollbackFailed"}.get(status, "RollbackRefused")
        message = f"{entry.file} ({entry.name}) {status}" + (f": {outcome.error}" if outcome.error else "")
        uid = ((lease.state.body if lease.state else {}).get("metadata") or {}).get("uid")
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{lease.name}.", "namespace": self.settings.namespace},
            "involvedObject": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "name": lease.name,
                               "namespace": self.settings.namespace, **({"uid": uid} if uid else {})},
            "reason": reason, "message": message[:1000], "type": "Normal" if status == "executed" else "Warning",
            "source": {"component": "krkn-tui-guard", "host": origin_host()},
            "reportingComponent": "krkn-tui-guard", "reportingInstance": self.holder[:128],
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        client.CoreV1Api(self.api_client).create_namespaced_event(self.settings.namespace, body,
                                                                  _preload_content=False)


def lease_events(api_client, namespace: str, run_id: str) -> list[dict]:
    """The guard's Events on a run's Lease, oldest first (for the console and tests)."""
    from kubernetes import client

    resp = client.CoreV1Api(api_client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=Lease,involvedObject.name={lease_name(run_id)}",
        _preload_content=False)
    items = json.loads(resp.data).get("items") or []
    return sorted(items, key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
