"""Offline view of version directories: list and inspect steps without a cluster.

Works on directories krkn wrote as well as ours. Nothing here executes a version file; krkn's
files are read with ``ast``. A file that cannot be read still shows up, with ``error`` set.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .krkn_format import parse_krkn_version
from .meta import parse_meta
from .naming import FAILED, archive_dir_for, parse_run_dir_name, parse_version_name

MAX_VERSION_BYTES = 16 * 1024 * 1024
STATUSES = ("pending", "executed", "failed", "archived")


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
    status: str  # pending | executed | failed | archived
    origin: str  # krkn-tui | krkn
    verb: str
    kind: str
    namespace: str | None
    name: str | None
    error: str | None
    # For archived steps: what they were when archived (pending/executed/failed).
    prior_status: str | None = None


def read_bytes_safely(path: Path, limit: int = MAX_VERSION_BYTES) -> bytes:
    """Read a regular file without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(f"{path} is a symlink") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data


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


def _text_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _describe(text: str) -> dict:
    """origin, verb, kind, namespace, name, error from the file's text."""
    out: dict = {"origin": "krkn", "verb": "", "kind": "", "namespace": None, "name": None}
    try:
        meta = parse_meta(text)
    except Exception as exc:
        return {**out, "origin": "krkn-tui", "error": f"bad krkn-tui-meta header: {exc}"}
    if meta is not None:
        return {
            "origin": "krkn-tui",
            "verb": _text_str(meta.get("verb")) or "",
            "kind": _text_str(meta.get("kind")) or "",
            "namespace": _text_str(meta.get("namespace")),
            "name": _text_str(meta.get("name")),
            "error": None,
        }
    try:
        parsed = parse_krkn_version(text)
    except Exception as exc:
        return {**out, "error": f"cannot parse as a krkn version file: {type(exc).__name__}: {exc}"}
    return {
        **out,
        "verb": parsed.callable or "",
        "namespace": parsed.namespace,
        "name": parsed.resource_identifier,
        "error": None,
    }


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_version(path: Path, *, archived: bool | None = None) -> VersionInfo:
    """Describe one version file. Never raises for a bad file: ``error`` says what is wrong.

    ``archived`` defaults to "the versions folder is named ``*-archive``".
    """
    path = Path(path)
    run_dir = path.parent.name
    run = parse_run_dir_name(run_dir)
    run_time_ns, run_uuid = run if run else (None, "")
    if archived is None:
        archived = path.parent.parent.name.endswith("-archive")
    parsed = parse_version_name(path.name)
    scenario_type, created_ns, suffix, state = parsed if parsed else ("", 0, "", "pending")
    error: str | None = None if parsed else "not a version file name"

    status = state
    if state == "pending":
        failure = read_failure(path)
        if failure is not None:
            status = "failed"
            error = _one_line(failure.get("error") or "failed")

    try:
        raw = read_bytes_safely(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "replace")
            error = error or f"not UTF-8 text: {exc}"
        described = _describe(text)
    except Exception as exc:
        described = {"origin": "krkn", "verb": "", "kind": "", "namespace": None, "name": None}
        described["error"] = f"cannot read: {exc}"
    read_error = described.pop("error")
    error = _one_line(read_error) if read_error and not error else error

    return VersionInfo(
        path=path,
        run_dir=run_dir,
        run_id=run_dir if run else "",
        run_uuid=run_uuid,
        run_time_ns=run_time_ns,
        created_ns=created_ns,
        scenario_type=scenario_type,
        suffix=suffix,
        status="archived" if archived else status,
        prior_status=status if archived else None,
        error=error,
        **described,
    )


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


def _version_names(run_dir: Path) -> list[str]:
    try:
        with os.scandir(run_dir) as it:
            return sorted(
                e.name
                for e in it
                if parse_version_name(e.name) and not e.is_dir(follow_symlinks=False)
            )
    except OSError:
        return []


def resolve_run(run: str, run_ids: set[str]) -> set[str]:
    """Run ids matching ``run``: exact uuid or id, else a prefix shared by exactly one run."""
    exact = {r for r in run_ids if r == run or parse_run_dir_name(r)[1] == run}
    if exact:
        return exact
    prefixed = {r for r in run_ids if r.startswith(run) or parse_run_dir_name(r)[1].startswith(run)}
    if len(prefixed) > 1:
        raise UserError(f"run {run!r} is ambiguous: {', '.join(sorted(prefixed))}")
    return prefixed


def list_versions(
    versions_dir: Path,
    archive_dir: Path | None = None,
    run: str | None = None,
    scenario_type: str | None = None,
    *,
    include_archived: bool = True,
) -> list[VersionInfo]:
    """All steps, oldest to newest by (run time, file time). ``archive_dir`` defaults to the
    sibling ``<versions_dir>-archive``. Raises UserError only for an ambiguous ``run`` prefix."""
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
        for file in _version_names(root / name):
            if scenario_type is not None and parse_version_name(file)[0] != scenario_type:
                continue
            out.append(read_version(root / name / file, archived=archived))
    out.sort(key=lambda v: (v.run_time_ns or 0, v.created_ns, v.path.name, v.status == "archived"))
    return out
