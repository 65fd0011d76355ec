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
from ..events import (
    Event,
    JournalNotUpdated,
    JournalStateDistrusted,
    RollbackClusterForced,
    RollbackRetrying,
    RunLeftAlone,
    StaleTempRemoved,
)
from ..sanitize import clip, local_time, one_line, visible
from . import common
from .render import render


def _add_selection_flags(p) -> None:
    common.add_versions_flags(p)
    p.add_argument("-r", "--run", help="run id or uuid, or a unique prefix")
    p.add_argument("-s", "--scenario-type", help="only this scenario type")


def add_parsers(sub) -> None:
    ls = sub.add_parser("list-rollback", help="list rollback version files (offline)")
    _add_selection_flags(ls)
    ls.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    ls.add_argument("--no-archive", action="store_true", help="hide archived files")
    ls.add_argument("--cluster", action="store_true",
                    help="list the cluster journal of the current context instead of the local files")
    common.add_journal_flags(ls)
    common.add_trust_flags(ls)
    common.add_kube_flags(ls)
    ls.add_argument("--readonly", action="store_true", help="accepted: listing changes nothing")
    ls.set_defaults(func=cmd_list)

    ex = sub.add_parser("execute-rollback", help="execute pending version files, newest first")
    _add_selection_flags(ex)
    ex.add_argument("files", nargs="*", type=Path, help="version files (default: every pending file of the selection)")
    ex.add_argument("--dry-run", action="store_true", help="print what would run, in order")
    ex.add_argument("--allow-foreign", action="store_true",
                    help="also run foreign files (krkn's own, and krkn-tui's not signed by a trusted key), isolated")
    ex.add_argument("--force-cluster", action="store_true",
                    help="also run files recorded for another cluster than the connected one (audited)")
    ex.add_argument("--python", default=sys.executable, help="interpreter for krkn's files (default: this one)")
    ex.add_argument("--retry-deadline", type=float, default=60.0, metavar="SECONDS",
                    help="how long to wait for an unreachable or overloaded API server, before the first step "
                         "and within each (default 60)")
    ex.add_argument("--no-journal", action="store_true",
                    help="do not consult the cluster journal and the run's lease (a guard may then run the same steps)")
    common.add_journal_flags(ex)
    common.add_trust_flags(ex)
    common.add_kube_flags(ex)
    ex.set_defaults(func=cmd_execute)

    ar = sub.add_parser("archive-rollback", help="move version files to the archive folder (history is kept)")
    _add_selection_flags(ar)
    ar.add_argument("files", nargs="*", type=Path, help="version files")
    ar.add_argument("--include-pending", action="store_true",
                    help="also archive pending and failed files (they will no longer be rolled back)")
    common.add_journal_flags(ar)
    common.add_kube_flags(ar)
    ar.set_defaults(func=cmd_archive)

    sh = sub.add_parser("show-rollback", help="show one version file with its metadata (offline)")
    sh.add_argument("file", type=Path, help="version file; with --cluster a journal entry (step-...) or file name")
    sh.add_argument("--cluster", action="store_true", help="show the entry of the cluster journal of that name")
    common.add_journal_flags(sh)
    common.add_trust_flags(sh)
    common.add_kube_flags(sh)
    sh.add_argument("--readonly", action="store_true", help="accepted: showing changes nothing")
    sh.add_argument("--reveal", action="store_true",
                    help="show the values of captured Secrets (masked by default); audited in the audit log of "
                         "the versions folder (-d, the config's, then ~/.krkn/rollback)")
    common.add_versions_flags(sh)
    sh.set_defaults(func=cmd_show)


def _service(args, *, with_cluster: bool = False):
    """The rollback service for these flags; the console and the engine use the same one."""
    from ..rollback.front import RollbackService

    target = common.resolve_target(args, cluster=with_cluster)
    trust_keys = common.key_lines(getattr(args, "trust_key", None) or ())
    if not with_cluster:
        service = RollbackService.for_target(target, client=args.command, trust_keys=trust_keys)
    else:
        service = RollbackService.for_target(
            target, client=args.command, allow_foreign=args.allow_foreign, force_cluster=args.force_cluster,
            python=args.python, trust_keys=trust_keys,
            retry_deadline=args.retry_deadline, on_event=_report)
    if with_cluster:  # a key line that does not parse: one line now, before the cluster is asked anything
        service.trust.check()
    elif trust_keys:
        service.trust.keys()
    return target, service


