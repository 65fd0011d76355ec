"""The console and the cluster journal: the header says when it is off; the versions view shows
whether each step is mirrored, and the steps only the journal has (another machine's run)."""

from __future__ import annotations

import socket
import uuid

import pytest
from kubernetes import client

from krkn_tui.kube.identity import read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.journal.mirror import JournalSettings, RunMirror
from krkn_tui.tui.screens.confirm import ConfirmScreen
from krkn_tui.tui.widgets.header import render_header
from kubehelpers import gone_is_fine
from krkn_tui.scenarios.application_outage import delete_network_policy
from rollback_fixtures import delete_config_map
from test_tui_versions import Notes
from tui_support import SIZE, cell, console, fixed_kubeconfig, keys, until


@pytest.mark.parametrize("on", [True, False])
async def test_the_header_says_when_the_cluster_journal_is_off(tmp_path, on):
    (tmp_path / "config.yaml").write_text(f"kraken:\n  chaos_scenarios: []\n  cluster_journal: {str(on).lower()}\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE):
        assert ("cluster journal off" in render_header(app).plain) is not on


async def test_the_header_says_where_the_configs_relative_paths_were_found(tmp_path, monkeypatch):
    """krkn's layout, started from the repository root: the config (in config/) names the
    kubeconfig and the versions folder relative to the root, as scenario paths are."""
    (tmp_path / "config").mkdir()
    (tmp_path / "rollback").mkdir()
    fixed_kubeconfig(tmp_path / "kubeconfig")
    (tmp_path / "config" / "config.yaml").write_text(
        "kraken:\n  kubeconfig_path: kubeconfig\n  rollback_versions_directory: rollback\n  chaos_scenarios: []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    app = console(tmp_path, config_path="config/config.yaml", versions_dir=None, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE):
        text = render_header(app).plain
        assert f"versions {tmp_path / 'rollback'} (relative to the working directory)" in text
        assert f"kubeconfig {tmp_path / 'kubeconfig'} (relative to the working directory)" in text
    # A versions flag overrides the config: the header shows the flag's folder, with no origin.
    app = console(tmp_path, config_path="config/config.yaml", watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE):
        assert f"versions {tmp_path / 'versions'}\n" in render_header(app).plain + "\n"


def _journaled_run(versions, api_client, namespace: str, name: str) -> RunRollback:
    run = RunRollback(versions)
    run.mirror = RunMirror(lambda: api_client, JournalSettings(namespace=namespace), run.run_id,
                           lambda c: read_identity(c, "krkn-local"))
    run.set_rollback_callable(delete_network_policy, RollbackContent(name, "demo"),
                              scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
    return run


@pytest.mark.cluster
async def test_mirrored_steps_and_steps_only_the_journal_has(tmp_path, kubeconfig, api_client):
    journal_ns = f"krkn-rollback-{uuid.uuid4().hex[:6]}"
    (tmp_path / "config.yaml").write_text(
        f"kraken:\n  chaos_scenarios: []\n  cluster_journal_namespace: {journal_ns}\n")
    here = _journaled_run(tmp_path / "versions", api_client, journal_ns, "mine")
    elsewhere = _journaled_run(tmp_path / "other-machine", api_client, journal_ns, "theirs")
    unjournaled = RunRollback(tmp_path / "versions")
    unjournaled.set_rollback_callable(delete_config_map, RollbackContent("plain", "demo"),
                                      scenario_type="pod_disruption_scenarios", verb="delete", kind="ConfigMap")
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    notes = Notes(app)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            view = app.screen
            table = view.query_one("#version-table")
            await until(pilot, lambda: table.row_count == 3 and view.journal_entries is not None,
                        what="two local rows and one from the journal")
            rows = {cell(table, k, "action"): k for k in keys(table)}
            # a step only the journal has is described by its undo operation and target
            mine, theirs, plain = (rows["delete NetworkPolicy demo/mine"], rows["delete_network_policy demo/theirs"],
                                   rows["delete ConfigMap demo/plain"])
            assert cell(table, mine, "journal") == "✓ pending" and cell(table, mine, "origin") == "krkn-tui"
            assert cell(table, plain, "journal") == "–"
            assert cell(table, theirs, "journal") == "cluster only"
            assert cell(table, theirs, "origin") == f"cluster@{socket.gethostname()}"
            assert cell(table, theirs, "status") == "pending" and cell(table, theirs, "run") == elsewhere.run_uuid[:8]
            assert f"journal {journal_ns}: 2 step(s)" in str(view.query_one("#versions-status").render())

            table.move_cursor_to_key(theirs)
            await pilot.press("x")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert any("only the cluster journal has this step" in text for text, _ in notes.items)

            # A state set elsewhere (a guard) shows up at the next listing of the journal.
            elsewhere.mirror.journal.set_state(elsewhere.run_id, elsewhere.registered[0].name, "executed")
            await until(pilot, lambda: cell(table, theirs, "status") == "executed", timeout=30,
                        what="the guard's state in the view")
            # A step the guard left to the operator (it needs pods/exec) says so in the journal column.
            here.mirror.journal.set_state(here.run_id, here.registered[0].name, "operator",
                                          error="left to the operator")
            await until(pilot, lambda: cell(table, mine, "journal") == "✓ operator", timeout=30,
                        what="the operator's step in the journal column")
            assert cell(table, mine, "status") == "pending"  # the local file still has it to run
    finally:
        here.mirror.close()
        elsewhere.mirror.close()
        gone_is_fine(client.CoreV1Api(api_client).delete_namespace, journal_ns)
