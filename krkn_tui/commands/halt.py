"""`krkn-tui halt --reason TEXT` and `krkn-tui resume`: the game day's one stop (krkn_tui.halt).

Exit codes: 0 done; 1 nothing to do (already halted: who and why are printed; not halted);
2 bad input or the cluster out of reach."""

from __future__ import annotations

from ..errors import UserError
from . import common


def add_parser(sub) -> None:
    p = sub.add_parser("halt", help="halt every krkn-tui run on the cluster: runs stop and roll back, new runs "
                                    "are refused until `resume` (and krkn's STOP is posted where the config names it)")
    p.add_argument("--reason", required=True, help="why, in one line: every console shows it")
    _common(p)
    p.set_defaults(func=cmd_halt)
    r = sub.add_parser("resume", help="lift the cluster's halt: runs may start again")
    _common(r)
    r.set_defaults(func=cmd_resume)
    s = sub.add_parser("halt-status", help="say whether the cluster is halted, by whom and why (exit 1 if halted)")
    _common(s)
    common.add_trust_flags(s)
    s.set_defaults(func=cmd_status)


def _common(p) -> None:
    p.add_argument("-c", "--config", type=common.Path, help="krkn config.yaml: its journal namespace and krkn "
                   "signal endpoint (default ./config.yaml if present)")
    p.add_argument("--journal-namespace", help="where the halt record lives (default: the config's "
                   "kraken.cluster_journal_namespace, then krkn-rollback)")
    common.add_kube_flags(p)


def _config(args):
    if args.config or common.DEFAULT_CONFIG.exists():
        return common.load_config_arg(args.config, check_files=False)
    return None


def cmd_halt(args) -> int:
    from ..halt import HaltError, write
    from ..krkn_signal import post_stop

    config = _config(args)
    if not args.reason.strip():  # before the cluster is asked anything
        raise UserError("a halt needs a reason: every console shows it", field="--reason")
    settings = common.journal_settings(args)
    api_client, identity = common.journal_client(args)
    try:
        halt, new = write(api_client, settings.namespace, args.reason, identity=identity)
    except HaltError as exc:
        raise UserError(str(exc), field="--reason" if "reason" in str(exc) else None) from None  # too long
    where = f"{settings.namespace} on context {identity.context}"
    if not new:
        print(f"already {halt.describe() if halt else 'halted'} ({where})")
    else:
        print(f"{halt.describe()} ({where}): runs stop and roll back within one check interval; "
              "new runs are refused until `krkn-tui resume`", flush=True)
    if config is not None and config.signal.named:  # a krkn run of the same game day stops too
        print(post_stop(config.signal), flush=True)
    return 0 if new else 1


def cmd_resume(args) -> int:
    from ..halt import HaltError, lift

    settings = common.journal_settings(args)
    api_client, identity = common.journal_client(args)
    try:
        lifted = lift(api_client, settings.namespace)
    except HaltError as exc:
        raise UserError(str(exc)) from None
    where = f"{settings.namespace} on context {identity.context}"
    print(f"resumed: the halt is lifted ({where})" if lifted else f"not halted ({where})")
    return 0 if lifted else 1


def cmd_status(args) -> int:
    from ..halt import HaltError, read

    settings = common.journal_settings(args)
    api_client, identity = common.journal_client(args)
    try:
        halt = read(api_client, settings.namespace, common.local_trust(args))
    except HaltError as exc:
        raise UserError(str(exc)) from None
    where = f"{settings.namespace} on context {identity.context}"
    print(f"{halt.describe()} ({where})" if halt else f"not halted ({where})")
    return 1 if halt else 0
