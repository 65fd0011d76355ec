"""The one rollback service every client uses: the engine, the command line and the console.

It owns the rules about version files that are not about writing them: which cluster and which
folder (``resolve_target``, from ``rollback.target``), which steps a request means (``select``),
executing them (``execute``), moving them to the archive (``archive``), the audit log, removing
the temp files of writers that died, and the foreign-file policy. A client only decides what to ask and how to
show the answer.

Audit: every step executed, failed, refused or archived, whoever asked, is one line of
``<versions_dir>-audit.jsonl`` (``records.AuditLog``), written before the client hears of it;
so is every reveal of a step's captured Secret values (``shown_source``), before they are shown.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import UserError
from ..events import Event, JournalNotUpdated, RollbackArchived, RunLeftAlone, SecretsRevealed, StaleTempRemoved
from ..records import AuditLog, reports_dir
from .archive import archive as _archive
from ..fsio import remove_stale_temps
from .naming import archive_dir_for, parse_run_dir_name, resolve_run
from .store import EXECUTABLE
from .target import RollbackTarget, config_path_notes, config_paths_used, resolve_target

__all__ = ["EXECUTABLE", "RollbackService", "RollbackTarget", "api_client_factory", "config_path_notes",
           "config_paths_used", "resolve_target"]


def api_client_factory(kubeconfig: str | None, context: str | None) -> Callable[[], Any]:
    """A factory building an API client for that kubeconfig and context (no request made)."""

    def factory():
        from ..kube.client import load_api_client

        return load_api_client(kubeconfig, context)

    return factory


def _run_names(folder: Path) -> set[str]:
    try:
        return {n for n in os.listdir(folder) if parse_run_dir_name(n)}
    except OSError:
        return set()


class RollbackService:
    """Select, execute and archive the steps of one versions folder, auditing each.

    ``api_client_factory`` is called once per ``execute`` (the executor shares that client among
    its steps). ``audit`` is where steps are recorded (None: not recorded, for dry runs).
    ``on_event`` receives the executor's events (``krkn_tui.events``) after they are audited.
    ``allow_foreign`` lets foreign files run (krkn's own, and ours not signed by a trusted key), as
    ``python FILE`` with ``python``; ``trust_keys`` are public key lines trusted beside the user's own
    key and trusted-keys file (``folder_trust``).
    ``journal`` (rollback.journal.mirror) is consulted by the executor for runs mirrored in the cluster."""

    def __init__(self, versions_dir: Path, api_client_factory: Callable[[], Any] | None = None, *,
                 audit: AuditLog | None = None, allow_foreign: bool = False, python: str = sys.executable,
                 kubeconfig: str | None = None, context: str | None = None, retry_deadline: float = 60.0,
                 on_event: Callable[[Event], None] | None = None, journal: Any = None,
                 journal_settings: Any = None,
                 cluster_identity: Callable[[], Any] | None = None, force_cluster: bool = False,
                 trust_keys: Iterable[str] = ()):
        self.versions_dir = Path(versions_dir).expanduser()
        self.api_client_factory = api_client_factory
        self.audit = audit
        self.allow_foreign = allow_foreign
        self.python = python
        self.kubeconfig, self.context = kubeconfig, context
        self.retry_deadline = retry_deadline
        self.on_event = on_event
        self.journal = journal  # rollback.journal.mirror links of journaled runs: asked before a step, told after
        self._audit_checked = False
        # rollback.journal.mirror.JournalSettings: without ``journal``, each request takes the Leases of the
        # journaled runs it touches (and releases them after), so no guard runs the same steps.
        self.journal_settings = journal_settings
        # signing.TrustedKeys whose journal states it believes (signing.local_trust when None).
        self.journal_trust = None
        # Cluster pinning: a step recorded for another cluster than the connected one (read with
        # ``cluster_identity``, or from the client) is refused unless ``force_cluster`` (audited).
        self.cluster_identity = cluster_identity
        self.force_cluster = force_cluster
        self.trust_keys = tuple(trust_keys)
        self._trust = None

    @classmethod
    def for_target(cls, target: RollbackTarget, *, client: str, api_client_factory: Callable[[], Any] | None = None,
                   **options: Any) -> "RollbackService":
        """The service for a resolved target, auditing under the name of the ``client`` that acts
        (``execute-rollback``, ``console``...)."""
        return cls(target.versions_dir,
                   api_client_factory or api_client_factory_for(target),
                   audit=AuditLog(target.audit_path, run_id=client),
                   kubeconfig=target.kubeconfig, context=target.context, **options)

    @property
    def archive_dir(self) -> Path:
        return archive_dir_for(self.versions_dir)

    # -- auditing -----------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        """Append ``event`` to the audit log (only the kinds ``records.AUDITED`` names)."""
        if self.audit is not None:
            self.audit.record(event)

    def check_audit(self) -> None:
        """UserError, before anything is done, if the audit log is not a private file of ours.

        Checked once per service: a rollback in the middle of a run must never be stopped by a
        log planted since (the log then refuses to be written, and says so once)."""
        if self.audit is not None and not self._audit_checked:
            self.audit.check()
            self._audit_checked = True

    def _step_event(self, event: Event) -> None:
        self.record(event)
        if self.on_event is not None:
            self.on_event(event)

    # -- showing ------------------------------------------------------------------------------

    def shown_source(self, raw: bytes, file: str | os.PathLike, *, reveal: bool = False):
        """A version file's bytes (read by the caller with ``store.read_bytes_safely``) as a
        person may see them: ``redact.shown_source``, the one masking rule. Values that are
        revealed are audited first (``secrets_revealed``: the file and how many, never the
        values); when the audit log cannot take that line, UserError and nothing is revealed.
        ``UnsafeSource`` when the file breaks the text rule."""
        from .redact import shown_source

        shown = shown_source(raw, reveal=reveal)
        if shown.revealed:
            if self.audit is None:
                raise UserError("revealing Secret values is audited, and there is no audit log here", file=file)
            self.check_audit()
            try:
                self.record(SecretsRevealed(str(file), count=shown.secrets))
            except OSError as exc:  # a full disk: no line, no reveal
                raise UserError(f"cannot write the audit log: {exc.strerror or exc}; Secret values not revealed",
                                file=file) from None
            if self.audit.refused:  # planted since the check: the line was not written
                raise UserError(f"{self.audit.refused}; Secret values not revealed", file=file)
        return shown

    # -- selecting ----------------------------------------------------------------------------

    def select(self, *, run: str | None = None, scenario_type: str | None = None, files: Iterable[Path] = (),
               statuses: Iterable[str] | None = None, include_archived: bool = False,
               require: bool = False) -> list:
        """The steps a request names, oldest first, keeping only ``statuses`` (None: all).

        Explicit ``files`` win over ``run``/``scenario_type``. A run or type that matches nothing
        is a UserError (a typo must not read as "nothing pending"), and so is an empty request
        with ``require`` (executing or archiving everything by accident)."""
        from .store import list_versions, read_version

        files = list(files)
        if files:
            infos = []
            for f in files:
                if not f.exists() and not f.is_symlink():
                    raise UserError("no such version file", file=f)
                infos.append(read_version(f, trust=self.trust))
        else:
            if require and not (run or scenario_type):
                raise UserError("name a run (-r), a scenario type (-s) or files, so nothing is selected by accident")
            infos = list_versions(self.versions_dir, run=run, scenario_type=scenario_type,
                                  include_archived=include_archived, trust=self.trust)
            self._check_names_something(run, scenario_type, infos, include_archived)
        if statuses is not None:
            wanted = set(statuses)
            infos = [v for v in infos if v.status in wanted]
        return infos

    def _check_names_something(self, run: str | None, scenario_type: str | None, infos: list,
                               include_archived: bool) -> None:
        folders = [self.versions_dir] + ([self.archive_dir] if include_archived else [])
        if run and not resolve_run(run, set().union(*map(_run_names, folders))):
            raise UserError(f"no run matches {run!r}", file=self.versions_dir, field="-r")
        if scenario_type and not infos:
            raise UserError(f"no version file of scenario type {scenario_type!r}" + (f" in run {run!r}" if run else ""),
                            file=self.versions_dir, field="-s")

    def run_folders(self, run: str) -> list[Path]:
        """The run directories of the versions folder that ``run`` names."""
        return [self.versions_dir / n for n in sorted(resolve_run(run, _run_names(self.versions_dir)))]

    # -- the foreign-file policy --------------------------------------------------------------

    @property
    def trust(self):
        """Whose files are ours (folder_trust.FolderTrust): the listing and the executor share it."""
        if self._trust is None:
            from .folder_trust import FolderTrust

            self._trust = FolderTrust(self.trust_keys)
        return self._trust

    def foreign_refusal(self, version) -> str | None:
        """Why ``version`` (a VersionInfo) will not run under this service's policy, or None.

        krkn's own files carry no digest to verify, and ours whose manifest line no trusted key
        signed are foreign too: they run only when foreign files are allowed. The executor
        enforces the same rule on the file itself; this is for asking early."""
        if self.allow_foreign or not version.foreign:
            return None
        if version.origin == "krkn":
            return f"{version.path.name} was written by krkn: allow foreign files (--allow-foreign) to execute it"
        return (f"{version.path.name} is {version.foreign}: allow foreign files (--allow-foreign) to execute it, "
                "or trust its signer's key (--trust-key)")

    # -- executing ----------------------------------------------------------------------------

    def executor(self, journal: Any = None):
        """A fresh executor whose every step event is audited, then passed to ``on_event``.

        For a caller that executes one step at a time (a plugin undoing its own change)."""
        from .executor import Executor

        return Executor(self.api_client_factory, allow_foreign=self.allow_foreign, python=self.python,
                        kubeconfig=self.kubeconfig, context=self.context, retry_deadline=self.retry_deadline,
                        on_event=self._step_event, journal=journal or self.journal,
                        cluster_identity=self.cluster_identity, force_cluster=self.force_cluster,
                        trust=self.trust)

    @contextmanager
    def journal_for(self, paths: list[Path], *, required: bool = True) -> Iterator[Any]:
        """The journal links for one request: the engine's own (it holds its run's Lease), or
        the Leases of the journaled runs among ``paths``, taken now and released after. A run
        someone alive holds is left to its holder ("run_left_alone" event). When the journal
        cannot be read: ``required`` (executing) makes it a UserError, else the request goes on
        without it (a "journal_not_updated" event says so)."""
        settings = self.journal_settings
        if self.journal is not None or not paths or settings is None or not settings.enabled \
                or self.api_client_factory is None:
            yield self.journal
            return
        from .journal.entries import Journal, JournalError
        from .journal.mirror import JournalLinks

        try:
            links = JournalLinks(Journal(self.api_client_factory(), settings.namespace), settings,
                                 trusted=self.journal_trust)
        except UserError:  # no cluster configured at all: nothing was journaled from here
            yield None
            return
        try:
            links.take(p.parent.name for p in paths)
        except JournalError as e:
            links.release()
            if required:
                raise UserError(f"{e} (--no-journal executes without it)", field="cluster journal") from None
            self._step_event(JournalNotUpdated(None, str(e)))
            yield None
            return
        for run_id, why in sorted(links.blocked.items()):
            self._step_event(RunLeftAlone(why, run_id=run_id))
        try:
            yield links
        finally:
            links.release()

    def remove_stale_temps(self, folders: Iterable[Path]) -> list[Path]:
        """Delete, in each run folder, the temp files of writers that died mid-write; audited."""
        removed = []
        for folder in sorted(set(folders)):
            for path in remove_stale_temps(folder):
                removed.append(path)
                self._step_event(StaleTempRemoved(str(path)))
        return removed

    def execute(self, paths: Iterable[Path], *, dry_run: bool = False, run: str | None = None) -> list:
        """Run ``paths`` newest first (see rollback.executor for the order and failure policy)
        and return one StepResult per path. Before a real run, the temp files that dead writers
        left in those run folders (and in ``run``'s, when given) and in the reports folder are removed."""
        paths = [Path(p) for p in paths]
        if paths:
            self.trust.keys()  # a bad trusted-keys file or --trust-key: one line before any step
        if not dry_run:
            self.check_audit()
            folders = {p.parent for p in paths} | set(self.run_folders(run) if run else ())
            # a run killed while writing its report left its temp file beside the reports too
            self.remove_stale_temps(folders | {reports_dir(self.versions_dir)})
        if not paths:
            return []
        if dry_run:
            return self.executor().execute(paths, dry_run=True)
        with self.journal_for(paths) as journal:
            return self.executor(journal).execute(paths)

    # -- archiving ----------------------------------------------------------------------------

    def archive(self, paths: Iterable[Path], refused: list | None = None) -> list[Path]:
        """Move steps (with their failure records and manifest lines) to the archive folder and
        return their new paths; a step being executed or already gone is left out, and one that
        cannot be moved goes to ``refused`` as ``(path, reason)``. Raises UserError for a path
        that is not a step of this versions folder."""
        paths = [Path(p) for p in paths]
        self.check_audit()
        with self.journal_for(paths, required=False) as journal:
            try:
                moved = _archive(paths, self.versions_dir, self.archive_dir, refused=refused)
            except ValueError as e:
                raise UserError(str(e), field="files") from None
            for m in moved if journal is not None else ():
                note = journal.after(m, "archived")
                if note:
                    self._step_event(JournalNotUpdated(str(m), note))
        by_name = {(m.parent.name, m.name): m for m in moved}
        for p in paths:
            target = by_name.get((p.parent.name, p.name))
            if target is not None:
                self.record(RollbackArchived(str(p), archived_as=str(target)))
        return moved


def api_client_factory_for(target: RollbackTarget) -> Callable[[], Any]:
    return api_client_factory(target.kubeconfig, target.context)
