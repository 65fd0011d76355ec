"""The `krkn-tui` command line: the console by default, and headless subcommands.

Every subcommand is a thin client of the core; bad input ends as one line on stderr and exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import UserError
from .sanitize import one_line


class _Parser(argparse.ArgumentParser):
    """argparse's own errors in one line too; the usage block it prints first is in --help.
    Subcommand parsers inherit this class."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


# Options the top-level parser takes. Given before a subcommand, each is honoured by that
# subcommand when it takes the option too, and refused with one line otherwise: never dropped.
SHARED = ("kubeconfig", "context", "namespace", "config", "local", "readonly", "versions_dir", "allow_foreign",
          "force_cluster")


# Why --readonly before a subcommand that does not take it is refused, where "changes the cluster
# or the version files" would not be true of that subcommand.
READONLY_REFUSED = {
    "serve": "serve's consoles are read-only already, unless --allow-control is given: drop --readonly",
    "history": "history only reads past reports: drop --readonly",
    "compare": "compare only reads past reports: drop --readonly",
    "report": "report only reads a run's report (and writes its Markdown or HTML): drop --readonly",
    "halt-status": "halt-status only reads the cluster's halt record: drop --readonly",
}


def build_parser() -> argparse.ArgumentParser:
    from .commands import cluster, guard, halt, history, key, report, rollback, run, serve

    parser = _Parser(
        prog="krkn-tui",
        description="A keyboard-driven chaos console for Kubernetes, compatible with krkn's config.yaml. "
        "With no subcommand it opens the console. The options below may also be given before a "
        "subcommand that takes them.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, then the config's kubeconfig_path, "
                        "then ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("-n", "--namespace", help="only watch pods of this namespace")
    parser.add_argument("-c", "--config", type=Path, help="krkn config.yaml (default ./config.yaml)")
    parser.add_argument("--local", action="store_true", help="use the local cluster (brought up with its demo workload if needed)")
    parser.add_argument("--readonly", action="store_true", help="no action that changes the cluster or the version files")
    parser.add_argument("-d", "--versions-dir", type=Path, help="rollback versions folder (overrides the config)")
    parser.add_argument("--allow-foreign", action="store_true", help="allow executing version files written by krkn itself")
    parser.add_argument("--force-cluster", action="store_true",
                        help="execute version files recorded for another cluster than the connected one (audited)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run.add_parser(sub)
    rollback.add_parsers(sub)
    cluster.add_parser(sub)
    guard.add_parser(sub)
    halt.add_parser(sub)
    serve.add_parser(sub)
    key.add_parser(sub)
    report.add_parser(sub)
    history.add_parsers(sub)
    for subparser in sub.choices.values():
        subparser.set_defaults(_accepts=frozenset(_own_shared_options(subparser)))
    return parser


def _own_shared_options(parser: argparse.ArgumentParser) -> set[str]:
    """The shared options ``parser`` defines itself. They are renamed ``sub_<dest>`` with no
    default, so that the subcommand's absent option never overwrites the value given before it
    (argparse copies a subparser's defaults over its parent's)."""
    own = set()
    for action in parser._actions:
        if action.dest in SHARED:
            own.add(action.dest)
            action.dest, action.default = f"sub_{action.dest}", argparse.SUPPRESS
    return own


def _option(parser: argparse.ArgumentParser, dest: str) -> str:
    return next(a.option_strings[-1] for a in parser._actions if a.dest == dest)


def merge_shared(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One value per shared option whichever side of the subcommand it was given on; raises
    UserError for an option the subcommand does not take, or two different values."""
    if args.command is None:
        return
    accepts = getattr(args, "_accepts", frozenset())
    for dest in SHARED:
        before, flag = getattr(args, dest), _option(parser, dest)
        if hasattr(args, f"sub_{dest}"):
            after = getattr(args, f"sub_{dest}")
            if before not in (None, False) and before != after:
                raise UserError(f"given twice with different values ({before} before {args.command}, "
                                f"{after} after it)", field=flag)
            setattr(args, dest, after)
        elif before not in (None, False) and dest not in accepts:
            if dest == "readonly":
                raise UserError(READONLY_REFUSED.get(args.command, f"{args.command} changes the cluster or the "
                                                                    "version files"), field=flag)
            taken = ", ".join(_option(parser, d) for d in SHARED if d in accepts) or "none of them"
            raise UserError(f"does not apply to {args.command} (of the options before it, it takes {taken})",
                            field=flag)


def open_console(args) -> int:
    kubeconfig = args.kubeconfig
    if args.local:
        from .localcluster import CONTEXT_NAME, LocalCluster

        cluster = LocalCluster()
        cluster.up(demo=True)
        kubeconfig, args.context = str(cluster.kubeconfig), args.context or CONTEXT_NAME
    from .tui import run_console

    return run_console(kubeconfig=kubeconfig, context=args.context, namespace=args.namespace,
                       config_path=args.config or Path("config.yaml"), readonly=args.readonly, versions_dir=args.versions_dir,
                       allow_foreign=args.allow_foreign, force_cluster=args.force_cluster)


def compose() -> None:
    """Wire what the floors below cannot import: the journal's readers (rollback floor) look an
    entry's undo operation up in a registry the scenario plugins (above them) fill as they are
    imported; this installs the one loader that imports them all, run at the first lookup."""
    from .rollback.front import install_ops_loader
    from .scenarios import load_plugins

    install_ops_loader(load_plugins)


def main(argv: list[str] | None = None) -> int:
    compose()  # first: every command, the console and the guard go through here
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        merge_shared(parser, args)
        if args.command is None:
            return open_console(args)
        return args.func(args)
    except UserError as e:

        print(f"krkn-tui: {one_line(e)}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("krkn-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `krkn-tui list-rollback | head`: the reader left, not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
