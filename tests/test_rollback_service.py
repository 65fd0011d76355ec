"""The one rollback service: one resolution for every client, and every step executed or
archived from the CLI, the console or the engine lands in the audit log with the same verdicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui.config import load_config
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.naming import DEFAULT_VERSIONS_DIR
from krkn_tui.rollback import signing
from krkn_tui.rollback.service import RollbackService, resolve_target
from krkn_tui.tui.screens.confirm import ConfirmScreen
from rollback_fixtures import always_fails, delete_config_map, noop_rollback
from runhelpers import krkn
from tui_support import KRKN_FILE, SIZE, cell, console, keys, until


def audit(versions: Path) -> list[dict]:
    path = versions.with_name(versions.name + "-audit.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def verdicts(versions: Path) -> dict[str, str]:
    """File name -> the last step outcome the audit log holds for it."""
    out = {}
    for e in audit(versions):
        if e["event"] in ("rollback_executed", "rollback_failed", "rollback_refused", "stale_temp_removed"):
            out[Path(e["file"]).name] = e["event"]
    return out


# -- resolution: one precedence, pure logic ---------------------------------------------------

def test_resolve_target_precedence(tmp_path):
    kube = tmp_path / "kc"
    (tmp_path / "config.yaml").write_text(f"kraken:\n  kubeconfig_path: {kube}\n  rollback_versions_directory: r\n")
    config = load_config(tmp_path / "config.yaml", check_files=False)
    no_env: dict = {}
    # flags first
    t = resolve_target(kubeconfig="/flag", context="ctx", versions_dir="/d", config=config, environ={"KUBECONFIG": "/e"})
    assert (t.kubeconfig, t.context, t.versions_dir) == ("/flag", "ctx", Path("/d"))
    assert t.archive_dir == Path("/d-archive") and t.audit_path == Path("/d-audit.jsonl")
    # then $KUBECONFIG (left to the loader), then the config, then nothing (the loader's default)
    assert resolve_target(config=config, environ={"KUBECONFIG": "/e"}).kubeconfig is None
    t = resolve_target(config=config, environ=no_env)
    assert (t.kubeconfig, t.context, t.versions_dir) == (str(kube), None, tmp_path / "r")
    t = resolve_target(environ=no_env)
    assert (t.kubeconfig, t.versions_dir) == (None, DEFAULT_VERSIONS_DIR)


def test_select_refuses_a_typo_and_an_empty_request(tmp_path):
    from krkn_tui.errors import UserError

    run = RunRollback(tmp_path / "v")
    run.set_rollback_callable(noop_rollback, RollbackContent("x", "ns"), scenario_type="hog_scenarios",
                              verb="delete", kind="Pod")
    service = RollbackService(tmp_path / "v")
    assert [v.status for v in service.select(run=run.run_uuid[:8])] == ["pending"]
    with pytest.raises(UserError, match="no run matches"):
        service.select(run="nope")
    with pytest.raises(UserError, match="no version file of scenario type"):
        service.select(scenario_type="node_scenarios")
    with pytest.raises(UserError, match="name a run"):
        service.select(require=True)


# -- the console audits what it executes and archives -----------------------------------------

@pytest.mark.cluster
async def test_a_step_executed_and_archived_from_the_console_is_audited(tmp_path, kubeconfig, namespace, api_client):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="victim")))
    versions = tmp_path / "versions"
    path = RunRollback(versions).set_rollback_callable(
        delete_config_map, RollbackContent("victim", namespace), scenario_type="pod_disruption_scenarios",
        verb="delete", kind="ConfigMap")
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        view = app.screen
        table = view.query_one("#version-table")
        await until(pilot, lambda: table.row_count == 1, what="the step listed")
        await pilot.press("x", "y")
        await until(pilot, lambda: any(e["event"] == "rollback_executed" for e in audit(versions)), what="audited")
        await until(pilot, lambda: "executed" in cell(table, keys(table)[0], "status"), what="executed")
        await pilot.press("a")
        await until(pilot, lambda: any(e["event"] == "rollback_archived" for e in audit(versions)),
                    what="archive audited")
    events = audit(versions)
    assert [e["event"] for e in events] == ["rollback_started", "rollback_executed", "rollback_archived"]
    assert [Path(e["file"]).name for e in events] == [path.name, path.name, path.name + ".executed"]
    assert {e["run_id"] for e in events} == {"console"}
    assert "victim" not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}


# -- the same folder gets the same verdicts from the CLI and the console ----------------------

def _mixed_run(versions: Path, *extra: str) -> tuple[str, dict[str, Path]]:
    """One run holding a good step, a failing one, an edited one, krkn's own file and a temp file
    left by a writer that died; ``extra`` names more good steps."""
    run = RunRollback(versions)
    files = {}
    for name, fn in (("good", noop_rollback), ("fails", always_fails), ("edited", noop_rollback),
                     *((name, noop_rollback) for name in extra)):
        files[name] = run.set_rollback_callable(fn, RollbackContent(name, "ns"), scenario_type="hog_scenarios",
                                                verb="delete", kind="Pod")
    with open(files["edited"], "a") as f:
        f.write("\n# edited by hand\n")
    files["krkn"] = run.run_dir / "hog_scenarios_1_abcd1234.py"
    files["krkn"].write_text(KRKN_FILE)
    os.chmod(files["krkn"], 0o600)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    files["temp"] = run.run_dir / f".tmp-hog_scenarios_2_x.py-{dead}-0123abcd"
    files["temp"].write_text("half a file")
    return run.run_dir.name, files


@pytest.mark.cluster
async def test_cli_and_console_give_the_same_verdicts_on_the_same_folder(tmp_path, kubeconfig):
    by_cli, by_console = tmp_path / "cli" / "versions", tmp_path / "tui" / "versions"
    run_dir, files = _mixed_run(by_cli)
    (tmp_path / "tui").mkdir()
    shutil.copytree(by_cli, by_console, symlinks=True)

    out = krkn("execute-rollback", "-d", by_cli, "-r", run_dir, "--kubeconfig", kubeconfig)
    assert out.returncode == 1, out.stderr  # a failed and refused steps
    printed = {Path(line.split()[1].rstrip(":")).name: line.split()[0] for line in out.stdout.splitlines()
               if line.split() and line.split()[0] in ("executed", "failed", "refused")}
    assert printed == {files["good"].name: "executed", files["fails"].name: "failed",
                       files["edited"].name: "refused", files["krkn"].name: "refused"}
    assert f"removed   {files['temp']}" in out.stdout

    (tmp_path / "tui" / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path / "tui", kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#version-table")
        await until(pilot, lambda: table.row_count == 4, what="four steps")
        await pilot.press("X")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: len(verdicts(by_console)) == 5, what="every step audited")

    assert verdicts(by_console) == verdicts(by_cli) == {
        files["good"].name: "rollback_executed", files["fails"].name: "rollback_failed",
        files["edited"].name: "rollback_refused", files["krkn"].name: "rollback_refused",
        files["temp"].name: "stale_temp_removed"}
    assert {e["run_id"] for e in audit(by_cli)} == {"execute-rollback"}
    assert {e["run_id"] for e in audit(by_console)} == {"console"}
    assert sorted(p.name for p in (by_cli / run_dir).iterdir()) == sorted(p.name for p in (by_console / run_dir).iterdir())

    # archiving from the CLI is audited too
    out = krkn("archive-rollback", "-d", by_cli, "-r", run_dir)
    assert out.returncode == 0, out.stderr
    archived = [e for e in audit(by_cli) if e["event"] == "rollback_archived"]
    assert [Path(e["file"]).name for e in archived] == [files["good"].name + ".executed"]


# -- execute-rollback -c honours kraken.kubeconfig_path ---------------------------------------

@pytest.mark.cluster
@pytest.mark.parametrize("before", [False, True], ids=["-c after", "-c before"])
def test_execute_rollback_uses_the_configs_kubeconfig_path(tmp_path, kubeconfig, namespace, api_client, before):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="victim")))
    versions = tmp_path / "versions"
    run = RunRollback(versions)
    run.set_rollback_callable(delete_config_map, RollbackContent("victim", namespace),
                              scenario_type="pod_disruption_scenarios", verb="delete", kind="ConfigMap")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"kraken:\n  kubeconfig_path: {kubeconfig}\n  rollback_versions_directory: versions\n"
                   "  chaos_scenarios: []\n")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(tmp_path / "home")  # no ~/.kube/config to fall back on
    env["KRKN_TUI_CONFIG_DIR"] = str(signing.config_dir())  # the key that signed the step: it is ours
    argv = ["-c", str(cfg), "execute-rollback", "-r", run.run_uuid] if before else \
        ["execute-rollback", "-c", str(cfg), "-r", run.run_uuid]
    out = subprocess.run([sys.executable, "-m", "krkn_tui", *argv],
                         capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("executed")
    assert "victim" not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}
    assert [e["event"] for e in audit(versions)] == ["rollback_started", "rollback_executed"]


def test_a_report_half_written_by_a_killed_run_is_cleared_by_the_next_rollback(tmp_path):
    """A run killed while writing its report leaves a temp file beside the reports; the next
    execute removes it (audited) and leaves a live writer's temp alone."""
    from krkn_tui.records import AuditLog, audit_path, check_reports, reports_dir

    versions = tmp_path / "versions"
    versions.mkdir()
    check_reports(versions)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    half = reports_dir(versions) / f".tmp-run-1.json-{dead}-0123abcd"
    live = reports_dir(versions) / f".tmp-run-2.json-{os.getpid()}-89abcdef"
    for path in (half, live):
        path.write_text("{\"run_id\": ")
    service = RollbackService(versions, audit=AuditLog(audit_path(versions), "execute-rollback"))
    assert service.execute([]) == []
    assert sorted(p.name for p in reports_dir(versions).iterdir()) == [live.name]
    assert [(e["event"], Path(e["file"]).name) for e in audit(versions)] == [("stale_temp_removed", half.name)]
