"""Running scenarios from the picker, on the local cluster: confirm, progress, result, stop, quit."""

from __future__ import annotations

import pytest
from kubernetes import client

from krkn_tui.rollback import list_versions
from krkn_tui.tui.screens.confirm import ConfirmScreen
from krkn_tui.tui.widgets.run_panel import RunPanel
from tui_support import SIZE, console, keys, outage_config, until

pytestmark = pytest.mark.cluster


def policies(api_client, namespace: str) -> list[str]:
    return [p.metadata.name for p in
            client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items]


async def test_run_from_the_picker_shows_progress_and_result(tmp_path, kubeconfig, namespace, api_client):
    outage_config(tmp_path, namespace, duration=2)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    order: list[str] = []

    def hook(message):
        name = type(message).__name__
        if name == "StateChanged" and getattr(message.worker, "group", "") == "run":
            order.append(message.state.name)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.press("space", "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.focused.id == "cancel"  # a stray Enter cancels
        await pilot.press("y")
        await until(pilot, lambda: app.last_result is not None, what="run result")
        await pilot.pause(0.1)

        assert app.last_result.status == "passed" and app.last_result.exit_code == 0
        panel = app.views["picker"].query_one(RunPanel)
        block = panel.blocks[0]
        assert block.status == "passed"
        log_text = "\n".join(block.query_one(".scenario-log").lines)
        assert "rollback registered: delete NetworkPolicy" in log_text
        assert "created NetworkPolicy" in log_text
        assert str(block.query_one(".scenario-result").render()).startswith("PASSED in ")
        assert "run passed (exit 0)" in str(panel.query_one("#run-status").render())
        assert app.run_state == "passed (exit 0)"
    # the worker ran to completion and reported back through messages only
    assert order[-1] == "SUCCESS" and "RUNNING" in order
    assert policies(api_client, namespace) == []
    # a passed run archives its rollback file
    [step] = list_versions(tmp_path / "versions")
    assert step.status == "archived" and step.prior_status == "executed" and step.kind == "NetworkPolicy"


async def test_emergency_stop_rolls_the_run_back(tmp_path, kubeconfig, namespace, api_client):
    outage_config(tmp_path, namespace, duration=120)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r", "y")
        await until(pilot, lambda: policies(api_client, namespace), what="outage policy created")
        assert "emergency_stop" in {ab.binding.action for ab in app.screen.active_bindings.values()}
        await pilot.press("ctrl+e")
        await until(pilot, lambda: app.last_result is not None, what="run stopped")
        await pilot.pause(0.1)
        assert app.last_result.status == "interrupted" and app.last_result.exit_code == 130
        assert [s["status"] for s in app.last_result.rollback] == ["executed"]
        run_log = "\n".join(app.views["picker"].query_one(RunPanel).run_lines())
        assert "rollback started (stop requested)" in run_log and "rollback step executed: " in run_log
        assert "run interrupted (exit 130)" in run_log
    assert policies(api_client, namespace) == []
    [step] = list_versions(tmp_path / "versions")
    assert step.status == "executed"  # kept for inspection: an interrupted run is not archived


async def test_a_daemon_run_shows_its_iteration_and_the_emergency_stop_ends_it(tmp_path, kubeconfig, namespace,
                                                                              api_client):
    config = outage_config(tmp_path, namespace, duration=1)
    config.write_text(config.read_text().replace("  iterations: 1\n", "  daemon_mode: true\n"))
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r")
        assert "daemon mode: the scenarios repeat until stopped" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("y")
        await until(pilot, lambda: app.run_state.startswith("running (iteration 3 (daemon))"), what="third iteration")
        await until(pilot, lambda: policies(api_client, namespace), what="its outage policy")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: app.last_result is not None, what="run stopped")
        await pilot.pause(0.1)
        assert app.last_result.status == "interrupted"
        run_log = "\n".join(app.views["picker"].query_one(RunPanel).run_lines())
        assert "iteration 2 (daemon) started: repeats until stopped" in run_log
        assert "rollback started (stop requested)" in run_log
    assert policies(api_client, namespace) == []
    steps = list_versions(tmp_path / "versions")
    assert len(steps) >= 3 and {s.status for s in steps} == {"executed"}  # one per iteration, none lost


