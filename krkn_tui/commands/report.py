"""`krkn-tui report RUN [--format md|html] [-o FILE]`: a run's report for people (offline)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import common


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="a run's report as Markdown or self-contained HTML (offline)")
    p.add_argument("run", metavar="RUN", help="run id (or a unique prefix), as list-rollback shows it")
    p.add_argument("--format", choices=("md", "html"), help="default: from -o's suffix, else md")
    p.add_argument("-o", "--output", type=Path, help="write to FILE (default: standard output)")
    common.add_versions_flags(p)
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from ..report import find_report, read_report

    fmt = args.format or ("html" if args.output and args.output.suffix.lower() in (".html", ".htm") else "md")
    report = read_report(find_report(common.resolve_target(args).versions_dir, args.run))
    text = write_report_file(report, fmt, args.output) if args.output else render(report, fmt)
    if args.output:
        print(f"report written: {text}")
    else:
        sys.stdout.write(text)
    return 0


def render(report: dict, fmt: str) -> str:
    from ..report import render_html, render_markdown

    return render_html(report) if fmt == "html" else render_markdown(report)


def write_report_file(report: dict, fmt: str, path: Path) -> str:
    """Written to a temporary name and renamed: a reader never sees half a report."""
    from ..errors import UserError

    body = render(report, fmt)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write: {e.strerror or e}", file=path, field="-o") from None
    return str(path)