def _row(v) -> dict:
    return {
        "run": v.run_id, "created_ns": v.created_ns, "scenario_type": v.scenario_type, "verb": v.verb,
        "kind": v.kind, "namespace": v.namespace, "name": v.name, "status": v.status, "origin": v.origin,
        "trust": v.foreign or ("ours: signed by a trusted key" if v.origin == "krkn-tui" else None), "cluster": v.cluster.to_dict() if v.cluster is not None else None,
        "error": v.error, "file": str(v.path),
    }


def _cluster_flags_only_with_cluster(args) -> None:
    """Without --cluster, listing and showing read local files: a cluster flag would do nothing."""
    for flag, value in (("--kubeconfig", args.kubeconfig), ("--context", args.context)):
        if value and not args.cluster:
            raise UserError(f"applies to {args.command} only with --cluster (local files need no cluster)", field=flag)


def cmd_list(args) -> int:
    from ..rollback.front import trust_note

    _cluster_flags_only_with_cluster(args)
    if args.cluster:
        return _list_journal(args)
    _target, service = _service(args)
    infos = service.select(run=args.run, scenario_type=args.scenario_type, include_archived=not args.no_archive)
    if args.json:
        print(json.dumps([_row(v) for v in infos], indent=2))
        return 0
    if not infos:
        print("no rollback version files")
        return 0
    print(f"{'RUN':<10} {'CREATED':<19} {'TYPE':<30} {'ACTION':<44} {'STATUS':<9} {'ORIGIN':<9} FILE")
    for v in infos:
        created = local_time(v.created_ns)
        target = f"{v.namespace}/{v.name}" if v.namespace else (v.name or "")
        action = clip(" ".join(x for x in (v.verb, v.kind, target) if x), 44)
        notes = "; ".join(n for n in (v.error, trust_note(v)) if n)
        # Everything but the created time comes from names and files: shown, never obeyed.
        print(f"{clip(v.run_uuid, 8):<10} {created:<19} {visible(v.scenario_type):<30} {action:<44} "
              f"{visible(v.status):<9} {visible(v.origin):<9} {visible(v.path)}"
              + (f"  ({one_line(notes)})" if notes else ""))
    return 0


def cmd_execute(args) -> int:
    from ..rollback.front import EXECUTABLE, summarize

    target, service = _service(args, with_cluster=True)
    infos = service.select(run=args.run, scenario_type=args.scenario_type, files=args.files,
                           statuses=EXECUTABLE, require=True)
    if not infos:
        if not args.dry_run:
            service.execute([], run=args.run)  # still clears what a dead writer left
        print("nothing pending to execute")
        return 0
    if not args.dry_run:
        common.check_reachable(target.kubeconfig, target.context, wait=args.retry_deadline)
    service.journal_settings = None if args.no_journal else common.journal_settings(args)
    service.journal_trust = None if args.no_journal else common.local_trust(args)
    results = service.execute([v.path for v in infos], dry_run=args.dry_run, run=args.run)
    for r in results:
        print(f"{r.status:<9} {visible(r.path)}" + (f": {one_line(r.error)}" if r.error else ""))
    tally = summarize(results)
    if len(results) > 1:  # one step's line says it all (a bad file stays a one-line error)
        print(f"rollback finished: {tally.text()}")
    return 1 if tally.failed else 0


def _report(event: Event) -> None:
    """Said at once: a retry, or a wait looks like a hang; a removed temp file, or it vanishes
    unexplained. (The service has already audited the event.)"""
    if isinstance(event, RollbackRetrying):
        print(f"krkn-tui: {one_line(render(event))}", file=sys.stderr, flush=True)
    elif isinstance(event, RollbackClusterForced):
        print(f"krkn-tui: {one_line(render(event))}", file=sys.stderr, flush=True)
    elif isinstance(event, StaleTempRemoved):
        print(visible(render(event)), flush=True)
    elif isinstance(event, (RunLeftAlone, JournalNotUpdated, JournalStateDistrusted)):
        print(f"krkn-tui: {one_line(render(event))}", file=sys.stderr, flush=True)


