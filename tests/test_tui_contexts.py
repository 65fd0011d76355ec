"""k9s's `:ctx` in the console, on two real clusters (the shared one and a private one) whose
kubeconfigs are merged into one file with two contexts: the pods view, the header, the journal
rows and the rollback service's cluster follow the switch; a run in progress keeps its cluster."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

import kubehelpers
from krkn_tui.kube.client import list_contexts, load_api_client
from tui_support import SIZE, console, outage_config, until

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def second_cluster(local_cluster, tmp_path_factory):
    yield from kubehelpers.private_cluster(local_cluster, tmp_path_factory, "contexts")


def merged_kubeconfig(path: Path, **named: Path) -> Path:
    """One kubeconfig holding each file's (single) context, cluster and user under ``name``."""
    merged = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, source in named.items():
        cfg = yaml.safe_load(source.read_text())
        [ctx] = cfg["contexts"]
        cluster = next(c for c in cfg["clusters"] if c["name"] == ctx["context"]["cluster"])
        user = next(u for u in cfg["users"] if u["name"] == ctx["context"]["user"])
        merged["clusters"].append({"name": name, "cluster": cluster["cluster"]})
        merged["users"].append({"name": f"{name}-user", "user": user["user"]})
        merged["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-user"}})
    merged["current-context"] = next(iter(named))
    path.write_text(yaml.safe_dump(merged))
    return path


def header(app) -> str:
    return str(app.screen.query_one("#header").render())


def _pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


def _policies(api_client, namespace) -> list[str]:
    return [p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items]


async def test_ctx_moves_the_pods_view_and_a_run_keeps_its_cluster(tmp_path, local_cluster, second_cluster,
                                                                    namespace, api_client):
    kubeconfig = str(merged_kubeconfig(tmp_path / "kubeconfig", one=local_cluster.kubeconfig,
                                       two=second_cluster.kubeconfig))
    assert [t.context for t in list_contexts(kubeconfig)] == ["one", "two"]
    two = load_api_client(kubeconfig, "two")
    core_two = client.CoreV1Api(two)
    only_there = f"t-ctx-{uuid.uuid4().hex[:6]}"
    core_two.create_namespace({"metadata": {"name": only_there}})
    core_two.create_namespaced_pod(only_there, _pod("on-cluster-two"))
    client.CoreV1Api(api_client).create_namespaced_pod(namespace, _pod("on-cluster-one"))
    outage_config(tmp_path, namespace, duration=300)
    app = console(tmp_path, kubeconfig=kubeconfig)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            pods = app.screen
            await until(pilot, lambda: f"{namespace}/on-cluster-one" in app.pod_table.rows, what="cluster one's pod")
            assert f"{only_there}/on-cluster-two" not in app.pod_table.rows
            assert "context one" in header(app)

            app.start_run({0})  # on cluster one: it must stay there
            await until(pilot, lambda: len(_policies(api_client, namespace)) == 1, what="the outage on cluster one")

            await pilot.press("colon")
            await pilot.press(*"ctx", "enter")
            await until(pilot, lambda: bool(app.screen.query("#context-list")), what="the context picker")
            await pilot.press("down", "enter")  # from `one` (highlighted) to `two`
            await until(pilot, lambda: f"{only_there}/on-cluster-two" in app.pod_table.rows,
                        what="cluster two's pod in the pods view")
            assert f"{namespace}/on-cluster-one" not in app.pod_table.rows
            assert app.screen is pods and "context two" in header(app)
            assert app.loaded.target.context == "two" and app.rollback_service.context == "two"
            await until(pilot, lambda: app.server_version not in ("…", "-"), what="the new server's version")

            # The run started on one goes on there; its emergency stop rolls back on one.
            assert app.run_active and len(_policies(api_client, namespace)) == 1
            await pilot.press("ctrl+e")
            await until(pilot, lambda: app.last_result is not None, what="the run stopped")
            assert _policies(api_client, namespace) == []
            assert app.last_result.status == "interrupted"

            await pilot.press("colon")
            await pilot.press(*"ctx one", "enter")  # by name, at once
            await until(pilot, lambda: f"{namespace}/on-cluster-one" in app.pod_table.rows, what="back on one")
            await pilot.press("colon")
            await pilot.press(*"ctx nope", "enter")
            assert app.settings.context == "one"  # an unknown context changes nothing
    finally:
        kubehelpers.gone_is_fine(core_two.delete_namespace, only_there)
        two.close()
