"""The rollback wing's one door (as Alembic's ``command`` module is its CLI's): what the command
line, the console and the guard command use, for local version folders and the cluster journal
alike: listing, showing, executing, archiving, leases, reveals.

Clients import from here (and from ``krkn_tui.events``), never from the wing's other modules,
so the wing can be rearranged behind this page. The heavy parts (the executor, the journal, the
kubernetes client behind them) load on first use: the console's first frame needs only the
listing side.

Here too, the two rules every client shares: ``summarize`` counts a finished rollback's steps
(done, failed, left) once for the CLI, the run panel and the versions view; ``journal_step``
makes a journal entry with no file here a listing row that says so in its fields (``Origin.CLUSTER``,
its entry name and host), never in a made-up path.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol

from ..lazy import lazy_names
from ..statuses import JournalState, StepStatus, VersionStatus

if TYPE_CHECKING:  # what the lazy names below are, for readers and the type checker
    from .journal.entry import refusal, shown_state
    from .content import RollbackContent
    from .executor import Executor, StepResult
    from .folder_trust import FolderTrust, trust_note
    from .journal.guard import Guard
    from .registry import RunRollback
    from .journal.entries import Entry, Journal, JournalError
    from .journal.settings import JournalSettings
    from .journal.lease import LeaseState, held_past_bound, lease_name, leases_by_name
    from .naming import DEFAULT_VERSIONS_DIR, parse_run_dir_name, pending_name, resolve_run
    from .redact import ShownSource, shown_source
    from .retry import GaveUp, retry_until, short_reason
    from .service import RollbackService, api_client_factory
    from .target import RollbackTarget, config_path_notes, config_paths_used, resolve_target
    from .signing import SigningError, TrustedKeys, load_or_create, local_trust
    from .source_text import UnsafeSource, shown_unsafe
    from .undo_ops import install_ops_loader
    from .store import (EXECUTABLE, MAX_VERSION_BYTES, VersionInfo, VersionLister, list_versions, read_bytes_safely,
                        read_version)

_WHERE = {
    "refusal": ".journal.entry", "shown_state": ".journal.entry",
    "RollbackContent": ".content",
    "Executor": ".executor", "StepResult": ".executor",
    "RunRollback": ".registry",
    "FolderTrust": ".folder_trust", "trust_note": ".folder_trust",
    "Guard": ".journal.guard",
    "Entry": ".journal.entries", "Journal": ".journal.entries", "JournalError": ".journal.entries", "leases_by_name": ".journal.lease",
    "JournalSettings": ".journal.settings",
    "LeaseState": ".journal.lease", "held_past_bound": ".journal.lease", "lease_name": ".journal.lease",
    "DEFAULT_VERSIONS_DIR": ".naming", "parse_run_dir_name": ".naming", "pending_name": ".naming", "resolve_run": ".naming",
    "ShownSource": ".redact", "shown_source": ".redact",
    "GaveUp": ".retry", "retry_until": ".retry", "short_reason": ".retry",
    "EXECUTABLE": ".store", "RollbackService": ".service", "RollbackTarget": ".target",
    "api_client_factory": ".service", "config_path_notes": ".target", "config_paths_used": ".target",
    "resolve_target": ".target",
    "SigningError": ".signing", "TrustedKeys": ".signing", "load_or_create": ".signing", "local_trust": ".signing",
    "UnsafeSource": ".source_text", "shown_unsafe": ".source_text",
    "install_ops_loader": ".undo_ops",
    "MAX_VERSION_BYTES": ".store", "VersionInfo": ".store", "VersionLister": ".store",
    "list_versions": ".store", "read_bytes_safely": ".store", "read_version": ".store",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE)


class Origin(StrEnum):
    """Who wrote a listed step: krkn-tui (signed, runs in-process), krkn (foreign), or a journal
    entry of the cluster with no file here (another machine's run: shown, not acted on)."""

    KRKN_TUI = "krkn-tui"
    KRKN = "krkn"
    CLUSTER = "cluster"


# -- one count of "done" ----------------------------------------------------------------------


class _Outcome(Protocol):
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Tally:
    """A finished rollback counted once: ``done`` (executed here, or verifiably elsewhere),
    ``failed`` (failed or refused: still in force), ``left`` (skipped and not known undone: held
    by another executor or a Lease holder, archived or replaced meanwhile), ``would_run`` (a dry
    run's)."""

    done: int = 0
    failed: int = 0
    left: int = 0
    would_run: int = 0

    @property
    def steps(self) -> int:
        return self.done + self.failed + self.left + self.would_run

    def text(self) -> str:
        """``2 done, 1 failed, 1 not run here``: the words every client prints (a zero is left out, but done)."""
        parts = [f"{self.done} done"]
        parts += [f"{n} {word}" for n, word in ((self.failed, "failed"), (self.left, "not run here"),
                                                 (self.would_run, "would run")) if n]
        return ", ".join(parts)


def summarize(steps: Iterable[_Outcome]) -> Tally:
    """Count ``steps`` (executor StepResults or the events' StepRecords): a skip is done only
    when the step says it is ``undone``."""
    done = failed = left = would_run = 0
    for step in steps:
        status = step.status
        if status == StepStatus.EXECUTED:
            done += 1
        elif status == StepStatus.SKIPPED:
            if getattr(step, "undone", False):
                done += 1
            else:
                left += 1
        elif status == StepStatus.WOULD_RUN:
            would_run += 1
        else:
            failed += 1
    return Tally(done, failed, left, would_run)


# -- the cluster journal as listing rows --------------------------------------------------------


def journal_step(entry: Entry, shown: str | None = None) -> VersionInfo:
    """A journal entry that has no file here, as a listing row: the undo operation it names and
    its target, its state in the journal (``shown``: as the listing shows it, e.g. unverified),
    the entry's name and the host it came from. Its ``path`` is the file's name on that host,
    never opened here."""
    from ..kube.identity import ClusterIdentity
    from .naming import parse_run_dir_name, parse_version_name
    from .store import VersionInfo

    run = parse_run_dir_name(entry.run_id) or (None, entry.run_id)
    parsed = parse_version_name(entry.file)
    content = entry.content

    def text(key: str) -> str | None:
        value = content.get(key)
        return value if isinstance(value, str) else None

    try:
        cluster = ClusterIdentity.from_dict((entry.payload or {}).get("cluster"))
    except ValueError:  # shown as unknown; a guard refuses such an entry
        cluster = None
    return VersionInfo(
        path=Path(Path(entry.file).name or entry.name), run_dir=entry.run_id, run_id=entry.run_id,
        run_uuid=run[1], run_time_ns=run[0], created_ns=entry.created_ns, scenario_type=entry.scenario_type,
        suffix=parsed[2] if parsed else "", status=_journal_status(shown or entry.state),
        origin=Origin.CLUSTER, verb=entry.op.rpartition(".")[2], kind="",
        namespace=text("namespace"), name=text("resource_identifier"), error=entry.error, cluster=cluster,
        journal_entry=entry.name, host=entry.origin_host or "?")


def _journal_status(state: str | None) -> Any:
    """The journal's state as a row's status: a JournalState, or the listing's own words for one
    it does not vouch for (``executed (unverified)``) or does not know (``?``)."""
    try:
        return JournalState(state or "")
    except ValueError:
        return state or "?"


__all__ = [
    "DEFAULT_VERSIONS_DIR",
    "EXECUTABLE",
    "Entry",
    "Executor",
    "FolderTrust",
    "GaveUp",
    "Guard",
    "Journal",
    "JournalError",
    "JournalSettings",
    "JournalState",
    "LeaseState",
    "MAX_VERSION_BYTES",
    "Origin",
    "RollbackContent",
    "RollbackService",
    "RollbackTarget",
    "RunRollback",
    "ShownSource",
    "SigningError",
    "StepResult",
    "StepStatus",
    "Tally",
    "TrustedKeys",
    "UnsafeSource",
    "VersionInfo",
    "VersionLister",
    "VersionStatus",
    "api_client_factory",
    "config_path_notes",
    "config_paths_used",
    "held_past_bound",
    "install_ops_loader",
    "journal_step",
    "lease_name",
    "leases_by_name",
    "list_versions",
    "load_or_create",
    "local_trust",
    "parse_run_dir_name",
    "pending_name",
    "read_bytes_safely",
    "read_version",
    "refusal",
    "resolve_run",
    "resolve_target",
    "retry_until",
    "short_reason",
    "shown_source",
    "shown_state",
    "shown_unsafe",
    "summarize",
    "trust_note",
]
