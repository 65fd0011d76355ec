"""Every option of the top-level parser given before a subcommand is honoured by it, exactly as
when given after it, or refused with one line: never silently dropped."""

from __future__ import annotations

import json
import os

import pytest

from krkn_tui.cli import SHARED, main
from krkn_tui.rollback import RollbackContent, RunRollback
from rollback_fixtures import KUBECONFIG, noop_rollback
from tui_support import KRKN_FILE


def krkn(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def placed(before: bool, command: list, flags: list, rest: list = ()) -> list:
    """``flags`` before or after the subcommand ``command``."""
    return [*flags, *command, *rest] if before else [*command, *flags, *rest]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A versions folder with one step of ours and one of krkn's, a config naming it, and a
    kubeconfig that loads (context "nowhere"); the working folder has no config.yaml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    versions = tmp_path / "named-by-config"
    run = RunRollback(versions)
    run.set_rollback_callable(noop_rollback, RollbackContent("x", "ns"), scenario_type="hog_scenarios",
                              verb="delete", kind="Pod")
    krkn_file = run.run_dir / "hog_scenarios_1_abcd1234.py"
    krkn_file.write_text(KRKN_FILE)
    os.chmod(krkn_file, 0o600)
    (tmp_path / "config.yaml.d").mkdir()
    cfg = tmp_path / "config.yaml.d" / "config.yaml"
    cfg.write_text(f"kraken:\n  rollback_versions_directory: {versions}\n  chaos_scenarios: []\n")
    kube = tmp_path / "kubeconfig"
    kube.write_text(KUBECONFIG)
    return {"versions": versions, "run": run.run_uuid, "cfg": cfg, "kube": kube, "krkn_file": krkn_file}


BOTH = pytest.mark.parametrize("before", [True, False], ids=["before", "after"])


@BOTH
def test_versions_dir(capsys, folder, before):
    code, out, err = krkn(capsys, *placed(before, ["list-rollback"], ["-d", folder["versions"]], ["--json"]))
    assert code == 0, err
    assert {row["run"].split("-", 1)[1] for row in json.loads(out)} == {folder["run"]}


@BOTH
def test_config(capsys, folder, before):
    code, out, err = krkn(capsys, *placed(before, ["list-rollback"], ["-c", folder["cfg"]], ["--json"]))
    assert code == 0, err
    assert len(json.loads(out)) == 2


@BOTH
def test_kubeconfig(capsys, folder, tmp_path, before):
    missing = tmp_path / "missing-kubeconfig"
    code, _out, err = krkn(capsys, *placed(before, ["execute-rollback"], ["--kubeconfig", missing],
                                           ["-d", folder["versions"], "-r", folder["run"]]))
    assert code == 2 and "kubeconfig not found" in err and str(missing) in err


@BOTH
def test_context(capsys, folder, before):
    code, _out, err = krkn(capsys, *placed(before, ["execute-rollback"], ["--context", "elsewhere"],
                                           ["--kubeconfig", folder["kube"], "-d", folder["versions"],
                                            "-r", folder["run"]]))
    assert code == 2 and "context 'elsewhere' not found" in err


@BOTH
def test_context_for_run(capsys, folder, before):
    code, _out, err = krkn(capsys, *placed(before, ["run"], ["--context", "elsewhere"],
                                           ["-c", folder["cfg"], "--kubeconfig", folder["kube"]]))
    assert code == 2 and "context 'elsewhere' not found" in err


@BOTH
def test_allow_foreign(capsys, folder, before):
    common = ["-d", folder["versions"], "-r", folder["run"], "--dry-run"]
    code, out, _err = krkn(capsys, "execute-rollback", *common)
    assert f"refused   {folder['krkn_file']}" in out and code == 1
    code, out, err = krkn(capsys, *placed(before, ["execute-rollback"], ["--allow-foreign"], common))
    assert f"would-run {folder['krkn_file']}" in out and code == 0, err


@BOTH
def test_readonly_is_honoured_by_a_command_that_changes_nothing(capsys, folder, before):
    code, out, err = krkn(capsys, *placed(before, ["list-rollback"], ["--readonly"], ["-d", folder["versions"]]))
    assert code == 0 and "hog_scenarios" in out, err


@pytest.mark.parametrize("argv, flag", [
    (["--readonly", "execute-rollback", "-r", "x"], "--readonly"),
    (["--readonly", "archive-rollback", "-r", "x"], "--readonly"),
    (["--readonly", "run"], "--readonly"),
    (["-n", "ns", "list-rollback"], "--namespace"),
    (["-n", "ns", "run"], "--namespace"),
    (["--local", "execute-rollback", "-r", "x"], "--local"),
    (["--context", "c", "list-rollback"], "--context"),  # reads local files: only with --cluster
    (["list-rollback", "--kubeconfig", "k"], "--kubeconfig"),
    (["--kubeconfig", "k", "cluster", "status"], "--kubeconfig"),  # archive-rollback takes it: the journal
    (["--allow-foreign", "run"], "--allow-foreign"),
    (["--force-cluster", "run"], "--force-cluster"),
    (["-c", "config.yaml", "show-rollback", "f.py"], "--config"),
    (["-d", "d", "cluster", "status"], "--versions-dir"),
])
def test_an_option_a_subcommand_does_not_take_is_refused_in_one_line(capsys, folder, argv, flag):
    code, out, err = krkn(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and flag in err and argv[-1] not in ("",)


@pytest.mark.parametrize("argv, said", [
    (["--readonly", "serve"], "--readonly: serve's consoles are read-only already, unless --allow-control is given"),
    (["--readonly", "history"], "--readonly: history only reads past reports"),
    (["--readonly", "halt-status"], "--readonly: halt-status only reads the cluster's halt record"),
    (["--readonly", "run"], "--readonly: run changes the cluster or the version files"),
])
def test_readonly_before_a_subcommand_without_it_says_why_for_that_subcommand(capsys, folder, argv, said):
    code, out, err = krkn(capsys, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert said in err


@pytest.mark.parametrize("argv", [["list-rollback", "-n", "ns"], ["list-rollback", "--local"],
                                  ["execute-rollback", "--readonly", "-r", "x"]])
def test_the_same_option_after_the_subcommand_is_refused_too(capsys, folder, argv):
    code, _out, err = krkn(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unrecognized arguments" in err


def test_two_different_values_are_refused(capsys, folder):
    code, _out, err = krkn(capsys, "-d", "a", "list-rollback", "-d", "b")
    assert code == 2 and "--versions-dir" in err and "given twice" in err
    code, out, err = krkn(capsys, "-d", folder["versions"], "list-rollback", "-d", folder["versions"], "--json")
    assert code == 0 and len(json.loads(out)) == 2, err


def test_every_shared_option_is_tested_in_both_positions():
    # force_cluster: honoured before and after execute-rollback in test_cluster_pinning (two clusters)
    tested = {"versions_dir", "config", "kubeconfig", "context", "allow_foreign", "readonly", "force_cluster"}
    refused_only = {"namespace", "local"}  # console options: every subcommand refuses them
    assert tested | refused_only == set(SHARED)


@pytest.mark.cluster
@BOTH
def test_run_honours_the_cluster_and_folder_flags_on_the_local_cluster(capsys, folder, kubeconfig, before, tmp_path):
    other = tmp_path / "given-with-d"
    code, out, err = krkn(capsys, *placed(before, ["run"], ["--kubeconfig", kubeconfig, "--context", "krkn-local",
                                                             "-d", other], ["-c", folder["cfg"]]))
    assert code == 0, err
    assert f"versions in {other}" in out
    assert (tmp_path / "given-with-d-reports").is_dir()


def test_the_shared_command_helpers_import_no_subcommand():
    """commands/common is below every subcommand: importing one of them from it made a cycle."""
    import ast
    from pathlib import Path

    import krkn_tui.commands.common as common

    tree = ast.parse(Path(common.__file__).read_text())
    relative = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert relative <= {None} and not any(
        isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None for node in ast.walk(tree))
