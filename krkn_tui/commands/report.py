"""`krkn-tui report RUN [--format md|html] [-o FILE]`: a run's report for people (offline)."""

from __future__ import annotations

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
    from ..report import find_report, read_report, render, write_report_file

    fmt = args.format or ("html" if args.output and args.output.suffix.lower() in (".html", ".htm") else "md")
    report = read_report(find_report(common.resolve_target(args).versions_dir, args.run))
    if args.output:
        print(f"report written: {write_report_file(report, fmt, args.output)}")
    else:
        from ..sanitize import visible

        sys.stdout.write(visible(render(report, fmt), keep="\n\t"))  # a report holds what files and the cluster said
    return 0
