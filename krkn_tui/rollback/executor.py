"""Run version files, newest first.

Failure policy: CONTINUE. A failing step is recorded (``<file>.py.failed`` sidecar, the ``.py``
stays runnable) and the executor goes on with the older steps, as Chaos Toolkit does with its
rollbacks; krkn instead aborts at the first failure and leaves every older change in place. The
caller sees every step's outcome in the returned list and can re-run the failed ones later.

Each step runs at most once, even with several executors at once: the file is ``flock``-ed
(non-blocking; busy means another executor has it -> "skipped"), re-checked to be the same inode
at the same path, run, and renamed ``.py.executed`` while the lock is still held.

"skipped" is only the verdict shown and audited; it does not say the change is undone. A step
result's ``undone`` does: true when the step ran here, or verifiably elsewhere (its
``.py.executed`` file exists, or the cluster journal says a guard executed it). A step archived
or removed meanwhile, replaced by another file, held by another executor (``busy``: ask again
once it lets go) or left to the holder of its run's Lease is not known undone.

Before running, a step is refused (file untouched) if the file is a symlink, not owned by us,
group/world-writable, sits in a run or versions directory that is a symlink or group/world-
writable, or is ours and no longer matches its manifest digest. A file is ours when it has
krkn-tui's header and its manifest line is signed by a trusted key (``folder_trust``); one whose
line is unsigned, badly signed or signed by another key is foreign, as krkn's files (no digest
at all) are. Foreign files run only with ``allow_foreign``: in an isolated interpreter
(``python -I -``) fed the checked bytes on stdin, from an empty private working directory (a
path would be re-opened after the checks, and the run folder could hold a planted
``kubernetes.py``); the exit code decides.

Every file a step reads (the version file, its run's manifest) is opened without following a
link or blocking on a FIFO and checked with ``fstat``; a file that breaks the text rule
(``source_text``) is refused, and our files are compiled from the checked text. Any ``OSError``
while checking refuses that step only: the rest of the selection goes on.

Our files run in-process with one API client shared by all steps. Connection problems and
429/5xx answers are retried with exponential backoff (0.2 s doubling to 5 s) until
``retry_deadline``; once one step has used up its deadline that way, later steps of the same
executor get a single attempt until one succeeds, so an unreachable cluster fails a long run
in minutes rather than hours.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from ..sanitize import one_line
from ..statuses import StepStatus
from ..events import (
    Event,
    JournalStateDistrusted,
    RollbackClusterForced,
    RollbackExecuted,
    RollbackExecutedElsewhere,
    RollbackFailed,
    RollbackRefused,
    RollbackRetrying,
    RollbackStarted,
)
from . import manifest
from ..fsio import fsync_dir, sha256_hex, write_atomic
from .loader import load_version
from .meta import find_meta_line
from .naming import EXECUTED, FAILED, parse_run_dir_name, parse_version_name
from .redact import Unredactable, redaction
from .retry import GaveUp, is_transient, retry_until
from .safety import manifest_verdict, unsafe_file_reason, unsafe_location_reason
from .source_text import UnsafeSource, checked_source
from .store import MAX_VERSION_BYTES, read_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    path: Path
    status: StepStatus
    error: str | None = None
    seconds: float = 0.0
    undone: bool = False  # the change is known undone: executed here, or verifiably elsewhere
    busy: bool = False  # skipped because another executor (or an archive) holds the step now


class _Outcome(Exception):
    """A step ends early with this status and reason."""

    def __init__(self, status: StepStatus, reason: str, *, undone: bool = False, busy: bool = False):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.undone = undone
        self.busy = busy


def _is_file(path: str | Path) -> bool:
    """A regular file is there (not followed if a link): a directory or link named like an
    executed step is no executed step."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _gone(path: Path) -> _Outcome:
    """``path`` is no longer there: undone only if it was renamed ``.executed`` (an archive or a
    removal moves the step away with its change still in force)."""
    if _is_file(str(path) + EXECUTED):
        return _Outcome(StepStatus.SKIPPED, f"{path.name} was executed by another executor", undone=True)
    return _Outcome(StepStatus.SKIPPED, f"{path} no longer exists and was not executed (archived or removed meanwhile)")


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _transient(exc: BaseException) -> bool:
    """A failure that says itself whether it is worth retrying (``transient``), else the rule."""
    transient = getattr(exc, "transient", None)
    return is_transient(exc) if transient is None else bool(transient)


