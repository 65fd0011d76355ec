"""A run's JSON report on disk: written by the engine through ``write_report`` (``model.encode``),
found by run id, and read as hostile input (no link, no FIFO, size-capped), decoded by
``model.decode``: every field checked for its type, every string one printable line, so a
tampered report renders as text, never as markup."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import UserError
from ..fsio import write_atomic
from ..records import check_reports, reports_dir
from ..rollback.naming import resolve_run
from .model import Report, decode, encode

MAX_BYTES = 32 * 1024 * 1024
_RUN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,200}$")


def write_report(versions_dir: Path, report: Report) -> Path:
    """``<versions_dir>-reports/<run_id>.json``, written atomically (a private temp file opened
    with O_EXCL|O_NOFOLLOW, fsynced, renamed); UserError if the folder is not ours and private."""
    check_reports(versions_dir)
    return write_atomic(reports_dir(versions_dir), f"{report.run_id}.json", encode(report))


def find_report(versions_dir: Path, run: str) -> Path:
    """The report of `run` (a full run id, or a unique prefix of one)."""
    if not _RUN.match(run):
        raise UserError("not a run id", field="RUN")
    folder = reports_dir(versions_dir)
    exact = folder / f"{run}.json"
    if exact.is_file():
        return exact
    names = [p.stem for p in folder.glob("*.json")] if folder.is_dir() else []
    try:
        found = sorted(resolve_run(run, names))
    except UserError as e:
        raise UserError(e.message, field="RUN") from None
    if not found:
        raise UserError(f"no report for run {run!r} in {folder}", field="RUN")
    return folder / f"{found[0]}.json"


def read_report(path: Path) -> Report:
    try:
        data = json.loads(read_report_bytes(path))
    except (ValueError, RecursionError) as e:
        raise UserError(f"not JSON: {e}", file=path) from None
    return decode(data, path)


def read_report_bytes(path: Path | str) -> bytes:
    """A report file's bytes: never through a link, never blocking on a FIFO, never past MAX_BYTES.
    (A str path too: listing a thousand reports spends more on Path objects than on reading.)"""
    from ..rollback.store import read_bytes_safely

    if os.path.islink(path):
        raise UserError("refusing a symlinked report", file=path)
    try:
        return read_bytes_safely(path, MAX_BYTES)
    except OSError as e:
        if "larger than" in str(e):
            raise UserError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB", file=path) from None
        raise UserError(f"cannot read: {e.strerror or e}", file=path) from None
