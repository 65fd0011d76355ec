"""Per-run registry: scenario plugins register a rollback step before each cluster change."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Callable

from ..events import Event, RollbackRegistered
from .content import RollbackContent
from .meta import VersionMeta
from ..fsio import ensure_private_dir
from .naming import (
    check_run_uuid,
    new_suffix,
    next_time_ns,
    run_dir_name,
    version_file_name,
)
from .undo_ops import registered_op
from .writer import render_version_file, write_version_file

log = logging.getLogger(__name__)


def _checked_line(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
        raise ValueError(f"{field} must be a non-empty single-line string, got {value!r}")
    return value


class RunRollback:
    """The rollback steps of one run, in ``<versions_dir>/<run_time_ns>-<run_uuid>/``.

    The run directory is created with the first registration, so a run that changed nothing
    leaves nothing behind.
    """

    def __init__(
        self,
        versions_dir: Path,
        run_uuid: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        mirror=None,
        identity: Callable[[], object] | None = None,
    ):
        self._versions_dir = Path(versions_dir).expanduser()
        self._run_uuid = run_uuid or str(uuid.uuid4())
        check_run_uuid(self._run_uuid)
        # From the same strictly increasing clock as the files: runs never tie, and a run's
        # time is below its steps'.
        self._run_time_ns = next_time_ns()
        self._run_id = run_dir_name(self._run_time_ns, self._run_uuid)
        self._on_event = on_event
        # The cluster journal (rollback.journal.mirror.RunMirror), or None when it is off.
        self.mirror = mirror
        # The cluster the steps change (kube.identity.ClusterIdentity), recorded in every file so
        # that no executor runs it against another cluster; asked for at each registration.
        self._identity = identity
        self._lock = threading.Lock()
        self._registered: list[Path] = []

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def run_uuid(self) -> str:
        return self._run_uuid

    @property
    def versions_dir(self) -> Path:
        return self._versions_dir

    @property
    def run_dir(self) -> Path:
        return self._versions_dir / self._run_id

    @property
    def registered(self) -> tuple[Path, ...]:
        """Version files written by this registry, oldest first."""
        with self._lock:
            return tuple(self._registered)

    def set_rollback_callable(
        self,
        fn: Callable,
        content: RollbackContent,
        *,
        scenario_type: str,
        verb: str,
        kind: str,
    ) -> Path:
        """Write the version file for ``fn(content, api_client)``; return its path once durable.

        Call it BEFORE changing the cluster: when it returns, the file is renamed into place,
        the directory and the manifest line are fsynced, so a crash right after still leaves a
        runnable step, and the step is in the cluster journal when one is on. Both come from
        the same ``fn`` and ``content``: the file holds its code (krkn's format), the journal
        entry its name as an undo operation of ``scenario_type`` and the content (its data twin,
        ``rollback/journal/entry.py``). Raises ValueError for a callable or content that cannot be
        stored (with the journal on, also for a callable that is not one of the plugin's undo
        operations), JournalError when the journal cannot take the step (the file stays on
        disk; the caller must not change the cluster).
        """
        _checked_line(verb, "verb")
        _checked_line(kind, "kind")
        op = registered_op(scenario_type, fn) if self.mirror is not None else None
        with self._lock:
            created_ns = next_time_ns()
            meta = VersionMeta(run_id=self._run_id, scenario_type=scenario_type, created_ns=created_ns, verb=verb,
                               kind=kind, namespace=content.namespace, name=content.resource_identifier,
                               callable=getattr(fn, "__name__", None),
                               cluster=self._identity() if self._identity is not None else None)
            name = version_file_name(scenario_type, created_ns, new_suffix())
            text = render_version_file(fn, content, meta)
            ensure_private_dir(self._versions_dir)
            ensure_private_dir(self.run_dir)
            path = write_version_file(self.run_dir, name, text, created_ns)
            self._registered.append(path)
            if self.mirror is not None:
                self.mirror.step_written(path, op=op, scenario_type=scenario_type, created_ns=created_ns,
                                         content=content)
        self._emit(RollbackRegistered(str(path), scenario_type, verb, kind, content.namespace,
                                      content.resource_identifier, run_id=self._run_id))
        return path

    def _emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # the step is already durable; a broken audit sink must not undo that
            log.exception("rollback event handler failed")
