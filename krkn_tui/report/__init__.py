"""Run reports for people: Markdown or a self-contained HTML file, from a run's JSON report."""

from __future__ import annotations

from pathlib import Path

from .load import find_report, read_report
from .model import Report
from .render import render_html, render_markdown

__all__ = ["Report", "find_report", "read_report", "render", "render_html", "render_markdown", "write_report_file"]


def render(report: Report, fmt: str) -> str:
    return render_html(report) if fmt == "html" else render_markdown(report)


def write_report_file(report: Report, fmt: str, path: Path) -> Path:
    """Written to a private temporary name (random, O_EXCL|O_NOFOLLOW: a link planted in a
    shared folder is never followed) and renamed: a reader never sees half a report."""
    from ..errors import UserError
    from ..fsio import write_atomic

    path = Path(path)
    try:
        write_atomic(path.parent, path.name, render(report, fmt).encode("utf-8"))
    except OSError as e:
        raise UserError(f"cannot write: {e.strerror or e}", file=path) from None
    return path
