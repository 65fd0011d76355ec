"""`krkn-tui run`: the chaos run, headless, one progress line per step.

Exit codes: 0 every scenario passed, 1 a scenario failed or cerberus said no-go, 2 bad input
(nothing touched) or Prometheus alerts (krkn's 2), 3 a health check failed, a PromQL stop
condition was met, the cluster is halted or krkn's STOP was posted (aborted or refused),
128+N when signal N stopped the run (its files rolled back); docs/cli.md "In CI: exit codes and JUnit" sets them
beside krkn's. With krkn's --junit-testcase and --junit-testcase-path the verdict is also
written as krkn's JUnit file (report/junit.py)."""

from __future__ import annotations

import sys
import threading
import time

from ..events import Event
from ..sanitize import visible
from . import common
from .render import krkn_stdout, printed


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the config's scenarios headless (rollback on failure or signal)")
    p.add_argument("-c", "--config", type=common.Path, help="krkn config.yaml (default ./config.yaml)")
    p.add_argument("-d", "--versions-dir", type=common.Path, help="rollback versions folder (overrides the config's)")
    p.add_argument("--dry-run", action="store_true", help="parse, select targets and report; change nothing")
    p.add_argument("--only", help="comma-separated scenario numbers to run, from 1 as the console and the dry "
                                   "run's `plan #N` number them")
    # The 0-based form of releases before --only counted from 1, for scripts not yet moved.
    p.add_argument("--only-index", help="deprecated: --only counting from 0 (--only-index 2 is --only 3)")
    p.add_argument("--skip-unsupported", action="store_true",
                   help="run the rest when the config names krkn scenario types krkn-tui does not run "
                        "(each is reported as skipped)")
    p.add_argument("--junit-testcase", metavar="DESCRIPTION",
                   help="write the verdict as JUnit XML (krkn's option): the run's test case description")
    p.add_argument("--junit-testcase-path", type=common.Path, metavar="FOLDER",
                   help="existing folder for the JUnit file junit_krkn_<epoch>.xml (krkn's option)")
    p.add_argument("--junit-testcase-version", metavar="VERSION",
                   help="TestVersion property of the JUnit test suite (krkn's option)")
    common.add_kube_flags(p)
    p.set_defaults(func=cmd_run)


def _only(text: str | None, count: int, *, base: int = 1, flag: str = "--only") -> set[int] | None:
    """The 0-based positions to run from scenario numbers counted from ``base``; a selection
    naming nothing that exists is an error, not a run of nothing."""
    if text is None:
        return None
    try:
        numbers = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise common.UserError("expected comma-separated integers", field=flag) from None
    if not numbers:
        raise common.UserError(f"names no scenario (e.g. {flag} {base},{base + 2})", field=flag)
    if base == 1 and 0 in numbers:  # the one number that meant something before --only counted from 1
        raise common.UserError("scenarios are numbered from 1, as the console and `plan #N` number them "
                               "(--only 0 used to mean the first: write --only 1, or --only-index 0)", field=flag)
    missing = sorted(n for n in numbers if not base <= n < count + base)
    if missing:
        listed = f"{base}-{count - 1 + base}" if count else "none"
        raise common.UserError(f"no scenario {', '.join(map(str, missing))} (the config lists {listed})", field=flag)
    return {n - base for n in numbers}


def selection(args, count: int) -> set[int] | None:
    """``--only`` (from 1) or the deprecated ``--only-index`` (from 0); never both."""
    if args.only is not None and args.only_index is not None:
        raise common.UserError("give --only or --only-index, not both", field="--only-index")
    if args.only_index is not None:
        print("note: --only-index is deprecated; --only counts from 1 "
              f"(--only-index {args.only_index} is --only "
              f"{','.join(str(n + 1) for n in sorted(_only(args.only_index, count, base=0, flag='--only-index')))})",
              file=sys.stderr, flush=True)
        return _only(args.only_index, count, base=0, flag="--only-index")
    return _only(args.only, count)


def plan_line(item) -> str:
    """What a dry run will do with one scenario file, and where that file was found."""
    what = (f"error: {item.error}" if item.error else f"skipped: {item.skipped}" if item.skipped
            else f"{len(item.specs)} scenario(s)")
    return f"plan #{item.index + 1} {item.scenario_type}: {item.where or item.file}: {what}"


def _printer(e: Event) -> None:
    line = printed(e)
    if line:
        print(line, flush=True)
    bare = krkn_stdout(e)  # JSON: every control character escaped
    if bare:
        print(bare, flush=True)


def cmd_run(args) -> int:
    """The run; with krkn's JUnit options its verdict (bad input included) also goes to JUnit."""
    from ..report.junit import check_options

    started = time.monotonic()
    folder = check_options(args.junit_testcase, args.junit_testcase_path)  # before anything else, as krkn
    try:
        code, result = _run(args)
    except common.UserError as e:
        if folder is not None:
            _junit(args, folder, e.exit_code, started, summary=f"krkn-tui: {e}")
        raise
    if folder is not None:
        said = f"run {result.run_id}: {result.status}" + (f"; report {result.report_path}" if result.report_path else "")
        _junit(args, folder, code, started, scenarios=result.scenarios, summary=said)
    return code


def _junit(args, folder, code: int, started: float, *, scenarios=(), summary: str = "") -> None:
    from ..report.junit import junit_xml, write_junit_file

    document = junit_xml(description=args.junit_testcase, exit_code=code, seconds=time.monotonic() - started,
                         scenarios=scenarios, summary=summary, version=args.junit_testcase_version)
    print(f"junit written: {write_junit_file(folder, document)}", flush=True)


def _run(args):
    from dataclasses import replace

    from ..engine import Engine, plan, repeat_note
    from ..rollback.front import api_client_factory, config_path_notes
    from ..signals import StopOnSignals

    stop = threading.Event()
    with StopOnSignals(stop) as signals:
        # Everything that can be wrong with the input is found before the cluster is touched.
        config = common.load_config_arg(args.config)
        # A dry run gives every file its verdict; a real run refuses on the first bad one.
        planned = plan(config, selection(args, len(config.scenarios)), skip_unsupported=args.skip_unsupported,
                       each_verdict=args.dry_run)
        if args.dry_run:
            for item in planned:
                print(visible(plan_line(item), keep="\n"), flush=True)
        target = common.resolve_target(args, cluster=True, config=config)
        if args.dry_run:
            for name, note in config_path_notes(target, config).items():
                print(visible(f"{name}: {note}", keep="\n"), flush=True)
        config = replace(config, versions_dir=target.versions_dir)  # -d overrides the config's folder
        common.check_reachable(target.kubeconfig, target.context)
        note = repeat_note(config, args.dry_run)
        if note:
            print(note, flush=True)
        engine = Engine(config, api_client_factory(target.kubeconfig, target.context), emit=_printer, stop=stop,
                        dry_run=args.dry_run, kubeconfig=target.kubeconfig, context=target.context)
        result = engine.run(planned)
    if signals.exit_code is not None:
        print(f"krkn-tui: stopped by {_signame(signals.received)}; run {result.run_id} rolled back", file=sys.stderr)
        return signals.exit_code, result
    return result.exit_code, result


def _signame(signum: int) -> str:
    import signal

    return signal.Signals(signum).name
