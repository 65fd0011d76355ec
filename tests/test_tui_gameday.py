"""The console's game-day parts on the local cluster: the blast radius in the confirm dialog."""

from __future__ import annotations

import pytest
from kubehelpers import deployment, wait_for

from krkn_tui.tui.screens.confirm import ConfirmScreen
from krkn_tui.tui.widgets.run_panel import RunPanel
from tui_support import SIZE, console, outage_config, until

pytestmark = pytest.mark.cluster


def _detail(app) -> str:
    return str(app.screen.query_one("#confirm-detail").render())


async def test_confirm_dialog_shows_the_blast_radius(tmp_path, kubeconfig, namespace, apps):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    wait_for(lambda: (apps.read_namespaced_deployment_status("web", namespace).status.ready_replicas or 0) == 2)
    outage_config(tmp_path, namespace, duration=1)
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r")
        assert isinstance(app.screen, ConfirmScreen) and app.focused.id == "cancel"
        await until(pilot, lambda: "2 pods" in _detail(app), what="the blast radius")
        text = _detail(app)
        assert f"{namespace}/web-" in text and "NetworkPolicy" in text and "FAIL" not in text
        await pilot.press("n")
        assert not app.run_active


async def test_a_scenario_matching_nothing_is_marked_failing_in_the_dialog(tmp_path, kubeconfig, namespace):
    outage_config(tmp_path, namespace, duration=1)  # no pod labelled app=web in the namespace
    app = console(tmp_path, kubeconfig=kubeconfig, watch_pods=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "r")
        await until(pilot, lambda: "FAIL" in _detail(app), what="the failing preview")
        assert "1 scenario(s) would FAIL before any change" in _detail(app)
        assert "matched 0 pods" in _detail(app)
        await pilot.press("n")


def _check_config(tmp_path, namespace, hold=120):
    (tmp_path / "scale.yaml").write_text(
        f"scenarios:\n  - namespace: ^{namespace}$\n    mode: scale\n    sleep: {hold}\n    duration: {hold}\n")
    (tmp_path / "config.yaml").write_text(
        "kraken:\n  chaos_scenarios:\n    - service_disruption_scenarios:\n        - scale.yaml\n"
        "tunings:\n  wait_duration: 0\n  iterations: 1\n"
        "health_checks:\n  interval: 0.5\n"
        f"krkn_tui:\n  recovery_timeout: 30\n  checks:\n    - name: web-up\n      type: deployment_available\n"
        f"      namespace: {namespace}\n      deployment: web\n      abort: true\n")


async def test_an_aborting_check_shows_red_stops_the_run_and_lands_on_the_timeline(tmp_path, kubeconfig, namespace,
                                                                                  apps):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    wait_for(lambda: (apps.read_namespaced_deployment_status("web", namespace).status.ready_replicas or 0) == 2)
    _check_config(tmp_path, namespace)
    app = console(tmp_path, kubeconfig=kubeconfig, namespace=namespace)
    async with app.run_test(size=SIZE) as pilot:
        header = app.screen.query_one("#header")
        assert "○ web-up not probed" in str(header.render())
        await pilot.press("space", "r", "y")
        await until(pilot, lambda: app.last_result is not None, timeout=120, what="the run's end")
        await pilot.pause(0.2)
        assert app.last_result.status == "aborted" and app.last_result.exit_code == 3
        assert app.check_board.cells["web-up"].failures >= 1
        run_log = "\n".join(app.views["picker"].query_one(RunPanel).run_lines())
        assert "check web-up: failing (during)" in run_log and "check web-up FAILED" in run_log
        assert "steady state after: ok" in run_log
        header_text = str(app.screen.query_one("#header").render())
        assert "● web-up passing" in header_text and "✗" in header_text  # green again, failures counted
        await pilot.press("2")
        await pilot.pause(0.2)
        pod_log = "\n".join(app.screen.query_one("#pod-events").lines)
        assert "CHECK    web-up  failing (during)" in pod_log
        await pilot.press("4")
        await pilot.pause(0.2)
        table = app.screen.query_one("#timeline-table")
        timeline = "\n".join(table.cell(k, "what").plain for k in table.keys())
        for text in ("started (service_disruption_scenarios)", "web-up failing (during)", "rollback of 1 file(s)",
                     "executed: service_disruption_scenarios_", f"{namespace}/web-"):
            assert text in timeline, text
        chart = str(app.screen.query_one("#timeline-chart").render())
        assert chart.splitlines()[0].startswith("scenario") and "▼" in chart
        # `p` on the scale-down's entry: the pods view filtered to its namespace, the web pods back
        [scaled] = [k for k in table.keys() if table.cell(k, "what").plain.startswith("changed: scale_workload")]
        table.move_cursor_to_key(scaled)
        await pilot.press("p")
        await until(pilot, lambda: app.current_mode == "pods", what="the pods view")
        assert app.screen.filter_text == f"{namespace}/"
        pods = app.screen.query_one("#pod-table")
        await until(pilot, lambda: len(pods.keys()) == 2, timeout=60, what="the two web pods listed")
        assert all(k.startswith(f"{namespace}/web-") for k in pods.keys())
        await pilot.press("4")
        await pilot.pause(0.2)
        await pilot.press("w")
        await pilot.pause(0.2)
        html = app.last_report
        assert html is not None and html.suffix == ".html" and html.with_suffix(".md").is_file()
        assert "Stopped by a check" in html.read_text()
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2
