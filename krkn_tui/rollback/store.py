"""Offline view of version directories: list and inspect steps without a cluster.

Works on directories krkn wrote as well as ours. Nothing here executes a version file; krkn's
files are read with ``ast``. A file that cannot be read still shows up, with ``error`` set. Each
step says whether it is ours (``foreign`` None: krkn-tui's header and a manifest line signed by a
trusted key, ``folder_trust``) or why it is foreign.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from ..errors import UserError
from ..sanitize import one_line
from ..statuses import VersionStatus
from ..kube.identity import ClusterIdentity
from . import manifest
from .krkn_format import parse_krkn_version, scan_krkn_version
from .meta import parse_meta
from .naming import FAILED, archive_dir_for, parse_run_dir_name, parse_version_name, pending_name, resolve_run
from .source_text import UnsafeSource, check_stream, checked_source

MAX_VERSION_BYTES = 16 * 1024 * 1024
# Listing parses a file whole only up to this size; a larger one is described from its first
# LIST_SCAN_BYTES (the text rule is still checked over all of it, in chunks).
LIST_PARSE_BYTES = 256 * 1024
LIST_SCAN_BYTES = 64 * 1024
# The statuses a step can still be executed from (a failed step stays runnable).
EXECUTABLE = frozenset({VersionStatus.PENDING, VersionStatus.FAILED})


@dataclass(frozen=True)
class VersionInfo:
    path: Path
    run_dir: str
    run_id: str
    run_uuid: str
    run_time_ns: int | None
    created_ns: int
    scenario_type: str
    suffix: str
    status: VersionStatus  # a journal row: its JournalState (or the listing's words for it)
    origin: str  # rollback.front.Origin: krkn-tui | krkn | cluster
    verb: str
    kind: str
    namespace: str | None
    name: str | None
    error: str | None
    # For archived steps: what they were when archived (pending/executed/failed).
    prior_status: VersionStatus | None = None
    # The cluster the step was written for (kube.identity.ClusterIdentity); None: unknown (krkn's
    # files, and ours from before clusters were recorded).
    cluster: ClusterIdentity | None = None
    # None: ours, runs in-process. Else why it runs only as a foreign file, in a few words
    # ("foreign: written by krkn", "foreign: not signed", "foreign: signed by unknown key ...").
    foreign: str | None = None
    # A row of the cluster journal with no file here (rollback.front.journal_step): the entry's
    # name and the host whose run wrote it.
    journal_entry: str | None = None
    host: str | None = None


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor on a regular file, opened without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(f"{path} is a symlink") from None
        if exc.errno == errno.ENXIO:  # a socket: nothing to open
            raise OSError(f"{path} is not a regular file") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd, st


def read_bytes_safely(path: str | os.PathLike, limit: int = MAX_VERSION_BYTES) -> bytes:
    """Read a regular file without following a symlink or blocking on a FIFO."""
    fd, st = _open_regular(path)
    try:
        # Sized by fstat, not by the limit: a read of limit+1 bytes allocates that much each time.
        chunk = os.read(fd, min(st.st_size, limit) + 1)
        parts, total = [chunk], len(chunk)
        while chunk and total <= limit:  # until EOF, also when the file grew since the fstat
            chunk = os.read(fd, limit + 1 - total)
            parts.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return b"".join(parts)


def _read_for_listing(path: Path) -> tuple[str, bool, str | None]:
    """``(text, whole, unsafe reason)``: the whole text of a file up to LIST_PARSE_BYTES, else
    its first LIST_SCAN_BYTES (``whole`` False); memory stays flat whatever the size."""
    fd, st = _open_regular(path)
    try:
        if st.st_size > MAX_VERSION_BYTES:
            raise OSError(f"{path} is larger than {MAX_VERSION_BYTES} bytes")
        data = os.read(fd, LIST_PARSE_BYTES + 1) if st.st_size <= LIST_PARSE_BYTES else b""
        if data and len(data) <= LIST_PARSE_BYTES or st.st_size == 0:
            try:
                return checked_source(data), True, None
            except UnsafeSource as exc:
                return data.decode("utf-8", "replace"), True, str(exc)
        head = os.pread(fd, LIST_SCAN_BYTES, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        total = 0

        def read(n: int) -> bytes:
            nonlocal total
            chunk = os.read(fd, n)
            total += len(chunk)
            if total > MAX_VERSION_BYTES:  # grew since the fstat
                raise OSError(f"{path} is larger than {MAX_VERSION_BYTES} bytes")
            return chunk

        try:
            check_stream(read)
            unsafe = None
        except UnsafeSource as exc:
            unsafe = str(exc)
        return head.decode("utf-8", "replace"), False, unsafe
    finally:
        os.close(fd)


def read_source(path: Path) -> str:
    """The file's text for display; undecodable bytes are replaced, never fatal."""
    return read_bytes_safely(Path(path)).decode("utf-8", "replace")


