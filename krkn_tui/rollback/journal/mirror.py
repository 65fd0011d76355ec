"""How runs and executors use the cluster journal and the run Leases.

- ``RunMirror``: the running chaos run. The first step takes the run's Lease (renewed while the
  run lives) and creates the journal namespace if needed; every step is then mirrored (its data
  twin, signed: ``entry.py``) after its version file is durable and before the cluster
  is changed. ``close()`` releases the Lease.
- ``JournalLinks``: what an executor (the run's own, or ``execute-rollback``) asks before and
  tells after each step of a journaled run: it holds the run's Lease, skips a step a guard has
  verifiably executed from the journal (its state signed by a trusted key; anything else runs),
  records executed/failed/archived (signed) after the local rename, and deletes the entries of a
  run whose steps are all archived once the retention has passed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from ...sanitize import one_line
from .entries import Journal, JournalError
from .settings import JournalSettings
from .lease import LeaseHeld, RunLease, lease_name, new_holder
from .retention import prune

log = logging.getLogger(__name__)


class JournalLinks:
    """The journal seen by one executor, for any number of runs. Runs with no Lease in the
    cluster were not journaled (or the journal was off): their steps run as before."""

    def __init__(self, journal: Journal, settings: JournalSettings, holder: str | None = None, trusted=None):
        self.journal = journal
        self.settings = settings
        self._trusted = trusted  # signing.TrustedKeys; the local executor's (signing.local_trust) when None
        self.holder = holder or new_holder("execute")
        self.leases: dict[str, RunLease] = {}
        self.blocked: dict[str, str] = {}  # run id -> why this executor must leave its steps alone
        self.owned: set[str] = set()  # runs whose Lease this executor held from their start
        self._lock = threading.Lock()

    def hold(self, lease: RunLease) -> None:
        """The run's own Lease, held since before its first step: while it is not lost nobody
        else can have run one of its steps, so they are run without asking the journal (which
        also keeps a run restoring its change while the API server is away)."""
        self.leases[lease.run_id] = lease
        self.owned.add(lease.run_id)

    def take(self, run_ids) -> None:
        """Take the Lease of every journaled run among ``run_ids``; a run someone alive holds is
        blocked (its steps are skipped, saying who holds it)."""
        for run_id in sorted(set(run_ids)):
            if run_id in self.leases or run_id in self.blocked:
                continue
            lease = RunLease(self.journal.api_client, self.journal.namespace, run_id, holder=self.holder,
                             duration=self.settings.lease_duration, renew_every=self.settings.renew_every)
            if lease.leases.get(lease.name) is None:
                continue  # not journaled
            try:
                lease.acquire()
            except LeaseHeld as exc:
                self.blocked[run_id] = str(exc)
                continue
            lease.start_renewing()
            self.leases[run_id] = lease

    def release(self) -> None:
        for lease in self.leases.values():
            try:
                lease.release()
            except JournalError as exc:
                log.warning("%s", exc)

    @property
    def trusted(self):
        if self._trusted is None:
            from ..signing import local_trust

            self._trusted = local_trust(self.journal.signer)
        return self._trusted

    def journaled(self, run_id: str) -> bool:
        return run_id in self.leases or run_id in self.blocked

    def before_run(self, path: Path) -> tuple[str, str] | None:
        """``("skipped", why)`` to leave the step alone (``"refused"`` when this executor's own
        run lost its Lease), ``("done", why)`` when a guard verifiably executed it from the
        journal (the caller marks it executed locally), ``("distrusted", why)`` when the journal
        says executed without a signature this executor trusts (the caller runs it and says
        so), or None to run it. A ``partial`` restore (objects left to the operator) runs here."""
        run_id = path.parent.name
        if run_id in self.blocked:
            return "skipped", self.blocked[run_id]
        lease = self.leases.get(run_id)
        if lease is None:
            return None
        if lease.lost_to is not None:  # refused, not skipped: the run must not archive it as done
            return "refused", f"the lease of run {run_id} was taken by {lease.lost_to}"
        if run_id in self.owned:
            return None
        # A JournalError propagates: the executor retries an unreachable API server like any
        # step, and otherwise refuses the step, which stays pending (never "skipped": a run
        # would then archive a step that never ran).
        entry = self.journal.entry_for(run_id, path.name)
        if entry is None or entry.state != "executed":
            return None
        from .entry import state_refusal

        why = state_refusal(entry, self.trusted)
        if why is not None:
            return "distrusted", f"the cluster journal says executed, but {why}"
        return "done", f"already executed from the cluster journal by {entry.state_by or 'someone else'}"

    def after(self, path: Path, state: str, error: str | None = None) -> str | None:
        """Record the step's new state, signed; after an archive, delete the run's entries
        when all are archived and the retention has passed. A one-line note when the journal
        could not be updated."""
        run_id = path.parent.name
        if not self.journaled(run_id):
            return None
        try:
            self.journal.set_state(run_id, path.name, state, by=self.holder, error=error)
            if state == "archived":
                prune(self.journal, self.settings.retention, self.trusted, run_id=run_id)
        except JournalError as exc:
            return str(exc)
        return None


class RunMirror:
    """The journal and Lease of one running chaos run."""

    def __init__(self, api_client_factory: Callable[[], object], settings: JournalSettings, run_id: str,
                 identity_factory: Callable[[object], object], *, signer=None, planned_end: float | None = None):
        self.settings = settings
        self.signer = signer  # the operator's key (signing.load_or_create) when None
        self.planned_end = planned_end  # epoch seconds, recorded on the Lease when known
        self.run_id = run_id
        self._client_factory = api_client_factory
        self._identity_factory = identity_factory
        self._lock = threading.Lock()
        self.journal: Journal | None = None
        self.lease: RunLease | None = None
        self.links: JournalLinks | None = None
        self.holder = new_holder("run")

    @property
    def lease_name(self) -> str:
        return lease_name(self.run_id)

    def _start(self) -> None:
        """The first step: identity, namespace, Lease. Raises JournalError."""
        client = self._client_factory()
        try:
            identity = self._identity_factory(client)
        except Exception as exc:
            raise JournalError(f"cannot read the cluster's identity: {one_line(exc)[:200]}") from None
        if not getattr(identity, "kube_system_uid", ""):  # a guard refuses an entry without it
            raise JournalError("cannot read the cluster's kube-system UID (RBAC?); the journal needs it to bind "
                               "its entries to this cluster")
        journal = Journal(client, self.settings.namespace, identity, signer=self.signer)
        _ = journal.signer  # the key is loaded (or made) before anything is written
        journal.ensure_namespace()
        lease = RunLease(client, self.settings.namespace, self.run_id, holder=self.holder,
                         duration=self.settings.lease_duration, renew_every=self.settings.renew_every,
                         planned_end=self.planned_end)
        lease.acquire()
        lease.start_renewing()
        links = JournalLinks(journal, self.settings, holder=self.holder)
        links.hold(lease)
        self.journal, self.lease, self.links = journal, lease, links

    def step_written(self, path: Path, *, op: str, scenario_type: str, created_ns: int, content) -> None:
        """Mirror one durable version file as its data twin (``op``: its undo operation,
        ``content``: its RollbackContent). Raises JournalError: the caller must not change the
        cluster then."""
        from .entry import build_payload

        with self._lock:
            if self.journal is None:
                self._start()
            if self.lease.lost_to is not None:
                raise JournalError(f"the run's lease {self.settings.namespace}/{self.lease.name} was taken by "
                                   f"{self.lease.lost_to}; no further change is made")
            payload = build_payload(op=op, run_id=self.run_id, file=path.name, scenario_type=scenario_type,
                                    created_ns=created_ns, cluster=self.journal.identity, content=content,
                                    signer_id=self.journal.signer.key_id)
            self.journal.record(payload, self.run_id, path.name)

    # The executor's journal hooks (see JournalLinks); nothing to do before the first step.
    def before_run(self, path: Path) -> tuple[str, str] | None:
        return None if self.links is None else self.links.before_run(path)

    def after(self, path: Path, state: str, error: str | None = None) -> str | None:
        return None if self.links is None else self.links.after(path, state, error)

    def close(self) -> None:
        """The run ended normally: release its Lease (its steps, if any are left, stay pending)."""
        with self._lock:
            if self.lease is not None:
                try:
                    self.lease.release()
                except JournalError as exc:
                    log.warning("%s", exc)
