"""Checks before a version file is executed: it is code, so only run what we wrote and kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from . import manifest
from .fsio import sha256_hex, unsafe_dir_reason, unsafe_file_reason  # noqa: F401 (re-exported)
from .naming import pending_name


def unsafe_location_reason(path: Path) -> str | None:
    """Refusal reason for the file's path and its run and versions directories, or None."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symlink"
    run_dir = path.parent
    return unsafe_dir_reason(run_dir) or unsafe_dir_reason(run_dir.parent)


def digest_mismatch_reason(path: Path, data: bytes) -> str | None:
    """Our files must hash to their manifest line: an edited step is refused."""
    entry = manifest.read_entries(path.parent).get(pending_name(path.name))
    if entry is None:
        return f"{path.name} is not in the run's manifest ({manifest.MANIFEST_NAME})"
    if entry["sha256"] != sha256_hex(data):
        return f"{path.name} was modified after it was written (sha256 differs from the manifest)"
    return None
