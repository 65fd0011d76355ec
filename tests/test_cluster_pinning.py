"""Rollbacks pinned to their cluster, on two local clusters: a version file records the cluster it
changed, and the executor (through the command line, the engine and the console alike) refuses
to run it on another one unless forced, which is audited."""

from __future__ import annotations

import json
import re

import pytest
from kubernetes import client

from kubehelpers import deployment, gone_is_fine, wait_for
from krkn_tui.config import load_config
from krkn_tui.engine import Engine, plan
from krkn_tui.kube.client import load_api_client
from krkn_tui.kube.identity import read_identity, same_cluster
from krkn_tui.localcluster import LocalCluster
from krkn_tui.rollback import RollbackContent, RunRollback, list_versions, read_version
from krkn_tui.rollback.meta import parse_meta
from krkn_tui.scenarios.service_disruption import scale_back
from runhelpers import krkn
from test_rollback_executor import krkn_file
from tui_support import SIZE, cell, console, keys, until

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster_b(tmp_path_factory, local_cluster):
    """A second local cluster in a private state folder (one node, no demo workload)."""
    cluster = LocalCluster(state_dir=tmp_path_factory.mktemp("cluster-b"), say=lambda line: print(line, flush=True))
    cluster.up(nodes=1, real_node=False)  # a second control plane; the real node has its own tests
    yield cluster
    cluster.down()


@pytest.fixture
def both(cluster_b, kubeconfig, namespace):
    """The same namespace and Deployment `web` (3 replicas) on both clusters: a step's target
    exists under the same name on each, as on a staging and a production cluster."""
    kube_b = str(cluster_b.kubeconfig)
    clients = {"a": load_api_client(kubeconfig), "b": load_api_client(kube_b)}
    client.CoreV1Api(clients["b"]).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    wait_for(lambda: any(s.metadata.name == "default" for s in
                         client.CoreV1Api(clients["b"]).list_namespaced_service_account(namespace).items),
             what="the default ServiceAccount on cluster b")
    for c in clients.values():
        client.AppsV1Api(c).create_namespaced_deployment(namespace, deployment("web", namespace, 3))
    yield {"kube": {"a": kubeconfig, "b": kube_b}, "clients": clients,
           "ids": {k: read_identity(c, "krkn-local") for k, c in clients.items()}}
    gone_is_fine(client.CoreV1Api(clients["b"]).delete_namespace, namespace)
    for c in clients.values():
        c.close()


def replicas(both, which: str, namespace: str) -> int:
    return client.AppsV1Api(both["clients"][which]).read_namespaced_deployment_scale("web", namespace).spec.replicas


def scale(both, which: str, namespace: str, n: int) -> None:
    client.AppsV1Api(both["clients"][which]).patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": n}})


def step_on_a(both, versions, namespace):
    """A step recorded for cluster a, registered before a's `web` is scaled down to 1."""
    run = RunRollback(versions, identity=lambda: both["ids"]["a"])
    path = run.set_rollback_callable(scale_back, RollbackContent("web", namespace, {"kind": "Deployment", "replicas": 3}),
                                     scenario_type="service_disruption_scenarios", verb="scale", kind="Deployment")
    scale(both, "a", namespace, 1)
    return run, path


def test_the_two_clusters_are_told_apart(both):
    a, b = both["ids"]["a"], both["ids"]["b"]
    assert a.context == b.context == "krkn-local"  # same context name: the UID tells them apart
    assert a.kube_system_uid and b.kube_system_uid and not same_cluster(a, b)
    assert a.server != b.server


