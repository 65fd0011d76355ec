"""`list-rollback`, `execute-rollback`, `archive-rollback`, `show-rollback`.

Listing and showing read files only: they work with no cluster at all."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

from ..errors import UserError
from . import common


def _add_selection_flags(p) -> None:
    common.add_versions_flags(p)
    p.add_argument("-r", "--run", help="run id or uuid, or a unique prefix")
    p.add_argument("-s", "--scenario-type", help="only this scenario type")


def add_parsers(sub) -> None:
    ls = sub.add_parser("list-rollback", help="list rollback version files (offline)")
    _add_selection_flags(ls)
    ls.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    ls.add_argument("--no-archive", action="store_true", help="hide archived files")
    ls.set_defaults(func=cmd_list)

    ex = sub.add_parser("execute-rollback", help="execute pending version files, newest first")
    _add_selection_flags(ex)
    ex.add_argument("files", nargs="*", type=Path, help="version files (default: every pending file of the selection)")
    ex.add_argument("--dry-run", action="store_true", help="print what would run, in order")
    ex.add_argument("--allow-foreign", action="store_true", help="also run files written by krkn itself")
    ex.add_argument("--python", default=sys.executable, help="interpreter for krkn's files (default: this one)")
    ex.add_argument("--retry-deadline", type=float, default=60.0, metavar="SECONDS",
                    help="how long to wait for an unreachable or overloaded API server, before the first step "
                         "and within each (default 60)")
    ex.add_argument("--no-journal", action="store_true",
                    help="do not consult the cluster journal and the run's lease (a guard may then run the same steps)")
    common.add_journal_flags(ex)
    common.add_kube_flags(ex)
    ex.set_defaults(func=cmd_execute)

    ar = sub.add_parser("archive-rollback", help="move version files to the archive folder (history is kept)")
    _add_selection_flags(ar)
    ar.add_argument("files", nargs="*", type=Path, help="version files")
    ar.add_argument("--include-pending", action="store_true",
                    help="also archive pending and failed files (they will no longer be rolled back)")
    ar.set_defaults(func=cmd_archive)

    sh = sub.add_parser("show-rollback", help="show one version file with its metadata (offline)")
    sh.add_argument("file", type=Path)
    sh.set_defaults(func=cmd_show)


def _selection(args, statuses: set[str]) -> tuple[Path, list]:
    from ..rollback import list_versions, read_version

    vdir = common.versions_dir(args)
    if args.files:
        infos = []
        for f in args.files:
            if not f.exists() and not f.is_symlink():
                raise UserError("no such version file", file=f)
            infos.append(read_version(f))
        return vdir, infos
    if not (args.run or args.scenario_type):
        raise UserError("name a run (-r), a scenario type (-s) or files, so nothing is selected by accident")
    infos = list_versions(vdir, run=args.run, scenario_type=args.scenario_type, include_archived=False)
    _check_names_something(vdir, args.run, args.scenario_type, infos, [vdir])
    return vdir, [v for v in infos if v.status in statuses]


def _run_names(folder: Path) -> set[str]:
    from ..rollback.naming import parse_run_dir_name

    try:
        return {n for n in os.listdir(folder) if parse_run_dir_name(n)}
    except OSError:
        return set()


def _check_names_something(vdir: Path, run: str | None, scenario_type: str | None, infos: list,
                           folders: list[Path]) -> None:
    """A run or type that matches nothing is a typo: saying "nothing pending" would let the user
    believe the rollback was done."""
    from ..rollback.store import resolve_run

    if run and not resolve_run(run, set().union(*map(_run_names, folders))):
        raise UserError(f"no run matches {run!r}", file=vdir, field="-r")
    if scenario_type and not infos:
        raise UserError(f"no version file of scenario type {scenario_type!r}" + (f" in run {run!r}" if run else ""),
                        file=vdir, field="-s")


def _row(v) -> dict:
    return {
        "run": v.run_id, "created_ns": v.created_ns, "scenario_type": v.scenario_type, "verb": v.verb,
        "kind": v.kind, "namespace": v.namespace, "name": v.name, "status": v.status, "origin": v.origin,
        "error": v.error, "file": str(v.path),
    }


def cmd_list(args) -> int:
    from ..rollback import list_versions
    from ..rollback.naming import archive_dir_for

    vdir = common.versions_dir(args)
    infos = list_versions(vdir, run=args.run, scenario_type=args.scenario_type, include_archived=not args.no_archive)
    _check_names_something(vdir, args.run, args.scenario_type, infos,
                           [vdir] if args.no_archive else [vdir, archive_dir_for(vdir)])
    if args.json:
        print(json.dumps([_row(v) for v in infos], indent=2))
        return 0
    if not infos:
        print("no rollback version files")
        return 0
    print(f"{'RUN':<10} {'CREATED':<19} {'TYPE':<30} {'ACTION':<44} {'STATUS':<9} {'ORIGIN':<9} FILE")
    for v in infos:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v.created_ns / 1e9))
        target = f"{v.namespace}/{v.name}" if v.namespace else (v.name or "")
        action = " ".join(x for x in (v.verb, v.kind, target) if x)
        print(f"{v.run_uuid[:8]:<10} {created:<19} {v.scenario_type:<30} {action[:44]:<44} {v.status:<9} "
              f"{v.origin:<9} {v.path}" + (f"  ({v.error})" if v.error else ""))
    return 0


def cmd_execute(args) -> int:
    from ..rollback import Executor

    vdir, infos = _selection(args, {"pending", "failed"})
    if not args.dry_run:
        _remove_stale_temps(vdir, args.run, infos)
    if not infos:
        print("nothing pending to execute")
        return 0
    kubeconfig = common.kubeconfig_for(args)
    if not args.dry_run:
        common.check_reachable(kubeconfig, args.context, wait=args.retry_deadline)
    factory = common.api_client_factory(kubeconfig, args.context)
    links = None if args.dry_run or args.no_journal else _journal_links(args, factory, infos)
    executor = Executor(factory, allow_foreign=args.allow_foreign,
                        python=args.python, kubeconfig=kubeconfig, context=args.context,
                        retry_deadline=args.retry_deadline,
                        on_event=_record_and_report(common.versions_dir(args)), journal=links)
    try:
        results = executor.execute([v.path for v in infos], dry_run=args.dry_run)
    finally:
        if links is not None:
            links.release()
    for r in results:
        print(f"{r.status:<9} {r.path}" + (f": {r.error}" if r.error else ""))
    bad = [r for r in results if r.status in ("failed", "refused")]
    return 1 if bad else 0


def _journal_links(args, factory, infos):
    """Take the Lease of every journaled run among the selection, so that no guard runs the same
    steps meanwhile; a run someone alive holds is left to its holder."""
    from ..rollback.journal import Journal, JournalError
    from ..rollback.mirror import JournalLinks

    settings = common.journal_settings(args)
    if not settings.enabled:
        return None
    links = JournalLinks(Journal(factory(), settings.namespace), settings)
    try:
        links.take(v.path.parent.name for v in infos)
    except JournalError as e:
        links.release()
        raise UserError(f"{e} (--no-journal executes without it)", field="cluster journal") from None
    for run_id, why in links.blocked.items():
        print(f"krkn-tui: run {run_id} left alone: {why}", file=sys.stderr)
    return links


def _remove_stale_temps(vdir: Path, run: str | None, infos: list) -> None:
    """A run killed while writing a file leaves its temp file: the run's rollback clears it."""
    from ..rollback.fsio import remove_stale_temps
    from ..rollback.store import resolve_run

    folders = {v.path.parent for v in infos}
    if run:
        folders |= {vdir / n for n in resolve_run(run, _run_names(vdir))}
    for folder in sorted(folders):
        for path in remove_stale_temps(folder):
            print(f"removed   {path}: left by a writer that died mid-write")


