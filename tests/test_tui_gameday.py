"""The console's game-day parts on the local cluster: the blast radius in the confirm dialog."""

from __future__ import annotations

import pytest
from kubehelpers import deployment, wait_for

from krkn_tui.tui.screens.confirm import ConfirmScreen
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
