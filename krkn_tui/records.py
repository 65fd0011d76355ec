"""What a run leaves besides version files: a JSON report per run and an append-only JSONL
audit log of every change made to the cluster and every rollback executed.

Both sit beside the versions folder: ``<versions_dir>-reports/<run_id>.json`` and
``<versions_dir>-audit.jsonl``, so a custom versions folder keeps its history with it."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from .errors import UserError
from .events import (
    CheckAborted,
    ClusterChange,
    Event,
    RollbackArchived,
    RollbackClusterForced,
    RollbackExecuted,
    RollbackExecutedElsewhere,
    RollbackFailed,
    JournalNotUpdated,
    JournalStateDistrusted,
    LeaseHeldPastBound,
    RollbackFromJournal,
    RunHalted,
    RollbackRefused,
    RollbackRegistered,
    RollbackStarted,
    RunFinished,
    RunLeftAlone,
    RunStarted,
    SecretsRevealed,
    StaleTempRemoved,
)
from .fsio import ensure_private_dir, open_private

log = logging.getLogger(__name__)

# What the audit log keeps: every change to the cluster, every rollback step, the run's bounds,
# a check that stopped a run (why its rollback happened), and who was shown captured Secret values.
AUDITED = (CheckAborted, RunHalted, ClusterChange, RollbackRegistered, RollbackStarted, RollbackExecuted, RollbackFailed,
           RollbackRefused, RollbackArchived, StaleTempRemoved, RollbackExecutedElsewhere, RollbackClusterForced,
           RollbackFromJournal, RunLeftAlone, JournalNotUpdated, RunStarted, RunFinished, SecretsRevealed,
           JournalStateDistrusted, LeaseHeldPastBound)


def reports_dir(versions_dir: Path) -> Path:
    return versions_dir.with_name(versions_dir.name + "-reports")


def audit_path(versions_dir: Path) -> Path:
    return versions_dir.with_name(versions_dir.name + "-audit.jsonl")


# The versions folder may sit in a folder others can write to: what lies beside it may have been
# planted (a symlink named like our temp file, a 0666 audit log of someone else). So the reports
# folder is ours and private (0700 whatever the umask), the audit log a regular file of ours that
# no one else can write (created 0600), both opened without following links; anything else is
# refused in one line and nothing is written.


def _private_parent(path: Path) -> None:
    """Missing parents of ``path`` are created 0700 (``mkdir(parents=True)`` made them 0777 under
    umask 000); an existing parent is left as it is, as for the versions folder itself."""
    if not os.path.lexists(path.parent):
        ensure_private_dir(path.parent)


def _open_audit(path: Path) -> int:
    _private_parent(path)
    return open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def _refusal(what: str, path: Path, exc: OSError) -> UserError:
    reason = str(exc) if not exc.strerror else f"{exc.strerror}"
    return UserError(f"{what} refused: {reason}; nothing written", file=path)


class AuditLog:
    def __init__(self, path: Path, run_id: str):
        self.path = Path(path)
        self.run_id = run_id
        self.refused: str | None = None  # once refused, nothing more is written (said once)
        self._lock = threading.Lock()

    def check(self) -> None:
        """Before anything is done that must be audited: UserError if the log cannot be ours."""
        try:
            os.close(_open_audit(self.path))
        except OSError as exc:
            raise _refusal("audit log", self.path, exc) from None

    def record(self, event: Event) -> None:
        if not isinstance(event, AUDITED):
            return
        line = json.dumps({"time": time.time(), "run_id": self.run_id, **event.record()}, default=str) + "\n"
        with self._lock:
            if self.refused:
                return
            try:
                fd = _open_audit(self.path)
            except OSError as exc:  # planted since the check: say it once, never write there
                self.refused = str(_refusal("audit log", self.path, exc))
                log.warning("%s", self.refused)
                return
            try:
                os.write(fd, line.encode())  # one write of one line: O_APPEND keeps lines whole
                os.fsync(fd)
            finally:
                os.close(fd)


def check_reports(versions_dir: Path) -> None:
    """The reports folder exists, is ours and private, or UserError (before a run starts)."""
    folder = reports_dir(versions_dir)
    try:
        ensure_private_dir(folder)
    except OSError as exc:
        raise _refusal("reports folder", folder, exc) from None