def _record_and_report(vdir: Path):
    """Events go to the audit log; a retry is also said at once, or a wait looks like a hang."""
    from ..records import AuditLog, audit_path
    from .run import format_event

    log = AuditLog(audit_path(vdir), run_id="execute-rollback")

    def on_event(event: dict) -> None:
        log.record(event)
        if event.get("event") == "rollback_retrying":
            print(f"krkn-tui: {format_event(event).strip()}", file=sys.stderr, flush=True)

    return on_event


def cmd_archive(args) -> int:
    from ..rollback import archive

    allowed = {"executed", "pending", "failed"} if args.include_pending else {"executed"}
    vdir, infos = _selection(args, allowed)
    keep = [v for v in infos if v.status in allowed]
    for v in infos:
        if v.status not in allowed:
            print(f"kept {v.path}: {v.status} (use --include-pending to archive it anyway)", file=sys.stderr)
    try:
        moved = archive([v.path for v in keep], vdir)
    except ValueError as e:
        raise UserError(str(e), field="files") from None
    for m in moved:
        print(f"archived {m}")
    return 0


def cmd_show(args) -> int:
    from ..rollback import read_version
    from ..rollback.store import MAX_VERSION_BYTES, read_bytes_safely

    path = args.file
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise UserError("no such version file", file=path) from None
    except OSError as e:
        raise UserError(f"cannot read it: {e.strerror or e}", file=path) from None
    # What is not a plain text file is refused in one line: never a traceback, never binary on a terminal.
    if stat.S_ISLNK(st.st_mode):
        raise UserError("is a symlink; show the file it points to", file=path)
    if stat.S_ISDIR(st.st_mode):
        raise UserError("is a directory, not a version file", file=path)
    if not stat.S_ISREG(st.st_mode):
        raise UserError("is not a regular file (FIFO, socket or device), not a version file", file=path)
    if st.st_size > MAX_VERSION_BYTES:
        raise UserError(f"is larger than {MAX_VERSION_BYTES} bytes, not a version file", file=path)
    try:
        raw = read_bytes_safely(path)
    except OSError as e:
        raise UserError(f"cannot read it: {e.strerror or e}", file=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise UserError("holds binary data, not a version file", file=path)
    v = read_version(path)
    for key, value in _row(v).items():
        if value is not None:
            print(f"# {key}: {value}")
    print(text)
    return 0
