"""`krkn-tui guard`: roll back, from the cluster journal, the runs whose machine stopped renewing
their Lease. Exit codes with --once: 0 nothing failed, 1 a step failed, was refused, left objects to
the operator (partial) or was left whole to the operator (operator: it needs pods/exec).

Trust: the guard runs an entry only when it is signed by a key it was given (``--trusted-keys``
files, ``--trust-key`` lines) or its own (``--key``, which signs the states it records); in a
cluster these come from a ConfigMap and a Secret that only cluster admins can change."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from ..errors import UserError
from ..events import Event, GuardStarted, JournalUnavailable
from . import common
from .render import printed


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
    p.add_argument("--trusted-keys", action="append", default=[], type=Path, metavar="FILE",
                   help="public key lines (`krkn-tui key show`) of the operators whose entries it runs; repeatable")
    p.add_argument("--trust-key", action="append", default=[], metavar="LINE",
                   help="one more trusted public key line; repeatable")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="the guard's own signing key, made on first use (default: ~/.config/krkn-tui/signing-key)")
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


def _trust(args):
    """``(signer, trusted keys)``: its own key and what it was given; one line for a bad file."""
    from ..rollback.front import SigningError, TrustedKeys, load_or_create

    try:
        signer = load_or_create(args.key)
        trusted = TrustedKeys([signer.public_raw])
        for path in args.trusted_keys:
            trusted.add_file(path)
        for line in common.key_lines(args.trust_key):
            trusted.add_text(line)
    except SigningError as e:
        raise UserError(str(e), field="--key/--trusted-keys/--trust-key") from None
    except OSError as e:
        raise UserError(f"cannot read it: {e.strerror or e}", file=args.key) from None
    return signer, trusted


def print_event(event: Event) -> None:
    """What the guard command prints of an event it reports: one line on stdout (stderr for the
    journal out of reach). Run ids, entry names and errors come from the journal: folded into
    one line, shown, never obeyed."""
    line = printed(event, fold=True)
    if line:
        print(line, file=sys.stderr if isinstance(event, JournalUnavailable) else sys.stdout, flush=True)


def _halt_reader(client, namespace: str, trusted):
    """What the cluster's halt says now, for the guard's passes ("" none, None when unreadable)."""
    from ..halt import HaltError, read

    def said() -> str | None:
        try:
            halt = read(client, namespace, trusted)
        except HaltError:
            return None
        return halt.describe() if halt else ""

    return said


def cmd_guard(args) -> int:
    from ..records import AuditLog, audit_path
    from ..rollback.front import Guard
    from ..rollback.front import JournalError

    _check(args)
    signer, trusted = _trust(args)
    settings = common.journal_settings(args)
    client, identity = common.journal_client(args)
    audit = AuditLog(audit_path(common.resolve_target(args).versions_dir), run_id="guard")
    guard = Guard(client, settings, identity, trusted=trusted, signer=signer, grace=args.grace, audit=audit,
                  on_event=print_event, retry_deadline=args.retry_deadline,
                  read_halt=_halt_reader(client, settings.namespace, trusted))
    print_event(GuardStarted(guard.holder, settings.namespace, identity.describe(), args.grace,
                          None if args.once else args.interval))
    if args.once:
        try:
            outcomes = guard.once()
        except JournalError as e:
            raise UserError(str(e), field="journal") from None
        return 1 if any(o.status in ("failed", "refused", "partial", "operator") for o in outcomes) else 0
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a guard holds no change of its own: just stop
        signal.signal(sig, lambda *_: stop.set())
    guard.run_forever(stop, args.interval)
    return 0
