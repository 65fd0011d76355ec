"""The undo operations a journal entry names live in a registry on the rollback floor that the
scenario plugins (a floor above) fill as they are imported; ``cli.main`` installs the one loader
that imports them all. Each test runs in a fresh interpreter, without this suite's conftest
(which wires the floors as cli.main does): there, a path that reads a journal entry would see
an empty registry if its process entry forgot the loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def fresh(code: str, tmp: Path) -> str:
    """What ``code`` prints, run by a new interpreter that has imported nothing of krkn-tui."""
    env = {**os.environ, "KRKN_TUI_CONFIG_DIR": str(tmp)}  # a command that slips through makes no key of ours
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_lookup_in_a_process_with_no_loader_is_loud_never_a_refusal(tmp_path):
    """A refusal would be signed into the journal and the step never retried: a process entry
    that forgot the loader must fail at its first lookup, not call the operation unknown."""
    said = json.loads(fresh("""
        import json
        from krkn_tui.rollback import undo_ops
        said = {"ready": undo_ops.ready()}
        for name, call in (("lookup", lambda: undo_ops.lookup("pvc_scenarios.remove_fill_file")),
                           ("needs_exec", lambda: undo_ops.needs_exec("pvc_scenarios.remove_fill_file")),
                           ("undo_ops", undo_ops.undo_ops)):
            try:
                call()
                said[name] = "answered"
            except undo_ops.OperationsNotLoaded:
                said[name] = "loud"
        # A run registers its own plugin's steps: importing the plugin registered its operations.
        from krkn_tui.scenarios.application_outage import delete_network_policy
        said["write"] = undo_ops.registered_op("application_outages_scenarios", delete_network_policy)
        print(json.dumps(said))
    """, tmp_path))
    assert said == {"ready": False, "lookup": "loud", "needs_exec": "loud", "undo_ops": "loud",
                    "write": "application_outages_scenarios.delete_network_policy"}


def test_every_command_and_the_console_start_with_every_operation_loadable(tmp_path):
    """Each subcommand (the guard, list/show/execute-rollback with --cluster among them) and the
    console are entered through cli.main: at that moment a lookup finds every plugin's operations
    (in the guard's pod too, whose command is ``krkn-tui guard``)."""
    said = json.loads(fresh("""
        import argparse, json
        from krkn_tui import cli
        from krkn_tui.rollback import undo_ops

        def subparsers(parser):
            return {name: p for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                    for name, p in a.choices.items()}

        seen, sub = {}, subparsers(cli.build_parser())

        def probe(args):
            name = args.command or "console"
            seen[name] = undo_ops.ready() and "pvc_scenarios.remove_fill_file" in undo_ops.undo_ops()
            return 0

        def wired(parser=None):  # the real parser, each (sub)subcommand's work replaced by the probe
            made = parser or build()
            for p in subparsers(made).values():
                p.set_defaults(func=probe)
                wired(p)
            return made

        build, cli.build_parser, cli.open_console = cli.build_parser, wired, probe
        before = undo_ops.ready()
        for name, p in sub.items():
            argv = [name]
            for action in p._actions:  # the least each subcommand accepts
                if not action.option_strings and action.nargs not in ("?", "*"):
                    argv.append(next(iter(action.choices)) if action.choices else "x")
                elif action.required and action.option_strings:
                    argv += [action.option_strings[0], "x"]
            assert cli.main(argv) == 0, argv
        assert cli.main([]) == 0
        print(json.dumps({"before": before, "seen": seen, "commands": sorted(sub)}))
    """, tmp_path))
    assert said["before"] is False  # so the test can fail: nothing but cli.main installs the loader
    assert {"guard", "list-rollback", "show-rollback", "execute-rollback", "run"} <= set(said["commands"])
    assert said["seen"] == {name: True for name in [*said["commands"], "console"]}


@pytest.mark.parametrize("bad", ["register twice", "exec not listed"])
def test_the_registry_refuses_a_name_taken_twice_or_an_exec_operation_it_does_not_list(bad, tmp_path):
    fresh(f"""
        from krkn_tui.rollback import undo_ops

        def undo(api_client, content): ...
        def other(api_client, content): ...
        other.__name__ = "undo"
        undo_ops.register("x_scenarios", [undo])
        try:
            if {bad!r} == "register twice":
                undo_ops.register("x_scenarios", [other])
            else:
                undo_ops.register("y_scenarios", [undo], [other])
        except TypeError as exc:
            print(exc)
        else:
            raise SystemExit("accepted")
        undo_ops.install_ops_loader(lambda: None)
        assert undo_ops.lookup("x_scenarios.undo") is undo and "y_scenarios.undo" not in undo_ops.undo_ops()
    """, tmp_path)