def read_failure(path: Path) -> dict | None:
    """The ``.failed`` sidecar of a ``.py`` step, or None when there is none."""
    sidecar = Path(str(path) + FAILED)
    if not os.path.lexists(sidecar):
        return None
    try:
        record = json.loads(read_bytes_safely(sidecar, 1024 * 1024))
        if isinstance(record, dict):
            return record
    except Exception:
        pass
    return {"error": "failed (the .failed record is unreadable)"}


@dataclass(frozen=True)
class Described:
    """What a version file's text says of its step (its name and folder say the rest)."""

    origin: str = "krkn"  # rollback.front.Origin: krkn-tui (our header) | krkn
    verb: str = ""
    kind: str = ""
    namespace: str | None = None
    name: str | None = None
    error: str | None = None  # why the text cannot be described, in one line
    cluster: ClusterIdentity | None = None


def _describe(text: str, whole: bool = True) -> Described:
    """The step as the file's text says it (``whole``: all of it, else only its head, which is
    never parsed as a module)."""
    try:
        meta = parse_meta(text)
    except Exception as exc:
        return Described(origin="krkn-tui", error=f"bad krkn-tui-meta header: {exc}")
    if meta is not None:  # a bad cluster record: the executor refuses the step, the listing says why
        return Described(origin="krkn-tui", verb=meta.verb, kind=meta.kind, namespace=meta.namespace, name=meta.name,
                         error=f"bad cluster record: {meta.cluster_error}" if meta.cluster_error else None,
                         cluster=meta.cluster)
    try:
        # The syntax tree only for a small file krkn's template shape does not fit: it is ~500x the text.
        parsed = scan_krkn_version(text) or (parse_krkn_version(text) if whole and len(text) <= LIST_SCAN_BYTES
                                             else None)
    except Exception as exc:
        return Described(error=f"cannot parse as a krkn version file: {type(exc).__name__}: {exc}")
    if parsed is None:
        return Described()
    return Described(verb=parsed.callable or "", namespace=parsed.namespace, name=parsed.resource_identifier)


def read_version(path: Path, *, archived: bool | None = None, trust=None) -> VersionInfo:
    """Describe one version file. Never raises for a bad file: ``error`` says what is wrong.

    ``archived`` defaults to "the versions folder is named ``*-archive``"; ``trust`` (a
    folder_trust.FolderTrust) to the user's own key and trusted-keys file.
    """
    path = Path(path)
    if archived is None:
        archived = path.parent.parent.name.endswith("-archive")
    v = _read_version(path, path.parent.name, path.name, archived, None)
    return _with_verdicts(str(path.parent), {path.name: (None, v)}, trust)[path.name][1]