def _notes(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None


def _newest_first_key(path: Path) -> tuple:
    parsed = parse_version_name(path.name)
    run = parse_run_dir_name(path.parent.name)
    return (parsed[1] if parsed else -1, run[0] if run else -1, path.name)


def _read_fd(fd: int, path: Path) -> bytes:
    chunks, total = [], 0
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_VERSION_BYTES:
            raise _Outcome(StepStatus.REFUSED, f"{path} is larger than {MAX_VERSION_BYTES} bytes")
    return b"".join(chunks)


class Executor:
    foreign_timeout = 600.0  # seconds for one `python FILE` of krkn's

    def __init__(
        self,
        api_client_factory: Callable[[], object] | None,
        *,
        allow_foreign: bool = False,
        python: str = sys.executable,
        kubeconfig: str | None = None,
        context: str | None = None,
        retry_deadline: float = 60.0,
        on_event: Callable[[Event], None] | None = None,
        journal=None,
        cluster_identity: Callable[[], object] | None = None,
        force_cluster: bool = False,
        trust=None,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._factory = api_client_factory or self._kubeconfig_client
        self.allow_foreign = allow_foreign
        self.python = python
        self.kubeconfig = kubeconfig
        self.context = context
        self.retry_deadline = retry_deadline
        self._on_event = on_event
        # rollback.journal.mirror.JournalLinks for journaled runs: asked before a step, told after.
        self.journal = journal
        # The connected cluster's kube.identity.ClusterIdentity (read from our client when not
        # given); a file recorded for another cluster is refused unless force_cluster.
        self._cluster_identity = cluster_identity
        self._connected = None
        self.force_cluster = force_cluster
        # Whose files run in-process (folder_trust.FolderTrust; default: the user's own key and
        # trusted-keys file); made on the first file with krkn-tui's header.
        self._trust = trust
        self._client = None
        self._cluster_down = False
        # The retries' waits and deadline (a test passes a fake pair: order and count, no wall time).
        self._sleep = sleep
        self._clock = clock

    # -- public -------------------------------------------------------------------------------

    def execute(self, paths: list[Path], dry_run: bool = False) -> list[StepResult]:
        """Run ``paths`` newest first (by file time); every step is attempted whatever failed.

        KeyboardInterrupt propagates: the step it interrupted stays pending (no lock outlives
        the process), so running the same paths again resumes where it stopped.
        """
        ordered = sorted((Path(p) for p in paths), key=_newest_first_key, reverse=True)
        results = []
        for path in ordered:
            started = time.monotonic()
            results.append(self._step(path, dry_run, started))
        return results

    # -- one step -----------------------------------------------------------------------------

    def _step(self, path: Path, dry_run: bool, started: float) -> StepResult:
        try:
            status, error = self._guarded_step(path, dry_run)
            return StepResult(path, status, error, time.monotonic() - started, undone=status == StepStatus.EXECUTED)
        except _Outcome as out:
            if out.status == StepStatus.REFUSED:
                self._emit(RollbackRefused(str(path), out.reason))
            return StepResult(path, out.status, out.reason, time.monotonic() - started, undone=out.undone,
                              busy=out.busy)
        except UserError as exc:  # a trusted-keys file that does not parse: said on each step, never a crash
            self._emit(RollbackRefused(str(path), str(exc)))
            return StepResult(path, StepStatus.REFUSED, str(exc), time.monotonic() - started)
        except OSError as exc:  # a manifest that is a directory, a FIFO, a link...: this step only
            reason = f"cannot check {path.name}: {exc.strerror or exc}"
            if exc.filename and exc.strerror:
                reason += f" ({exc.filename})"
            self._emit(RollbackRefused(str(path), reason))
            return StepResult(path, StepStatus.REFUSED, reason, time.monotonic() - started)
        except Exception as exc:  # whatever one step's file holds, the older steps still run
            log.exception("rollback step %s", path)
            reason = f"{path.name}: unexpected error: {one_line(_error_text(exc))}"
            self._emit(RollbackFailed(str(path), reason))
            return StepResult(path, StepStatus.FAILED, reason, time.monotonic() - started)

    def _guarded_step(self, path: Path, dry_run: bool) -> tuple[StepStatus, str | None]:
        parsed = parse_version_name(path.name)
        if parsed is None:
            raise _Outcome(StepStatus.REFUSED, f"{path.name} is not a version file name")
        if parsed[3] == "executed":
            if _is_file(path):
                raise _Outcome(StepStatus.SKIPPED, f"{path.name} is already executed", undone=True)
            if os.path.lexists(path):
                raise _Outcome(StepStatus.REFUSED, f"{path} is not a regular file, so not an executed step")
            raise _Outcome(StepStatus.SKIPPED, f"{path} no longer exists (archived or removed meanwhile)")
        if not os.path.lexists(path):
            raise _gone(path)
        executed = str(path) + EXECUTED
        if os.path.lexists(executed) and not _is_file(executed):
            # It could never be renamed there: run, it would stay pending and run again each time.
            raise _Outcome(StepStatus.REFUSED, f"{path.name} cannot be marked executed: {os.path.basename(executed)} "
                                      "is in the way and is not a regular file (move it away)")
        reason = unsafe_location_reason(path)
        if reason:
            if not os.path.lexists(path):  # another executor ran or archived it since the check above
                raise _gone(path)
            raise _Outcome(StepStatus.REFUSED, reason)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise _gone(path) from None
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a socket
                raise _Outcome(StepStatus.REFUSED, f"{path} is not a regular file") from None
            raise _Outcome(StepStatus.REFUSED, f"cannot open {path}: {exc.strerror or exc}") from None
        try:
            # A dry run takes no lock: it must never make a real executor skip a step.
            if not dry_run:
                self._lock_same_file(fd, path)
            data, ours, redacted = self._admit(fd, path)
            if dry_run:
                return StepStatus.WOULD_RUN, None
            self._check_cluster(path, data)  # a foreign file's record can only refuse it
            if self.journal is not None:
                self._check_journal(path, redacted)
            return self._run_and_record(path, data, ours, redacted)
        finally:
            os.close(fd)  # releases the lock, after the rename

    def _admit(self, fd: int, path: Path) -> tuple[str, bool, tuple[str, int] | None]:
        """The file's checked text, whether it is ours and (ours only) its text once its Secret
        values are redacted with how many, or a refusal. Redacted now, before it runs: data
        that cannot be redacted (not JSON) refuses the step, rather than leave it executed with
        its Secret values, or unrecorded."""
        reason = unsafe_file_reason(path, os.fstat(fd))
        if reason:
            raise _Outcome(StepStatus.REFUSED, reason)
        data = _read_fd(fd, path)  # exactly these bytes are verified and then run
        try:
            text = checked_source(data)
        except UnsafeSource as exc:
            raise _Outcome(StepStatus.REFUSED, f"{path.name} is unsafe: {exc}") from None
        if find_meta_line(text) is None:
            if not self.allow_foreign:
                raise _Outcome(
                    StepStatus.REFUSED,
                    f"{path.name} was not written by krkn-tui (no digest to check); "
                    "allow foreign files to run it",
                )
            return text, False, None
        refusal, foreign = manifest_verdict(path, data, self.trust)
        if refusal:
            raise _Outcome(StepStatus.REFUSED, refusal)
        if foreign and not self.allow_foreign:
            raise _Outcome(StepStatus.REFUSED, f"{path.name} is {foreign}; allow foreign files (--allow-foreign) "
                                      "to run it isolated, or trust its signer's key (--trust-key)")
        if foreign:
            return text, False, None
        try:
            return text, True, redaction(text)
        except Unredactable as exc:
            raise _Outcome(StepStatus.REFUSED, f"{path.name}: {exc}; krkn-tui writes no such data") from None

    @property
    def trust(self):
        if self._trust is None:
            from .folder_trust import FolderTrust

            self._trust = FolderTrust()
        return self._trust

    def _run_and_record(self, path: Path, text: str, ours: bool,
                        redacted_text: tuple[str, int] | None) -> tuple[StepStatus, str | None]:
        self._emit(RollbackStarted(str(path)))
        started = time.monotonic()
        error, attempts = self._run_ours(path, text) if ours else self._run_foreign(path, text)
        if error is None:
            redacted, count = redacted_text or (text, 0)
            note = _notes(self._mark_executed(path), self._redact_executed(path, redacted, count),
                          self._journal_note(path, "executed"))
            seconds = time.monotonic() - started
            self._emit(RollbackExecuted(str(path), note, attempts=attempts, seconds=seconds))
            return StepStatus.EXECUTED, note
        note = _notes(self._record_failure(path, error, attempts), self._journal_note(path, "failed", error))
        self._emit(RollbackFailed(str(path), error, attempts=attempts))
        return StepStatus.FAILED, error + (f" ({note})" if note else "")

    def _check_cluster(self, path: Path, text: str) -> None:
        """Refuse a step recorded for another cluster than the connected one (one line naming
        both), unless forced: then say so in an audited event. A file without a record (written
        before clusters were recorded) runs as before."""
        from ..kube.identity import mismatch
        from .meta import parse_meta

        try:
            meta = parse_meta(text)
        except (ValueError, RecursionError) as exc:
            raise _Outcome(StepStatus.REFUSED, f"{path.name}: bad cluster record: {exc}") from None
        if meta is not None and meta.cluster_error:
            raise _Outcome(StepStatus.REFUSED, f"{path.name}: bad cluster record: {meta.cluster_error}")
        recorded = meta.cluster if meta is not None else None
        if recorded is None:
            return
        reason = mismatch(recorded, self._connected_identity(path))
        if reason is None:
            return
        if not self.force_cluster:
            raise _Outcome(StepStatus.REFUSED, f"{path.name} {reason} (--force-cluster runs it anyway)")
        self._emit(RollbackClusterForced(str(path), reason, recorded=recorded.to_dict(),
                                         connected=self._connected.to_dict()))

    def _connected_identity(self, path: Path):
        """Read once per executor, with the steps' own retry rule for an unreachable server."""
        if self._connected is not None:
            return self._connected
        from ..kube.identity import connected_identity

        read = self._cluster_identity or (lambda: connected_identity(self.api_client(), self.kubeconfig, self.context))
        self._connected = self._with_retry(path, read, "read the connected cluster's identity for")
        return self._connected

    def _with_retry(self, path: Path, call: Callable[[], Any], what: str) -> Any:
        """``call()``, retried with the steps' backoff while the API server is unreachable (up
        to the retry deadline); any other failure, or the deadline, refuses the step."""
        try:
            return self._retry(path, call, self.retry_deadline, transient=_transient)[0]
        except GaveUp as stop:
            raise _Outcome(StepStatus.REFUSED, f"cannot {what} {path.name}: {one_line(_error_text(stop.cause))}") from None

    def _retry(self, path: Path, call: Callable[[], Any], wait: float, *,
               transient: Callable[[BaseException], bool] = is_transient) -> tuple[Any, int]:
        def announce(attempt: int, exc: Exception, delay: float) -> None:
            log.info("rollback %s: %s; retrying in %.1fs", path.name, _error_text(exc), delay)
            self._emit(RollbackRetrying(str(path), one_line(_error_text(exc)), attempt=attempt, delay=delay))

        return retry_until(call, wait, transient=transient, on_retry=announce, sleep=self._sleep, clock=self._clock)

    def _check_journal(self, path: Path, redacted_text: tuple[str, int] | None) -> None:
        """A journaled run's step runs only under the run's Lease, and not again when a guard
        verifiably ran it from the journal (then it is marked executed here too, and its Secret
        values go as for a step run here). An ``executed`` whose signature does not verify
        changes nothing here: the step runs, and an event says why."""
        verdict = self._with_retry(path, lambda: self.journal.before_run(path), "check the cluster journal for")
        if verdict is None:
            return
        status, reason = verdict
        if status == "distrusted":
            self._emit(JournalStateDistrusted(str(path), reason))
            return
        if status == "done":
            redacted, count = redacted_text or ("", 0)
            note = _notes(self._mark_executed(path), self._redact_executed(path, redacted, count))
            self._emit(RollbackExecutedElsewhere(str(path), reason))
            raise _Outcome(StepStatus.SKIPPED, reason + (f" ({note})" if note else ""), undone=True)
        raise _Outcome(StepStatus(status), reason)  # left to the run's Lease holder, or refused: not undone

    def _journal_note(self, path: Path, state: str, error: str | None = None) -> str | None:
        return None if self.journal is None else self.journal.after(path, state, error)

    def _lock_same_file(self, fd: int, path: Path) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # an executor running it, or an archive moving it
            raise _Outcome(StepStatus.SKIPPED, f"{path.name} is being run by another executor", busy=True) from None
        try:
            now = os.lstat(path)
        except FileNotFoundError:  # renamed .executed, or archived, while we waited for the lock
            raise _gone(path) from None
        st = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise _Outcome(StepStatus.SKIPPED, f"{path.name} was replaced meanwhile; not running it")

    # -- running ------------------------------------------------------------------------------

    def _run_ours(self, path: Path, text: str) -> tuple[str | None, int]:
        try:
            rollback, content = load_version(text, str(path))
        except Exception as exc:
            return f"cannot load {path.name}: {one_line(_error_text(exc))}", 0
        return self.run_callable(path, rollback, content)

    def run_callable(self, path: Path, rollback: Callable, content: Any) -> tuple[str | None, int]:
        """``rollback(content, api_client)`` with the retry rules of a step: ``(error, attempts)``.
        The guard runs a journal entry's undo operation (krkn-tui's own function) through it."""

        def attempt() -> str | None:
            try:
                rollback(content, self.api_client())
            except SystemExit as exc:
                if exc.code not in (0, None):
                    return f"rollback called sys.exit({exc.code!r})"
            return None

        try:
            error, attempts = self._retry(path, attempt, 0.0 if self._cluster_down else self.retry_deadline)
        except GaveUp as stop:
            text = one_line(_error_text(stop.cause))
            if not stop.timed_out:
                return text, stop.attempts
            self._cluster_down = True
            return f"{text} (gave up after {stop.attempts} attempts)", stop.attempts
        if error is None:
            self._cluster_down = False
        return error, attempts

    def _run_foreign(self, path: Path, text: str) -> tuple[str | None, int]:
        env = dict(os.environ)
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
        if self.context:
            env["KRKN_TUI_CONTEXT"] = self.context
        try:
            # -I: no PYTHON* variables, no user site, no script or working folder on sys.path.
            with tempfile.TemporaryDirectory(prefix="krkn-tui-foreign-") as neutral:
                proc = subprocess.run(
                    [self.python, "-I", "-"],
                    cwd=neutral,
                    env=env,
                    input=text.encode("utf-8"),
                    capture_output=True,
                    timeout=self.foreign_timeout,
                )
        except subprocess.TimeoutExpired:
            return f"{path.name} did not finish within {self.foreign_timeout:.0f}s", 1
        except OSError as exc:
            return f"cannot run {self.python}: {exc.strerror or exc}", 1
        if proc.returncode == 0:
            return None, 1
        stderr = proc.stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        return f"exit status {proc.returncode}" + (f": {lines[-1]}" if lines else ""), 1

    def api_client(self):
        """The client the steps run with: one for the whole run (one per step would re-read
        kubeconfig 500 times)."""
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _kubeconfig_client(self):
        from ..kube.client import load_api_client

        return load_api_client(self.kubeconfig, self.context)

    # -- recording ----------------------------------------------------------------------------

    def _redact_executed(self, path: Path, redacted: str, count: int) -> str | None:
        """An executed step never needs its Secret values again: rewrite the executed file
        without them (``redacted``, ``count`` from redact_secrets; new digest in the manifest
        first, then temp file and rename)."""
        executed = Path(str(path) + EXECUTED)
        if not count or not os.path.lexists(executed):
            return None
        data = redacted.encode("utf-8")
        try:
            manifest.append_entry(path.parent, path.name, sha256_hex(data), time.time_ns())
            write_atomic(path.parent, executed.name, data)
        except OSError as exc:
            return f"executed, but its Secret values could not be removed: {exc.strerror or exc}"
        return None

    def _mark_executed(self, path: Path) -> str | None:
        """Rename to ``.executed`` (lock still held) and drop the failure record."""
        try:
            os.rename(path, str(path) + EXECUTED)
            try:
                os.unlink(str(path) + FAILED)
            except FileNotFoundError:
                pass
            fsync_dir(path.parent)
        except OSError as exc:
            return f"executed, but could not mark it so: {exc.strerror or exc}"
        return None

    def _record_failure(self, path: Path, error: str, attempts: int) -> str | None:
        previous = read_failure(path) or {}
        earlier = previous.get("attempts")
        record = {
            "error": error,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "time_ns": time.time_ns(),
            "attempts": attempts + (earlier if isinstance(earlier, int) else 0),
        }
        try:
            write_atomic(path.parent, path.name + FAILED, json.dumps(record).encode())
        except OSError as exc:
            return f"could not record the failure: {exc.strerror or exc}"
        return None

    def _emit(self, event: Event) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # the audit sink must not change what happens to the cluster
            log.exception("rollback event handler failed")