def cmd_archive(args) -> int:
    from ..rollback.front import RollbackService

    allowed = {"executed", "pending", "failed"} if args.include_pending else {"executed"}
    # Offline still works; with a cluster configured, archived steps are recorded in its journal.
    target = common.resolve_target(args, cluster=True)
    service = RollbackService.for_target(target, client=args.command, on_event=_report,
                                         journal_settings=common.journal_settings(args))
    infos = service.select(run=args.run, scenario_type=args.scenario_type, files=args.files, require=True)
    keep = [v for v in infos if v.status in allowed]
    for v in infos:
        if v.status not in allowed:
            print(f"kept {visible(v.path)}: {v.status} (use --include-pending to archive it anyway)", file=sys.stderr)
    refused: list = []
    for m in service.archive([v.path for v in keep], refused=refused):
        print(f"archived {visible(m)}")
    for path, reason in refused:
        print(f"kept {visible(path)}: {one_line(reason)}", file=sys.stderr)
    return 1 if refused else 0


def _open_journal(args):
    from ..rollback.front import Journal

    settings = common.journal_settings(args)
    client, identity = common.journal_client(args)
    return Journal(client, settings.namespace, identity), identity


def _lease_text(lease, now: float, settings) -> str:
    from ..rollback.front import held_past_bound

    if lease is None:
        return "no lease"
    if not lease.holder:
        return "released"
    left = -lease.expired_for(now)
    text = f"held by {lease.holder}" if left >= 0 else f"expired {-left:.0f}s ago ({lease.holder})"
    over = held_past_bound(lease, settings, now)
    return text + (f", {over:.0f}s PAST ITS BOUND: its rollback is blocked" if over is not None else "")


def _check_text(entry, trusted, identity) -> str:
    """``ok: ...`` or ``refused: <why>``: what the guard would decide under these keys."""
    from ..rollback.front import refusal

    why = refusal(entry, trusted, identity)
    return f"refused: {why}" if why else f"ok: signed by {entry.payload.get('signer')}, op {entry.op}, this cluster"


def _journal_row(entry, lease_text: str, trusted, identity) -> dict:
    from ..rollback.front import shown_state

    return {"run": entry.run_id, "created_ns": entry.created_ns, "scenario_type": entry.scenario_type,
            "op": entry.op, "state": shown_state(entry, trusted), "origin_host": entry.origin_host,
            "created_by": entry.created_by, "entry": entry.name, "file": entry.file, "size": len(entry.raw),
            "state_by": entry.state_by, "error": entry.error, "cluster": entry.cluster.to_dict(),
            "check": _check_text(entry, trusted, identity), "lease": lease_text}


