"""Move steps out of the versions directory into ``<versions_dir>-archive/<run dir>/``.

History is kept (krkn deletes it): the archive has the same run tree, the ``.failed`` records and
the manifest lines, so archived steps can still be listed, inspected and verified.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import manifest
from ..fsio import append_line, ensure_private_dir, fsync_dir
from .naming import FAILED, archive_dir_for, parse_run_dir_name, parse_version_name, pending_name

log = logging.getLogger(__name__)


def _check_inside(path: Path, versions_dir: Path) -> Path:
    path = Path(os.path.abspath(path))
    ok = parse_run_dir_name(path.parent.name) and parse_version_name(path.name)
    if ok and path.parent.parent != Path(os.path.abspath(versions_dir)):
        try:
            ok = os.path.samefile(path.parent.parent, versions_dir)
        except OSError:
            ok = False
    if not ok:
        raise ValueError(f"{path} is not a version file of {versions_dir}")
    return path


@contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Hold the executor's lock on ``path``; yields False if it is busy or gone.

    Held across the rename so an executor can never run a step that is being moved.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        yield False
        return
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        yield True  # a symlink: nothing runs it, moving the link itself is harmless
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield os.path.lexists(path)
    finally:
        os.close(fd)


def _copy_manifest_lines(src_run: Path, dst_run: Path, files: set[str] | None) -> None:
    """Append ``files``' lines (all lines if None) to the archive's manifest, once each."""
    have = set(manifest.read_lines(dst_run))
    for line in manifest.read_lines(src_run):
        entry = manifest.parse_entry(line)
        if line in have or (files is not None and (entry is None or entry.file not in files)):
            continue
        append_line(manifest.manifest_path(dst_run), line)
        have.add(line)


def _has_steps(run_dir: Path) -> bool:
    try:
        names = os.listdir(run_dir)
    except FileNotFoundError:
        return False
    return any(parse_version_name(n) or n.endswith(".py" + FAILED) for n in names)


def _retire_run_dir(run_dir: Path, dst_run: Path) -> None:
    """Once no step is left: the manifest goes to the archive, and the empty directory away."""
    if _has_steps(run_dir):
        return
    _copy_manifest_lines(run_dir, dst_run, None)
    try:
        os.unlink(manifest.manifest_path(run_dir))
    except FileNotFoundError:
        pass
    try:
        os.rmdir(run_dir)
    except OSError:  # something else lives there (krkn's logs/): leave it
        fsync_dir(run_dir)
        return
    fsync_dir(run_dir.parent)


def _move(path: Path, dst_run: Path) -> Path:
    target = dst_run / path.name
    if os.path.lexists(target):
        raise FileExistsError(f"{target} already exists in the archive")
    ensure_private_dir(dst_run)
    # Manifest line first: an archived step must never be without its digest.
    _copy_manifest_lines(path.parent, dst_run, {pending_name(path.name)})
    os.rename(path, target)
    sidecar = Path(str(path) + FAILED)
    if os.path.lexists(sidecar):
        os.rename(sidecar, dst_run / sidecar.name)
    fsync_dir(dst_run)
    fsync_dir(path.parent)
    return target


def archive(paths: list[Path], versions_dir: Path, archive_dir: Path | None = None,
            refused: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Move version files (with ``.failed`` records and manifest lines) into the archive.

    Returns the new paths. A file an executor is running right now, or that is already gone, is
    left alone and not in the result. A step that cannot be moved (its run's manifest is a link,
    a FIFO, not ours...) is left too, and ``(path, reason)`` goes to ``refused``: the other steps
    are still archived. Raises ValueError for a path outside ``versions_dir``.
    """
    versions_dir = Path(versions_dir).expanduser()
    archive_dir = Path(archive_dir).expanduser() if archive_dir else archive_dir_for(versions_dir)
    items = [_check_inside(p, versions_dir) for p in paths]
    if not items:
        return []
    ensure_private_dir(archive_dir)
    moved: list[Path] = []
    touched: dict[Path, Path] = {}
    for path in items:
        try:
            with _locked(path) as free:
                if free:
                    moved.append(_move(path, archive_dir / path.parent.name))
                    touched[path.parent] = archive_dir / path.parent.name
        except OSError as exc:
            _refuse(refused, path, exc)
    for run_dir, dst_run in touched.items():
        try:
            _retire_run_dir(run_dir, dst_run)
        except OSError as exc:
            _refuse(refused, run_dir, exc)
    return moved


def _refuse(refused: list | None, path: Path, exc: OSError) -> None:
    reason = f"not archived: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.strerror and exc.filename else "")
    log.warning("%s: %s", path, reason)
    if refused is not None:
        refused.append((path, reason))
