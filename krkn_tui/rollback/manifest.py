"""The per-run digest manifest: one JSON line per version file, written when the file is.

The executor refuses a file of ours whose bytes no longer hash to its manifest line, so an edited
or swapped step is never run by accident. Each line is signed by the writer's operator key over
its fields and the run id (``folder_trust``): a line that does not verify against a trusted key
makes its file foreign, whatever its header says.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..fsio import append_line, open_private
from .naming import MANIFEST_NAME

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def manifest_path(run_dir: Path) -> Path:
    return Path(run_dir) / MANIFEST_NAME


@dataclass(frozen=True)
class ManifestEntry:
    """One line: the file, its digest when written, when, and the writer's signature over them.
    Read from a file, a line without a string file and sha256 is no entry; any other field of
    the wrong type reads as missing (the signature then does not verify)."""

    file: str
    sha256: str
    created_ns: int | None = None
    signature: str | None = None
    signature_malformed: bool = False  # present but not text

    @classmethod
    def read(cls, raw: object) -> ManifestEntry | None:
        if not (isinstance(raw, dict) and isinstance(raw.get("file"), str) and isinstance(raw.get("sha256"), str)):
            return None
        created, signature = raw.get("created_ns"), raw.get("signature")
        return cls(raw["file"], raw["sha256"],
                   created if isinstance(created, int) and not isinstance(created, bool) else None,
                   signature if isinstance(signature, str) else None,
                   signature is not None and not isinstance(signature, str))


def entry_line(run_id: str, file: str, sha256: str, created_ns: int, signer=None) -> str:
    """One line, signed by ``signer`` (default: the operator's key, loaded once per process)."""
    from .folder_trust import sign_entry

    entry = ManifestEntry(file, sha256, created_ns)
    return json.dumps({"file": file, "sha256": sha256, "created_ns": created_ns,
                       "signature": sign_entry(run_id, entry, signer)}, sort_keys=True)


def append_entry(run_dir: Path, file: str, sha256: str, created_ns: int, signer=None) -> None:
    """Sign and append the line of ``file``; its run id is the run folder's name."""
    append_line(manifest_path(run_dir), entry_line(Path(run_dir).name, file, sha256, created_ns, signer))


def _read_raw(run_dir: Path) -> bytes | None:
    """The manifest's bytes; None when there is none. A manifest that is a link, a directory, a
    FIFO, someone else's or group/world-writable raises PermissionError: its digests are not
    to be trusted (and a FIFO must not hang the reader)."""
    try:
        fd = open_private(manifest_path(run_dir))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(MAX_MANIFEST_BYTES)


def _split(raw: bytes) -> list[str]:
    return [ln for ln in raw.decode("utf-8", "replace").splitlines() if ln.strip()]


def read_lines(run_dir: Path) -> list[str]:
    """Raw lines of the manifest; [] when there is none."""
    raw = _read_raw(run_dir)
    return [] if raw is None else _split(raw)


def parse_entry(line: str) -> ManifestEntry | None:
    try:
        return ManifestEntry.read(json.loads(line))
    except (ValueError, RecursionError):  # a hostile line nested thousands deep
        return None


def _parse_into(entries: dict[str, ManifestEntry], raw: bytes) -> None:
    for line in _split(raw):
        entry = parse_entry(line)
        if entry is not None:
            entries[entry.file] = entry


# The executor checks every step against its run's manifest; parsing the whole file each time
# made a 500-step rollback quadratic. The file is still read in full on every call and only a
# byte-identical prefix reuses its parse, so an edited manifest is seen exactly as before.
_CACHE_RUNS = 16
_CACHE_MAX_BYTES = 8 * 1024 * 1024
_cache: dict[str, tuple[bytes, dict[str, ManifestEntry]]] = {}  # manifest path -> (whole lines, entries)
_cache_lock = threading.Lock()


def read_entries(run_dir: Path) -> dict[str, ManifestEntry]:
    """``{file name: entry}``; unreadable lines are ignored, a later line wins."""
    raw = _read_raw(run_dir)
    if not raw:
        return {}
    key = str(manifest_path(run_dir))
    whole = raw.rfind(b"\n") + 1  # a line still being appended is parsed but not cached
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and raw.startswith(cached[0]):
        done, entries = cached[0], dict(cached[1])
    else:
        done, entries = b"", {}
    _parse_into(entries, raw[len(done):whole])
    if whole and whole <= _CACHE_MAX_BYTES and len(done) != whole:
        with _cache_lock:
            _cache.pop(key, None)
            _cache[key] = (raw[:whole], dict(entries))
            while len(_cache) > _CACHE_RUNS:
                del _cache[next(iter(_cache))]
    _parse_into(entries, raw[whole:])
    return entries
