"""The per-run digest manifest: one JSON line per version file, written when the file is.

The executor refuses a file of ours whose bytes no longer hash to its manifest line, so an edited
or swapped step is never run by accident.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .fsio import append_line
from .naming import MANIFEST_NAME

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def manifest_path(run_dir: Path) -> Path:
    return Path(run_dir) / MANIFEST_NAME


def entry_line(file: str, sha256: str, created_ns: int) -> str:
    return json.dumps({"file": file, "sha256": sha256, "created_ns": created_ns}, sort_keys=True)


def append_entry(run_dir: Path, file: str, sha256: str, created_ns: int) -> None:
    append_line(manifest_path(run_dir), entry_line(file, sha256, created_ns))


def read_lines(run_dir: Path) -> list[str]:
    """Raw lines of the manifest; [] when there is none."""
    try:
        fd = os.open(manifest_path(run_dir), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, "rb") as f:
        raw = f.read(MAX_MANIFEST_BYTES)
    return [ln for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]


def parse_entry(line: str) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(
        entry.get("sha256"), str
    ):
        return entry
    return None


def read_entries(run_dir: Path) -> dict[str, dict]:
    """``{file name: entry}``; unreadable lines are ignored, a later line wins."""
    entries: dict[str, dict] = {}
    for line in read_lines(run_dir):
        entry = parse_entry(line)
        if entry is not None:
            entries[entry["file"]] = entry
    return entries
