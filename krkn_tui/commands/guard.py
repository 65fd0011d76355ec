"""`krkn-tui guard`: roll back, from the cluster journal, the runs whose machine stopped renewing
their Lease. Exit codes with --once: 0 nothing failed, 1 a step failed or was refused."""

from __future__ import annotations

import sys
import threading
import time

from ..errors import UserError
from ..sanitize import one_line, visible
from . import common


def add_parser(sub) -> None:
    p = sub.add_parser("guard", help="execute, from the cluster journal, the pending steps of runs that died")
    p.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                   help="how long a run's lease must have been expired before its steps are executed (default 30)")
    p.add_argument("--once", action="store_true", help="handle what is due now and exit")
    p.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                   help="how often to look at the journal and the leases (default 5)")
    p.add_argument("--retry-deadline", type=float, default=60.0, metavar="SECONDS",
                   help="how long one step waits for an unreachable or overloaded API server (default 60)")
    p.add_argument("--in-cluster", action="store_true",
                   help="use the pod's service account instead of a kubeconfig (deploy/guard.yaml)")
    common.add_versions_flags(p)
    common.add_journal_flags(p)
    common.add_kube_flags(p)
    p.set_defaults(func=cmd_guard)


def _check(args) -> None:
    for flag, value in (("--grace", args.grace), ("--retry-deadline", args.retry_deadline)):
        if not value >= 0:
            raise UserError(f"must be zero or more, got {value}", field=flag)
    if not args.interval > 0:
        raise UserError(f"must be more than zero, got {args.interval}", field="--interval")


def _print(step) -> None:
    if not step.entry and not step.run_id:
        print(f"[{time.strftime('%H:%M:%S')}] journal not available: {one_line(step.error)}", file=sys.stderr,
              flush=True)
        return
    # Run ids and file names come from the journal's annotations: shown, never interpreted.
    where = f"{step.entry} ({step.file})" if step.entry else "-"
    print(f"[{time.strftime('%H:%M:%S')}] {step.status:<9} run {visible(step.run_id)} {visible(where)}"
          + (f": {one_line(step.error)}" if step.error else ""), flush=True)


def cmd_guard(args) -> int:
    from ..records import AuditLog, audit_path
    from ..rollback.guard import Guard
    from ..rollback.journal import JournalError

    _check(args)
    settings = common.journal_settings(args)
    client, identity = common.journal_client(args)
    audit = AuditLog(audit_path(common.resolve_target(args).versions_dir), run_id="guard")
    guard = Guard(client, settings, identity, grace=args.grace, audit=audit, on_step=_print,
                  retry_deadline=args.retry_deadline)
    print(f"guard {guard.holder}: journal {settings.namespace} on {identity.describe()}, grace {args.grace:g}s"
          + (", once" if args.once else f", every {args.interval:g}s"), flush=True)
    if args.once:
        try:
            steps = guard.once()
        except JournalError as e:
            raise UserError(str(e), field="journal") from None
        if not any(s.entry for s in steps):
            print("nothing due")
        return 1 if any(s.status in ("failed", "refused") for s in steps) else 0
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a guard holds no change of its own: just stop
        signal.signal(sig, lambda *_: stop.set())
    guard.run_forever(stop, args.interval)
    return 0
