"""Durable file operations: a step is only "registered" once it would survive a power cut."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (and parents) mode 0700; True if it was created.

    An existing directory is accepted only if it is not a symlink and not group/world-writable:
    its files will later be executed.
    """
    path = Path(path)
    created = False
    if not os.path.lexists(path):
        if not path.parent.exists():
            ensure_private_dir(path.parent)
        try:
            os.mkdir(path, PRIVATE_DIR)
            created = True
        except FileExistsError:
            pass
        else:
            os.chmod(path, PRIVATE_DIR)  # umask may have been stricter; never looser
            fsync_dir(path.parent)
    problem = unsafe_dir_reason(path)
    if problem:
        raise PermissionError(problem)
    return created


def not_a_link(path: Path) -> tuple[os.stat_result | None, str | None]:
    """``(lstat, None)``, or ``(None, why)`` when it cannot be read or is a symlink."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return None, f"{path} is a symlink"
    return st, None


def unsafe_dir_reason(path: Path) -> str | None:
    """Why files under ``path`` must not be executed, or None."""
    st, why = not_a_link(path)
    if st is None:
        return why
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.geteuid():
        return f"{path} is owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(st.st_mode)
        return f"{path} is group- or world-writable (mode {mode:o}; chmod go-w it)"
    return None


def unsafe_file_reason(path: Path, st: os.stat_result) -> str | None:
    """Why a file with this (fstat) status must not be trusted, or None: it must be a regular
    file, ours, and not group- or world-writable."""
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{path} is owned by uid {st.st_uid}, not {os.geteuid()}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is group- or world-writable (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def open_private(path: Path, flags: int = os.O_RDONLY, mode: int = PRIVATE_FILE) -> int:
    """A descriptor on ``path`` that is a regular file of ours, not group/world-writable.

    Never follows a link, never blocks (a FIFO opens at once and is then refused). Raises
    FileNotFoundError when it is absent (and ``flags`` do not create it), PermissionError with
    the reason otherwise."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PermissionError(f"{path} is a symlink") from None
        if exc.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise PermissionError(f"{path} is not a regular file") from None
        raise
    try:
        reason = unsafe_file_reason(path, os.fstat(fd))
    except OSError:
        os.close(fd)
        raise
    if reason:
        os.close(fd)
        raise PermissionError(reason)
    return fd


def read_head(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file (links followed: scenario files may be links);
    a FIFO or device is refused at once instead of blocking the reader."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.read(fd, limit)
    finally:
        os.close(fd)


# write_atomic's temp names: .tmp-<name>-<writer pid>-<8 hex>
_TEMP_RE = re.compile(r"\.tmp-.+-(?P<pid>[0-9]{1,10})-[0-9a-f]{8}")


def write_atomic(directory: Path, name: str, data: bytes, mode: int = PRIVATE_FILE) -> Path:
    """Write ``directory/name`` so that it either exists complete or not at all."""
    directory = Path(directory)
    final = directory / name
    tmp = directory / f".tmp-{name}-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)
    return final


def append_line(path: Path, line: str, mode: int = PRIVATE_FILE) -> None:
    """Append one line and fsync; O_APPEND keeps concurrent writers' lines whole."""
    if "\n" in line:
        raise ValueError("a manifest line must not contain a newline")
    new = not os.path.lexists(path)
    fd = open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(Path(path).parent)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the temp files of writers that died mid-write (SIGKILL, power cut): their pid,
    which the name carries, is gone. A live writer's temp file is left alone, and so is anything
    that is not a regular file. Never raises: what cannot be removed stays."""
    directory = Path(directory)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        m = _TEMP_RE.fullmatch(name)
        if m is None or pid_alive(int(m["pid"])):
            continue
        try:
            # Only a regular file is a writer's temp file: a directory (or FIFO...) of that name
            # is someone else's, left alone, and must not stop the rollback that cleans up here.
            if not stat.S_ISREG(os.lstat(directory / name).st_mode):
                continue
            os.unlink(directory / name)
        except OSError:
            continue
        removed.append(directory / name)
    if removed:
        try:
            fsync_dir(directory)
        except OSError:
            pass
    return removed
