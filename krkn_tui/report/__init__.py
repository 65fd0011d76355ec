"""Run reports for people: Markdown or a self-contained HTML file, from a run's JSON report."""

from __future__ import annotations

import os
from pathlib import Path

from .load import find_report, read_report
from .render import render_html, render_markdown

__all__ = ["find_report", "read_report", "render", "render_html", "render_markdown", "write_report_file"]


def render(report: dict, fmt: str) -> str:
    return render_html(report) if fmt == "html" else render_markdown(report)


def write_report_file(report: dict, fmt: str, path: Path) -> Path:
    """Written to a temporary name and renamed: a reader never sees half a report."""
    from ..errors import UserError

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(render(report, fmt), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write: {e.strerror or e}", file=path) from None
    return path