def _with_verdicts(run_dir: str, steps: "_Files", trust) -> "_Files":
    """``steps`` with each one's ``foreign`` verdict, from the run's manifest (read once, only
    when a step has krkn-tui's header). A step whose verdict is unchanged keeps its object."""
    if trust is None:
        from .folder_trust import FolderTrust

        trust = FolderTrust()
    run_id = os.path.basename(run_dir)
    entries: dict[str, manifest.ManifestEntry] | str | None = None
    out: _Files = {}
    for name, (ident, v) in steps.items():
        if v.origin != "krkn-tui":
            verdict = "foreign: written by krkn" if v.origin == "krkn" else None
        else:
            if entries is None:
                try:
                    entries = manifest.read_entries(Path(run_dir))
                except PermissionError:  # a link, FIFO, directory, loose, someone else's: nothing verifies
                    entries = "foreign: the run's manifest is not a private file of ours"
                except OSError as exc:
                    entries = f"foreign: the run's manifest cannot be read ({exc.strerror or exc})"
            try:
                verdict = entries if isinstance(entries, str) else trust.foreign_reason(
                    run_id, entries.get(pending_name(name)))
            except UserError as exc:  # a bad trusted-keys file: shown, the listing goes on
                verdict = f"foreign: {exc}"
        out[name] = (ident, v if v.foreign == verdict else replace(v, foreign=verdict))
    return out


def _read_version(path: Path, run_dir: str, name: str, archived: bool, has_sidecar: bool | None) -> VersionInfo:
    """``has_sidecar`` False: the directory listing showed no ``.failed`` file (saves a lookup)."""
    run = parse_run_dir_name(run_dir)
    run_time_ns, run_uuid = run if run else (None, "")
    parsed = parse_version_name(name)
    scenario_type, created_ns, suffix, state = parsed if parsed else ("", 0, "", "pending")
    error: str | None = None if parsed else "not a version file name"

    status = VersionStatus(state)
    if status == VersionStatus.PENDING and has_sidecar is not False:
        failure = read_failure(path)
        if failure is not None:
            status = VersionStatus.FAILED
            error = one_line(failure.get("error") or "failed")

    try:
        text, whole, unsafe = _read_for_listing(path)
        if unsafe:  # still described (sanitised when shown); never executed
            error = error or f"unsafe: {unsafe}"
        described = _describe(text, whole)
    except Exception as exc:
        described = Described(error=f"cannot read: {exc}")
    error = one_line(described.error) if described.error and not error else error

    return VersionInfo(
        path=path,
        run_dir=run_dir,
        run_id=run_dir if run else "",
        run_uuid=run_uuid,
        run_time_ns=run_time_ns,
        created_ns=created_ns,
        scenario_type=scenario_type,
        suffix=suffix,
        status=VersionStatus.ARCHIVED if archived else status,
        prior_status=status if archived else None,
        error=error,
        origin=described.origin,
        verb=described.verb,
        kind=described.kind,
        namespace=described.namespace,
        name=described.name,
        cluster=described.cluster,
    )


def _named_version(path: Path, run_dir: str, name: str, archived: bool, has_sidecar: bool) -> VersionInfo:
    """What a step's file name and its directory entry say, before the file is read: run, type,
    time and status. Origin and action stay empty until the file is read."""
    run = parse_run_dir_name(run_dir)
    run_time_ns, run_uuid = run if run else (None, "")
    scenario_type, created_ns, suffix, state = parse_version_name(name)
    status = VersionStatus.FAILED if state == "pending" and has_sidecar else VersionStatus(state)
    return VersionInfo(path=path, run_dir=run_dir, run_id=run_dir if run else "", run_uuid=run_uuid,
                       run_time_ns=run_time_ns, created_ns=created_ns, scenario_type=scenario_type, suffix=suffix,
                       status=VersionStatus.ARCHIVED if archived else status, prior_status=status if archived else None,
                       origin="", verb="", kind="", namespace=None, name=None, error=None)


def _run_dirs(root: Path) -> list[str]:
    try:
        with os.scandir(root) as it:
            return sorted(
                e.name
                for e in it
                if parse_run_dir_name(e.name) and e.is_dir(follow_symlinks=False)
            )
    except OSError:
        return []


def _identity(entry: os.DirEntry | None) -> tuple | None:
    if entry is None:
        return ()
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _sort_key(v: VersionInfo) -> tuple:
    return (v.run_time_ns or 0, v.created_ns, v.path.name, v.status == "archived")


