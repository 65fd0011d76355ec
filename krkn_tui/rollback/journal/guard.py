"""The guard: roll back, from the cluster journal, the runs whose owner stopped renewing its Lease.

A run is due when it has steps still to run (pending or failed, by their signed state: a state
whose signature does not verify counts as pending) and its Lease has a holder whose renew time
is older than the Lease duration plus the grace period; a run with no Lease at all is due once
its newest entry is older than the grace period. A run whose Lease was released ended normally:
its steps wait for the operator. A Lease still renewed past its bound (``lease.hold_bound``) is
reported at every pass (an Event on the Lease), never obeyed silently.

The guard takes the Lease (a replace on the resourceVersion it read: of several guards one wins),
keeps it renewed, re-reads the run's steps under it and runs them newest first. Each entry must
pass ``entry.refusal`` under the keys the guard was given (signed by a trusted key, at its own
name, recorded for this cluster's kube-system UID, naming one of krkn-tui's undo operations);
the guard then calls krkn-tui's own function for that operation with the entry's data. No code
is read from the cluster. A captured namespace is restored without its Secrets, Roles and
RoleBindings (``undo_ops.GUARD_LEAVES``): the step is recorded ``partial``, naming them, for the
operator's execute-rollback. An operation that execs into a pod (``undo_ops.needs_exec``) is not
called at all (the guard has no pods/exec): a step of a chaos pod with a TERM trap
(``undo_ops.guard_undo``) is undone by deleting that pod and reading what its trap did
(scenarios/trap_undo.py); any other is recorded ``operator`` with ``undo_ops.OPERATOR_NOTE``; no
longer pending, it does not make the run due again, and the operator's execute-rollback runs it
and records it executed. Each outcome goes to the journal
entry (signed with the guard's own key), to the guard's audit log and, as a Kubernetes Event, to
the Lease. Each pass also deletes the runs whose entries are all archived past the retention
(``retention.prune``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ...events import (
    Event,
    GuardIdle,
    GuardSeesHalt,
    GuardTakeover,
    JournalUnavailable,
    LeaseHeldPastBound,
    RollbackFromJournal,
    RunLeftAlone,
)
from ...statuses import JournalState
from .entry import refusal, trusted_state
from ..executor import Executor
from .entries import Entry, Journal, JournalError, error_line, origin_host
from .lease import LeaseHeld, Leases, LeaseState, RunLease, held_past_bound, lease_name, new_holder
from .mirror import JournalSettings
from .retention import prune
from ..undo_ops import OPERATOR_NOTE, content_of, guard_content, guard_undo, left_note, lookup, needs_exec

log = logging.getLogger(__name__)

DEFAULT_GRACE = 30.0
DEFAULT_INTERVAL = 5.0
RETRIED_STATES = ("pending", "failed")
REPORT_EVERY = 600.0  # a Lease held past its bound is reported again after this many seconds


def due_runs(entries: list[Entry], leases: list[LeaseState], trusted, grace: float, now: float | None = None
             ) -> list[tuple[str, LeaseState | None]]:
    """Runs with steps left (by their trusted state) whose Lease expired more than ``grace``
    seconds ago, or that have no Lease and whose newest entry is older than ``grace``."""
    now = time.time() if now is None else now
    newest: dict[str, float] = {}
    for e in entries:
        if e.run_id and trusted_state(e, trusted) in RETRIED_STATES:
            newest[e.run_id] = max(newest.get(e.run_id, 0.0), e.created_at if e.created_at is not None else now)
    by_name = {lease.name: lease for lease in leases}
    due = []
    for run_id in sorted(newest):
        lease = by_name.get(lease_name(run_id))
        if lease is None:
            if now - newest[run_id] >= grace:
                due.append((run_id, None))
        elif lease.holder and lease.expired_for(now) >= grace:
            due.append((run_id, lease))
    return due


def over_held(entries: list[Entry], leases: list[LeaseState], settings, trusted,
              now: float | None = None) -> list[tuple[LeaseState, float]]:
    """The Leases of runs with steps left that a live holder keeps past their bound."""
    waiting = {lease_name(e.run_id) for e in entries if e.run_id and trusted_state(e, trusted) in RETRIED_STATES}
    out = []
    for lease in leases:
        over = held_past_bound(lease, settings, now) if lease.name in waiting else None
        if over is not None:
            out.append((lease, over))
    return out


class Guard:
    """Reports what it does as events (``events.py``) to ``on_event``: a takeover, each step's
    outcome (RollbackFromJournal), a run left to whoever holds its Lease, a Lease held past its
    bound, an idle pass, the journal out of reach, and the executor's retries.

    ``trusted`` (signing.TrustedKeys): the keys whose entries and states it accepts; ``signer``:
    its own key, which signs the states it records (trusted for states too)."""

    def __init__(self, api_client, settings: JournalSettings, identity, *, trusted, signer=None,
                 grace: float = DEFAULT_GRACE, audit=None, on_event: Callable[[Event], None] | None = None,
                 retry_deadline: float = 60.0, holder: str | None = None,
                 read_halt: Callable[[], str | None] | None = None):
        self.api_client = api_client
        self.settings = settings
        self.identity = identity
        self.trusted = trusted
        self.grace = grace
        self.audit = audit
        self.on_event = on_event or (lambda _e: None)
        self.holder = holder or new_holder("guard")
        self.journal = Journal(api_client, settings.namespace, identity, signer=signer)
        self.leases = Leases(api_client, settings.namespace)
        self.executor = Executor(lambda: api_client, retry_deadline=retry_deadline, on_event=self.on_event)
        self._idle = False  # "nothing due" is said when the guard becomes idle, not every pass
        self._reported: dict[tuple[str, str], float] = {}  # (lease, holder) -> when last reported
        self._halt_said = ""  # the cluster's halt as last said: it stops runs, not the guard
        # What the cluster's halt says now ("" none, None when unreadable): the guard command
        # passes halt.py's reader, so the journal's room imports nothing of the halt record above it.
        self.read_halt = read_halt

    def once(self) -> list[RollbackFromJournal]:
        """Handle every run that is due now; the outcome of each step it ran or refused, in order."""
        entries, leases = self.journal.entries(), self.leases.list()
        self._look_at_halt()
        for lease, over in over_held(entries, leases, self.settings, self.trusted):
            self._report_over_held(lease, over)
        due = due_runs(entries, leases, self.trusted, self.grace)
        if not due and not self._idle:
            self.on_event(GuardIdle())
        self._idle = not due
        done: list[RollbackFromJournal] = []
        for run_id, lease in due:
            done.extend(self.roll_back(run_id, lease, lease_existed=lease is not None))
        try:
            prune(self.journal, self.settings.retention, self.trusted)
        except JournalError as exc:  # no delete right, API server away: the next pass tries again
            log.warning("%s", exc)
        return done

    def _look_at_halt(self) -> None:
        """Say a halt once when it comes and when it goes; the pass goes on either way."""
        said = self.read_halt() if self.read_halt is not None else None
        if said is not None and said != self._halt_said:
            self._halt_said = said
            self.on_event(GuardSeesHalt(said))

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
            entries = sorted((e for e in self.journal.entries(run_id)
                              if trusted_state(e, self.trusted) in RETRIED_STATES),
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

    def _run(self, entry: Entry) -> tuple[str, str | None]:
        """Run a verified entry's operation: ``(status, error)``."""
        content, left = guard_content(content_of(entry.content))
        fn = guard_undo(entry.op, content) if needs_exec(entry.op) else lookup(entry.op)
        if fn is None:
            return "operator", OPERATOR_NOTE
        error, _attempts = self.executor.run_callable(Path(entry.file), fn, content)
        if error is not None:
            return "failed", error
        return ("partial", left_note(left)) if left else ("executed", None)

    def _step(self, entry: Entry, lease: RunLease) -> RollbackFromJournal:
        started = time.monotonic()
        reason = refusal(entry, self.trusted, self.identity)
        status, error = ("refused", reason) if reason else self._run(entry)
        outcome = RollbackFromJournal(JournalState(status), f"{self.settings.namespace}/{entry.name}", entry.file or "?",
                                      self.holder, error, round(time.monotonic() - started, 3),
                                      run_id=entry.run_id)
        notes = []
        try:
            self.journal.set_entry_state(entry, status, by=self.holder, error=error)
        except JournalError as exc:
            notes.append(str(exc))
        self._record(outcome, entry, lease, notes)
        if notes:  # said with the outcome; the audit line and the Event keep the step's own error
            outcome = replace(outcome, error="; ".join(filter(None, [error, *notes])))
        self.on_event(outcome)
        return outcome

    def _report_over_held(self, lease: LeaseState, over: float) -> None:
        key, now = (lease.name, lease.holder), time.monotonic()
        if now - self._reported.get(key, -REPORT_EVERY) < REPORT_EVERY:
            return
        self._reported[key] = now
        said = LeaseHeldPastBound(lease.holder, round(over), run_id=lease.run_id)
        self.on_event(said)
        if self.audit is not None:
            try:
                self.audit.record(said)
            except OSError as exc:
                log.warning("cannot write the audit log: %s", exc.strerror or exc)
        message = (f"lease {lease.name} still renewed by {lease.holder} {over:.0f}s past its bound; "
                   "the run's rollback is blocked")
        try:
            self._post_event(lease.name, lease.body, "LeaseHeldPastBound", message, "Warning")
        except Exception as exc:
            log.warning("cannot record the Event on the lease: %s", error_line(exc))

    def _record(self, outcome: RollbackFromJournal, entry: Entry, lease: RunLease, notes: list[str]) -> None:
        if self.audit is not None:
            try:
                self.audit.record(outcome)
            except OSError as exc:
                notes.append(f"cannot write the audit log: {exc.strerror or exc}")
        try:
            self._event(outcome, entry, lease)
        except Exception as exc:  # the step is done and recorded in the journal already
            notes.append(f"cannot record the Event on the lease: {error_line(exc)}")

    def _event(self, outcome: RollbackFromJournal, entry: Entry, lease: RunLease) -> None:
        status = outcome.status
        reason = {"executed": "RollbackExecuted", "partial": "RollbackPartial", "operator": "RollbackLeftToOperator",
                  "failed": "RollbackFailed"}.get(status, "RollbackRefused")
        message = f"{entry.file or '?'} ({entry.name}) {status}" + (f": {outcome.error}" if outcome.error else "")
        self._post_event(lease.name, lease.state.body if lease.state else {}, reason, message,
                         "Normal" if status == "executed" else "Warning")

    def _post_event(self, name: str, lease_body: dict, reason: str, message: str, kind: str) -> None:
        from kubernetes import client

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        uid = (lease_body.get("metadata") or {}).get("uid")
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": self.settings.namespace},
            "involvedObject": {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "name": name,
                               "namespace": self.settings.namespace, **({"uid": uid} if uid else {})},
            "reason": reason, "message": message[:1000], "type": kind,
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