def _list_journal(args) -> int:
    from ..rollback.front import JournalError, lease_name, leases_by_name, parse_run_dir_name, refusal, resolve_run

    journal, identity = _open_journal(args)
    trusted = common.local_trust(args)
    settings = common.journal_settings(args)
    try:
        entries = journal.entries()
        leases = leases_by_name(journal)
    except JournalError as e:
        raise UserError(str(e), field="--cluster") from None
    if args.run:
        wanted = resolve_run(args.run, {e.run_id for e in entries})
        entries = [e for e in entries if e.run_id in wanted]
    if args.scenario_type:
        entries = [e for e in entries if e.scenario_type == args.scenario_type]
    if args.no_archive:
        entries = [e for e in entries if e.state != "archived"]
    now = time.time()
    rows = [_journal_row(e, _lease_text(leases.get(lease_name(e.run_id)), now, settings), trusted, identity)
            for e in entries]
    refused = [refusal(e, trusted, identity) for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no journal entries in namespace {journal.namespace} of {identity.describe()}")
        return 0
    print(f"{'RUN':<10} {'CREATED':<19} {'OP':<52} {'STATE':<9} {'HOST':<16} {'ENTRY':<37} LEASE")
    for entry, r, why in zip(entries, rows, refused, strict=True):
        created = local_time(r["created_ns"])
        uuid_part = (parse_run_dir_name(entry.run_id) or (0, entry.run_id))[1]
        why = f"refused: {why}" if why else None
        # Journal entries are read from the cluster: anyone who may write there wrote them.
        print(f"{clip(uuid_part, 8):<10} {created:<19} {clip(r['op'] or '?', 52):<52} {clip(r['state'], 9):<9} "
              f"{clip(r['origin_host'], 16):<16} {visible(r['entry']):<37} {one_line(r['lease'])}"
              + "".join(f"  ({one_line(x)})" for x in (why, r["error"]) if x))
    return 0


def _show_journal(args) -> int:
    from ..rollback.front import JournalError

    journal, identity = _open_journal(args)
    trusted = common.local_trust(args)
    wanted = str(args.file)
    try:
        entry = journal.entry(wanted) if wanted.startswith("step-") else None
        if entry is None:
            entry = next((e for e in journal.entries() if e.file == wanted or e.file + ".executed" == wanted), None)
        if entry is None:
            raise UserError(f"no entry of that name in the cluster journal {journal.namespace}", field=wanted)
    except JournalError as e:
        raise UserError(str(e), field="--cluster") from None
    row = _journal_row(entry, "", trusted, identity)
    row.pop("lease")
    row["cluster"] = entry.cluster.describe()
    if args.reveal:
        row["secrets"] = "the journal holds no Secret values (redacted when mirrored); the local version file has them"
    # The data as JSON, one key a line: it holds no code, and its Secret values are redacted.
    text = (json.dumps(entry.payload, indent=2, sort_keys=True, ensure_ascii=True) if entry.payload is not None
            else entry.raw.decode("utf-8", "replace"))
    for key, value in row.items():
        if value not in (None, ""):
            print(f"# {key}: {one_line(value)}")
    print(visible(text, keep="\n"))
    return 0


def cmd_show(args) -> int:
    from ..rollback.front import read_version
    from ..rollback.front import FolderTrust
    from ..rollback.front import MAX_VERSION_BYTES, read_bytes_safely

    _cluster_flags_only_with_cluster(args)
    # Showing writes nothing: a versions folder or config only decides where a reveal is audited
    # (and the config, the cluster journal's settings).
    if args.versions_dir and not args.reveal:
        raise UserError("applies to show-rollback only with --reveal (its audit log records the reveal)",
                        field="-d/--versions-dir")
    if args.config and not (args.reveal or args.cluster):
        raise UserError("applies to show-rollback only with --reveal or --cluster", field="-c/--config")
    if args.cluster:
        return _show_journal(args)
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
    trust = FolderTrust(common.key_lines(args.trust_key))
    trust.keys()  # a --trust-key line that does not parse: one line, not a note
    v = read_version(path, trust=trust)
    fields = {**_row(v), "cluster": v.cluster.describe() if v.cluster is not None else "unknown"}
    return _print_source(args, fields, raw, path)


def _print_source(args, fields: dict, raw: bytes, where) -> int:
    """The metadata lines, then the source: only text that obeys the rule (what is shown is
    what runs), every field sanitised, Secret values masked unless ``--reveal`` (audited, as
    the console's reveal is: the service does both)."""
    from ..rollback.front import shown_source
    from ..rollback.front import UnsafeSource

    try:
        if args.reveal:
            _target, service = _service(args)
            shown = service.shown_source(raw, where, reveal=True)
        else:
            shown = shown_source(raw)
    except UnsafeSource as e:  # shown text would not be the text that runs
        raise UserError(f"unsafe: {e}; not shown", file=where) from None
    note = shown.note("--reveal")
    if note:
        fields = {**fields, "secrets": note + (" (audited)" if shown.revealed else "")}
    for key, value in fields.items():
        if value not in (None, ""):
            print(f"# {key}: {one_line(value)}")
    print(shown.text)
    return 0