def _first(pair: tuple) -> object:
    return pair[0]


# name -> (identity of the file and its .failed sidecar, or None when unknown; the step)
_Files = dict[str, tuple[tuple | None, VersionInfo]]


def _scan_run_dir(run_dir: str, archived: bool, scenario_type: str | None = None,
                  known: _Files | None = None, reread: frozenset[str] = frozenset()) -> _Files:
    """The steps of one run directory. With ``known`` (an earlier scan), a file whose identity
    (inode, size, mtime, ctime, and its sidecar's) is unchanged and not in ``reread`` is not
    read again."""
    try:
        with os.scandir(run_dir) as it:
            entries = {e.name: e for e in it}
    except OSError:
        return {}
    run_name = os.path.basename(run_dir)
    out: _Files = {}
    for name in sorted(entries):
        parsed = parse_version_name(name)
        if not parsed or entries[name].is_dir(follow_symlinks=False):
            continue
        if scenario_type is not None and parsed[0] != scenario_type:
            continue
        sidecar = entries.get(name + FAILED)
        ident = None
        if known is not None:
            own, side = _identity(entries[name]), _identity(sidecar)
            ident = None if own is None or side is None else (own, side)
            old = known.get(name)
            path = os.path.join(run_dir, name)
            if (old is not None and ident is not None and old[0] == ident
                    and path not in reread and path + FAILED not in reread):
                out[name] = old
                continue
        out[name] = (ident, _read_version(Path(run_dir, name), run_name, name, archived, sidecar is not None))
    return out


def list_versions(
    versions_dir: Path,
    archive_dir: Path | None = None,
    run: str | None = None,
    scenario_type: str | None = None,
    *,
    include_archived: bool = True,
    trust=None,
) -> list[VersionInfo]:
    """All steps, oldest to newest by (run time, file time). ``archive_dir`` defaults to the
    sibling ``<versions_dir>-archive``; ``trust`` (folder_trust.FolderTrust) to the user's own
    key and trusted-keys file. Raises UserError only for an ambiguous ``run`` prefix."""
    if trust is None:
        from .folder_trust import FolderTrust

        trust = FolderTrust()
    versions_dir = Path(versions_dir).expanduser()
    roots = [(versions_dir, False)]
    if include_archived:
        archive_root = Path(archive_dir).expanduser() if archive_dir else None
        roots.append((archive_root or archive_dir_for(versions_dir), True))
    dirs = [(root, name, archived) for root, archived in roots for name in _run_dirs(root)]
    if run is not None:
        wanted = resolve_run(run, {name for _, name, _ in dirs})
        dirs = [d for d in dirs if d[1] in wanted]

    out: list[VersionInfo] = []
    for root, name, archived in dirs:
        run_dir = os.path.join(root, name)
        out.extend(v for _, v in _with_verdicts(run_dir, _scan_run_dir(run_dir, archived, scenario_type), trust).values())
    out.sort(key=_sort_key)
    return out


