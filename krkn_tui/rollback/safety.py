"""Checks before a version file is executed: it is code, so only run what we wrote and kept."""

from __future__ import annotations

from pathlib import Path

from . import manifest
from ..fsio import not_a_link, sha256_hex, unsafe_dir_reason, unsafe_file_reason  # noqa: F401 (re-exported)
from .naming import pending_name


def unsafe_location_reason(path: Path) -> str | None:
    """Refusal reason for the file's path and its run and versions directories, or None."""
    _st, why = not_a_link(path)
    if why is not None:
        return why
    run_dir = path.parent
    return unsafe_dir_reason(run_dir) or unsafe_dir_reason(run_dir.parent)


def _not_in_manifest(path: Path) -> str:
    return f"{path.name} is not in the run's manifest ({manifest.MANIFEST_NAME})"


def _modified(path: Path) -> str:
    return f"{path.name} was modified after it was written (sha256 differs from the manifest)"


def digest_mismatch_reason(path: Path, data: bytes) -> str | None:
    """Our files must hash to their manifest line: an edited step is refused."""
    entry = manifest.read_entries(path.parent).get(pending_name(path.name))
    if entry is None:
        return _not_in_manifest(path)
    return _modified(path) if entry.sha256 != sha256_hex(data) else None


def manifest_verdict(path: Path, data: bytes, trust) -> tuple[str | None, str | None]:
    """``(refusal, foreign)`` for a file with krkn-tui's header. ``refusal``: it must not run at
    all (no manifest line; or a line signed by a trusted key that the bytes no longer match: an
    edited step). ``foreign``: why it is not ours (``folder_trust.FolderTrust``): its line is
    unsigned, badly signed or signed by a key not trusted, so it runs only as a foreign file."""
    entry = manifest.read_entries(path.parent).get(pending_name(path.name))
    if entry is None:
        return _not_in_manifest(path), None
    foreign = trust.foreign_reason(path.parent.name, entry)
    if foreign is None and entry.sha256 != sha256_hex(data):
        return _modified(path), None
    return None, foreign
