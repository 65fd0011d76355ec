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
from dataclasses import dataclass
from typing import Callable

from ..events import RollbackFromJournal
from .executor import Executor
from .journal import Entry, Journal, JournalError, _one_line, origin_host, refusal_reason
from .lease import LeaseHeld, Leases, LeaseState, RunLease, lease_name, new_holder
from .mirror import JournalSettings
from .redact import redact_secrets

log = logging.getLogger(__name__)

DEFAULT_GRACE = 30.0
DEFAULT_INTERVAL = 5.0
RETRIED_STATES = ("pending", "failed")


@dataclass(frozen=True)
class GuardStep:
    run_id: str
    entry: str
    file: str
    status: str  # executed | failed | refused | skipped
    error: str | None = None
    seconds: float = 0.0


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
    def __init__(self, api_client, settings: JournalSettings, identity, *, grace: float = DEFAULT_GRACE,
                 audit=None, on_step: Callable[[GuardStep], None] | None = None,
                 retry_deadline: float = 60.0, holder: str | None = None):
        self.api_client = api_client
        self.settings = settings
        self.identity = identity
        self.grace = grace
        self.audit = audit
        self.on_step = on_step or (lambda _s: None)
        self.holder = holder or new_holder("guard")
        self.journal = Journal(api_client, settings.namespace, identity)
        self.leases = Leases(api_client, settings.namespace)
        self.executor = Executor(lambda: api_client, retry_deadline=retry_deadline)

    def once(self) -> list[GuardStep]:
        """Handle every run that is due now; the steps it ran (or refused), in order."""
        done: list[GuardStep] = []
        for run_id, lease in due_runs(self.journal, self.leases, self.grace):
            done.extend(self.roll_back(run_id, lease_existed=lease is not None))
        return done

    def run_forever(self, stop: threading.Event, interval: float = DEFAULT_INTERVAL) -> None:
        while not stop.is_set():
            try:
                self.once()
            except JournalError as exc:  # API server away: say so, try again next round
                log.warning("%s", exc)
                self.on_step(GuardStep("", "", "", "skipped", str(exc)))
            stop.wait(interval)

    def roll_back(self, run_id: str, *, lease_existed: bool = True) -> list[GuardStep]:
        lease = RunLease(self.api_client, self.settings.namespace, run_id, holder=self.holder,
                         duration=self.settings.lease_duration, renew_every=self.settings.renew_every)
        try:
            lease.acquire(expired_for=self.grace, only_if_held=lease_existed)
        except LeaseHeld as exc:  # another guard or executor won it, or the run came back
            step = GuardStep(run_id, "", "", "skipped", str(exc))
            self.on_step(step)
            return [step]
        lease.start_renewing()
        done: list[GuardStep] = []
        try:
            # Read under the Lease: what an earlier holder executed is no longer pending.
            entries = self.journal.entries(run_id, states=RETRIED_STATES)
            for entry in sorted(entries, key=lambda e: (e.created_ns, e.name), reverse=True):
                if lease.lost_to is not None:
                    done.append(GuardStep(run_id, entry.name, entry.file, "skipped",
                                          f"lease taken by {lease.lost_to}"))
                    break
                step = self._step(entry, lease)
                done.append(step)
                self.on_step(step)
        finally:
            try:
                lease.release()
            except JournalError as exc:
                log.warning("%s", exc)
        return done

    def _step(self, entry: Entry, lease: RunLease) -> GuardStep:
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
        step = GuardStep(entry.run_id, entry.name, entry.file, status, error, time.monotonic() - started)
        notes = []
        # As on disk: an executed step keeps no Secret values (a recreated namespace's).
        redacted, count = redact_secrets(data.decode("utf-8", "replace")) if status == "executed" else ("", 0)
        try:
            self.journal.set_state(entry.run_id, entry.file, status, by=self.holder, error=error,
                                   data=redacted.encode("utf-8") if count else None)
        except JournalError as exc:
            notes.append(str(exc))
        self._record(step, lease, notes)
        if notes:
            step = GuardStep(step.run_id, step.entry, step.file, step.status,
                             "; ".join(filter(None, [step.error, *notes])), step.seconds)
        return step

    def _record(self, step: GuardStep, lease: RunLease, notes: list[str]) -> None:
        if self.audit is not None:
            try:
                self.audit.record(RollbackFromJournal(step.status, f"{self.settings.namespace}/{step.entry}",
                                                      step.file, self.holder, step.error, round(step.seconds, 3),
                                                      run_id=step.run_id))
            except OSError as exc:
                notes.append(f"cannot write the audit log: {exc.strerror or exc}")
        try:
            self._event(step, lease)
        except Exception as exc:  # the step is done and recorded in the journal already
            notes.append(f"cannot record the Event on the lease: {_one_line(exc)}")

    def _event(self, step: GuardStep, lease: RunLease) -> None:
        from kubernetes import client

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        reason = {"executed": "RollbackExecuted", "failed": "RollbackFailed"}.get(step.status, "RollbackRefused")
        message = f"{step.file} ({step.entry}) {step.status}" + (f": {step.error}" if step.error else "")
        uid = ((lease.state.body if lease.state else {}).get("metadata") or {}).get("uid")
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{lease.name}.", "namespace": self.settings.namespace},
            "involvedObject": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "name": lease.name,
                               "namespace": self.settings.namespace, **({"uid": uid} if uid else {})},
            "reason": reason, "message": message[:1000], "type": "Normal" if step.status == "executed" else "Warning",
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