class VersionLister:
    """``list_versions(versions_dir, archive_dir)`` for a view that lists the same folders again
    on every change. A run directory whose mtime is unchanged is not scanned again (steps are
    written once; executing, failing and archiving rename or add files, which changes it); in
    one that changed, only files whose identity changed are read again. Paths reported as
    changed (by a file watcher) are always read again: an in-place write keeps the mtime of
    the directory. ``listed()`` returns the same VersionInfo object for an unchanged step, so
    a caller can find what changed by identity. ``trust`` (folder_trust.FolderTrust) decides
    which steps are ours, as for ``list_versions``; it remembers the lines it verified."""

    def __init__(self, versions_dir: Path, archive_dir: Path | None = None, trust=None):
        versions_dir = Path(versions_dir).expanduser()
        archive_root = Path(archive_dir).expanduser() if archive_dir else archive_dir_for(versions_dir)
        self.roots = ((str(versions_dir), False), (str(archive_root), True))
        self._dirs: dict[str, tuple[int, _Files]] = {}  # run dir -> (its mtime_ns, its steps)
        self._keys: dict[int, tuple[VersionInfo, tuple]] = {}  # id(step) -> (step, sort key)
        self._lock = threading.Lock()
        if trust is None:
            from .folder_trust import FolderTrust

            trust = FolderTrust()
        self.trust = trust

    def listed(self, changed: Iterable[str | os.PathLike] = ()) -> list[VersionInfo]:
        with self._lock:  # the console lists from worker threads
            return self._listed(changed)

    def named(self) -> list[VersionInfo]:
        """Every step from directory listings alone, no file read: what a view can show at once
        while ``listed()`` reads the files (10,000 steps: a few directory scans instead of
        10,000 opens and parses)."""
        out = []
        for root, archived in self.roots:
            for run_name in _run_dirs(Path(root)):
                run_dir = os.path.join(root, run_name)
                try:
                    with os.scandir(run_dir) as it:
                        names = {e.name for e in it if not e.is_dir(follow_symlinks=False)}
                except OSError:
                    continue
                out.extend(_named_version(Path(run_dir, name), run_name, name, archived, name + FAILED in names)
                           for name in sorted(names) if parse_version_name(name))
        out.sort(key=_sort_key)
        return out

    def changes(self, changed: Iterable[str | os.PathLike] = ()) -> tuple[list[VersionInfo], list[VersionInfo]]:
        """What changed since the last ``listed()`` or ``changes()``: the steps that are new or
        whose object changed, and the objects gone. No full list is built or sorted: a view that
        keeps its rows by key pays for the change, not for every step (10,000 steps: a watcher's
        batch of one file re-reads that file and compares one run directory)."""
        with self._lock:
            before = self._dirs
            after = self._scan(changed)
            new: list[VersionInfo] = []
            gone: list[VersionInfo] = []
            for run_dir, entry in after.items():
                old = before.get(run_dir)
                if old is entry:
                    continue
                old_files = old[1] if old is not None else {}
                files = entry[1]
                new.extend(v for name, (_, v) in files.items()
                           if (known := old_files.get(name)) is None or known[1] is not v)
                gone.extend(v for name, (_, v) in old_files.items()
                            if (now := files.get(name)) is None or now[1] is not v)
            for run_dir, (_, old_files) in before.items():
                if run_dir not in after:
                    gone.extend(v for _, v in old_files.values())
            return new, gone

    def _scan(self, changed: Iterable[str | os.PathLike]) -> dict[str, tuple[int, _Files]]:
        """Every run directory's steps, re-scanning only those changed; kept for the next call."""
        reread = frozenset(os.fspath(p) for p in changed)
        touched = {os.path.dirname(p) for p in reread}
        dirs: dict[str, tuple[int, _Files]] = {}
        for root, archived in self.roots:
            for name in _run_dirs(Path(root)):
                run_dir = os.path.join(root, name)
                try:
                    mtime = os.stat(run_dir, follow_symlinks=False).st_mtime_ns
                except OSError:
                    continue
                cached = self._dirs.get(run_dir)
                if cached is not None and cached[0] == mtime and run_dir not in touched:
                    dirs[run_dir] = cached
                else:  # mtime taken before the scan: a change during it is seen next time
                    files = _scan_run_dir(run_dir, archived, None, cached[1] if cached else {}, reread)
                    dirs[run_dir] = (mtime, _with_verdicts(run_dir, files, self.trust))
        self._dirs = dirs
        return dirs

    def _listed(self, changed: Iterable[str | os.PathLike]) -> list[VersionInfo]:
        dirs = self._scan(changed)
        keys = self._keys
        self._keys = {}
        pairs = []
        for _, files in dirs.values():
            for _, v in files.values():
                known = keys.get(id(v))
                key = known[1] if known is not None and known[0] is v else _sort_key(v)
                self._keys[id(v)] = (v, key)
                pairs.append((key, v))
        pairs.sort(key=_first)  # stable, as in list_versions: equal keys keep the directory order
        return [v for _, v in pairs]