def test_execute_rollback_refuses_another_cluster_then_runs_on_its_own(both, namespace, tmp_path):
    versions = tmp_path / "versions"
    run, path = step_on_a(both, versions, namespace)
    assert parse_meta(path.read_text()).cluster == both["ids"]["a"]
    scale(both, "b", namespace, 1)

    for extra in ((), ("--no-journal",)):
        refused = krkn("execute-rollback", "-d", versions, "-r", run.run_id, *extra, kubeconfig=both["kube"]["b"])
        assert refused.returncode == 1, refused.stdout + refused.stderr
        [line] = [ln for ln in refused.stdout.splitlines() if ln.startswith("refused")]
        a, b = both["ids"]["a"], both["ids"]["b"]
        assert (f"recorded for cluster krkn-local ({a.server}, uid {a.kube_system_uid[:8]}), "
                f"but connected to krkn-local ({b.server}, uid {b.kube_system_uid[:8]})") in line
        assert "--force-cluster" in line and "Traceback" not in refused.stderr
        assert replicas(both, "b", namespace) == 1 and path.exists()  # b untouched, the step still pending
        assert read_version(path).status == "pending"

    done = krkn("execute-rollback", "-d", versions, "-r", run.run_id, kubeconfig=both["kube"]["a"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("executed") and replicas(both, "a", namespace) == 3
    assert replicas(both, "b", namespace) == 1


@pytest.mark.parametrize("before", [False, True], ids=["after", "before"])
def test_force_cluster_runs_it_and_is_audited(both, namespace, tmp_path, before):
    versions = tmp_path / "versions"
    run, path = step_on_a(both, versions, namespace)
    scale(both, "b", namespace, 2)
    args = ["execute-rollback", "-d", versions, "-r", run.run_id, "--no-journal"]
    forced = krkn(*(["--force-cluster", *args] if before else [*args, "--force-cluster"]), kubeconfig=both["kube"]["b"])
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "running it anyway (--force-cluster, audited)" in forced.stderr
    assert replicas(both, "b", namespace) == 3 and replicas(both, "a", namespace) == 1
    audit = [json.loads(line) for line in (tmp_path / "versions-audit.jsonl").read_text().splitlines()]
    [entry] = [e for e in audit if e["event"] == "rollback_cluster_forced"]
    assert entry["file"] == str(path) and entry["run_id"] == "execute-rollback"
    assert entry["recorded"] == both["ids"]["a"].to_dict() and entry["connected"] == both["ids"]["b"].to_dict()


def test_listing_shows_each_steps_cluster_and_krkns_as_unknown(both, namespace, tmp_path):
    versions = tmp_path / "versions"
    step_on_a(both, versions, namespace)
    krkn_file(versions, tmp_path / "marker")
    listed = krkn("list-rollback", "-d", versions, "--json")
    assert listed.returncode == 0, listed.stderr
    clusters = {row["origin"]: row["cluster"] for row in json.loads(listed.stdout)}
    assert clusters == {"krkn-tui": both["ids"]["a"].to_dict(), "krkn": None}
    # krkn's file still needs --allow-foreign, whatever cluster is connected
    refused = krkn("execute-rollback", "-d", versions, "-s", "hog_scenarios", kubeconfig=both["kube"]["b"])
    assert refused.returncode == 1 and "allow foreign files" in refused.stdout


def test_engine_records_the_cluster_it_changes(both, namespace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scale.yaml").write_text(f"scenarios:\n  - namespace: ^{namespace}$\n    mode: scale\n"
                                         "    duration: 1\n    sleep: 0\n")
    (tmp_path / "config.yaml").write_text(f"kraken:\n  rollback_versions_directory: {tmp_path / 'versions'}\n"
                                          "  cluster_journal: false\n"
                                          "  chaos_scenarios:\n    - service_disruption_scenarios: [scale.yaml]\n"
                                          "tunings:\n  wait_duration: 0\n")
    cfg = load_config(tmp_path / "config.yaml")
    result = Engine(cfg, lambda: both["clients"]["a"], kubeconfig=both["kube"]["a"]).run(plan(cfg))
    assert result.status == "passed", result.scenarios
    steps = list_versions(tmp_path / "versions")
    assert steps and all(same_cluster(s.cluster, both["ids"]["a"]) for s in steps)
    assert {s.cluster.context for s in steps} == {"krkn-local"}
    assert replicas(both, "a", namespace) == 3


async def test_console_refuses_a_step_of_another_cluster(both, namespace, tmp_path):
    versions = tmp_path / "versions"
    step_on_a(both, versions, namespace)
    scale(both, "b", namespace, 1)
    (tmp_path / "config.yaml").write_text("kraken:\n  cluster_journal: false\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=both["kube"]["b"], watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        table = app.screen.query_one("#version-table")
        await until(pilot, lambda: table.row_count == 1, what="the step listed")
        [key] = keys(table)
        assert re.fullmatch(rf"krkn-local·{both['ids']['a'].kube_system_uid[:4]}", cell(table, key, "cluster"))
        await pilot.press("x", "y")
        await until(pilot, lambda: "connected to krkn-local" in cell(table, key, "note")
                    or app.told("connected to krkn-local"),
                    what="the refusal shown")
        assert cell(table, key, "status") == "pending"
    assert replicas(both, "b", namespace) == 1
