"""`krkn-tui history` (past runs from the reports folder, newest first) and `krkn-tui compare
RUN_A RUN_B` (two runs side by side). Offline: the reports folder only, no cluster."""

from __future__ import annotations

from . import common


def add_parsers(sub) -> None:
    p = sub.add_parser("history", help="past runs from the reports folder, newest first (offline)")
    p.add_argument("-n", "--limit", type=int, metavar="N", help="only the newest N runs")
    common.add_versions_flags(p)
    p.set_defaults(func=cmd_history)
    p = sub.add_parser("compare", help="two runs side by side: verdicts, score, recovery times, checks and SLOs (offline)")
    p.add_argument("run_a", metavar="RUN_A", help="run id (or a unique prefix), as history shows it")
    p.add_argument("run_b", metavar="RUN_B", help="the run to set beside it")
    common.add_versions_flags(p)
    p.set_defaults(func=cmd_compare)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]


def _out(lines: list[str]) -> None:
    from ..sanitize import visible

    print(visible("\n".join(lines), keep="\n"), flush=True)  # every cell came from a report file


def cmd_history(args) -> int:
    from ..report.history import HEAD, cells, history

    if args.limit is not None and args.limit < 1:
        raise common.UserError("expected a positive number", field="--limit")
    folder = common.resolve_target(args).versions_dir
    rows = history(folder, args.limit)
    if not rows:
        from ..records import reports_dir

        print(f"no run reports in {reports_dir(folder)}")
        return 0
    _out(_table(HEAD, [cells(r) for r in rows]))
    return 0


def cmd_compare(args) -> int:
    from ..report import find_report, read_report
    from ..report.history import compare, when

    folder = common.resolve_target(args).versions_dir
    a, b = (read_report(find_report(folder, run)) for run in (args.run_a, args.run_b))
    cmp = compare(a, b)
    head = ["", "A", "B", "change"]
    lines = [f"A {cmp.a.run_id} started {when(cmp.a.started)} UTC",
             f"B {cmp.b.run_id} started {when(cmp.b.started)} UTC", ""]
    for title, rows in (("run", cmp.summary), ("scenarios", cmp.scenarios),
                        ("recovery (pod deleted to replacement Ready)", cmp.recovery), ("checks", cmp.checks)):
        lines.append(f"== {title}")
        lines += _table(head, [list(r) for r in rows]) if rows else ["(none in either run)"]
        lines.append("")
    _out(lines[:-1])
    return 0