async def test_quitting_during_a_run_asks_then_rolls_back_before_exiting(tmp_path, kubeconfig, namespace,
                                                                        api_client):
    outage_config(tmp_path, namespace, duration=120)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r", "y")
        await until(pilot, lambda: policies(api_client, namespace), what="outage policy created")
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen) and app.focused.id == "cancel"
        await pilot.press("n")  # changed my mind: the run goes on
        assert app.run_active and not isinstance(app.screen, ConfirmScreen)
        await pilot.press("q", "y")
        await until(pilot, lambda: not app.is_running, what="app exit")
    assert app.return_value == 130
    assert app.last_result.status == "interrupted"
    assert policies(api_client, namespace) == []


async def test_a_scenario_that_fails_is_shown_failed_and_rolled_back(tmp_path, kubeconfig, namespace, api_client):
    # a pod disruption with nothing to kill fails; auto_rollback undoes the outage before it
    (tmp_path / "pods.yaml").write_text(
        f"- id: nothing-to-kill\n  config:\n    namespace_pattern: ^{namespace}$\n"
        "    label_selector: app=missing\n    kill: 1\n")
    outage_config(tmp_path, namespace, duration=1,
                  extra="    - pod_disruption_scenarios:\n        - pods.yaml\n")
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "down", "space", "r", "y")
        await until(pilot, lambda: app.last_result is not None, what="run result")
        await pilot.pause(0.1)
        panel = app.views["picker"].query_one(RunPanel)
        assert [panel.blocks[i].status for i in (0, 1)] == ["passed", "failed"]
        assert "FAILED" in str(panel.blocks[1].query_one(".scenario-result").render())
        assert panel.has_class("-failed")
        assert app.run_state == "failed (exit 1)"


async def test_readonly_has_no_run_key_and_refuses_it(tmp_path, kubeconfig, namespace):
    outage_config(tmp_path, namespace, duration=1)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        shown = {ab.binding.action for ab in app.screen.active_bindings.values()}
        assert "run_marked" not in shown and "emergency_stop" not in shown
        assert "toggle_mark" in shown
        await pilot.press("space", "r")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen) and not app.run_active
        assert await app.run_action("run_marked", app.screen) is False
        assert "READ-ONLY" in str(app.screen.query_one("#header").render())
    assert not (tmp_path / "versions").exists()


async def test_a_config_that_does_not_load_is_shown_and_the_console_keeps_running(tmp_path, kubeconfig):
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios:\n    - pod_scenarios: [x.yaml]\n")
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        banner = str(app.screen.query_one("#config-error").render())
        assert "config not loaded" in banner and "unknown scenario type 'pod_scenarios'" in banner
        await pilot.press("r", "2", "3", "1")
        assert app.current_mode == "picker" and not app.run_active


async def test_a_scenario_file_that_does_not_parse_shows_its_error_in_its_row(tmp_path, kubeconfig, namespace):
    outage_config(tmp_path, namespace, extra="    - hog_scenarios:\n        - hog.yaml\n")
    (tmp_path / "hog.yaml").write_text("hog-type: gpu\n")
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#scenarios")
        assert keys(table) == ["0", "1"]
        params = table.cell("1", "params").plain
        assert params.startswith("✗ ") and "gpu" in params
        await pilot.press("down", "space", "r")
        assert not isinstance(app.screen, ConfirmScreen) and not app.run_active



async def test_a_scenario_file_broken_after_loading_fails_the_run_visibly(tmp_path, kubeconfig, namespace,
                                                                         api_client):
    outage_config(tmp_path, namespace, duration=1)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r")
        (tmp_path / "outage.yaml").write_text("application_outage: {duration: 0}\n")  # edited meanwhile
        await pilot.press("y")
        await until(pilot, lambda: app.run_state == "error", what="run error")
        status = str(app.views["picker"].query_one("#run-status").render())
        assert status.startswith("cannot run: ") and "outage.yaml" in status
        assert not app.run_active and app.last_result is None
    assert policies(api_client, namespace) == []
