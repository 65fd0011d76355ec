"""The API server goes away and comes back, on a private cluster (never the shared one): a run
restoring its change, a pod watcher, and execute-rollback all wait for it with backoff, say so
while it is gone, and finish once it is back, leaving nothing behind."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
from kubernetes import client

from krkn_tui.kube.client import load_api_client
from krkn_tui.kube.podmodel import ADDED
from krkn_tui.kube.podstream import KubePodSource
from krkn_tui.kube.podwatch import PodWatcher
from krkn_tui.localcluster import LocalCluster
from krkn_tui.rollback import RollbackContent, RunRollback, list_versions
from krkn_tui.scenarios.application_outage import delete_network_policy
import kubehelpers
from runhelpers import KRKN, Run, app_outage, disk_problems, fill_namespace, pending, wait_for, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DOWN_AFTER_STOP = 3.0  # seconds the API server stays down once stopped


@pytest.fixture(scope="module")
def private_cluster(local_cluster, tmp_path_factory):
    yield from kubehelpers.private_cluster(local_cluster, tmp_path_factory, "apiloss")


@pytest.fixture
def private_api(private_cluster):
    api = load_api_client(str(private_cluster.kubeconfig))
    yield api
    api.close()


@pytest.fixture
def private_namespace(private_api):
    core = client.CoreV1Api(private_api)
    name = f"apiloss-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    # Pods are refused until the controller-manager gives the namespace its ServiceAccount. After
    # this module's repeated API-server kills its informers may still be backing off (seen once
    # in CI, 60 s): create `default` ourselves then; what is tested here is krkn-tui, not that.
    try:
        wait_for(lambda: core.list_namespaced_service_account(name).items, timeout=20, what=f"{name}/default")
    except AssertionError:
        try:
            core.create_namespaced_service_account(name, {"metadata": {"name": "default"}})
        except client.ApiException as e:
            if e.status != 409:
                raise
    yield name
    core.delete_namespace(name)


@contextmanager
def api_server_outage(cluster: LocalCluster):
    """Stops the API server (it refuses connections at once; the stop returns once the process
    is gone), yields while it is down, then starts it again (also if the test failed)."""
    stopper = threading.Thread(target=cluster.stop_component, args=("kube-apiserver",))
    stopper.start()
    try:
        wait_for(lambda: not cluster.api_ready(), timeout=10, what="the API server to go away")
        yield stopper
    finally:
        stopper.join()
        cluster.start_component("kube-apiserver")


def restart_after_delay(stopper: threading.Thread, cluster: LocalCluster) -> None:
    stopper.join()
    time.sleep(DOWN_AFTER_STOP)
    assert not cluster.api_ready()


def test_run_restores_its_change_once_the_api_server_is_back(tmp_path, private_cluster, private_api,
                                                              private_namespace):
    fill_namespace(private_api, private_namespace, {"web": 1})
    net = client.NetworkingV1Api(private_api)
    # The hold must outlast stopping the API server, which takes seconds on a loaded machine.
    cfg = write_config(tmp_path, [("application_outages_scenarios", app_outage(private_namespace, "web", 8))])
    run = Run(cfg, str(private_cluster.kubeconfig))
    run.wait_for(r"created NetworkPolicy")
    with api_server_outage(private_cluster) as stopper:
        # The hold ends while the API server is gone: the restore must retry, and say so.
        run.wait_for(r"API server not available.*retrying", timeout=20)
        restart_after_delay(stopper, private_cluster)
    code = run.finish(timeout=90)
    assert code == 0, run.output
    assert "Traceback" not in run.output
    assert net.list_namespaced_network_policy(private_namespace).items == []
    versions = tmp_path / "versions"
    assert pending(versions) == []
    assert [v.prior_status for v in list_versions(versions)] == ["executed"]  # archived after it ran
    assert disk_problems(versions) == []


def test_pod_watcher_reconnects_and_sees_pods_created_after_the_restart(private_cluster, private_api,
                                                                       private_namespace):
    states: list[str] = []
    source = KubePodSource(lambda: load_api_client(str(private_cluster.kubeconfig)), private_namespace,
                           connect_timeout=2)
    watcher = PodWatcher(source, on_state=states.append, timeout_seconds=5, backoff=(0.2, 1.0))
    watcher.start()
    try:
        wait_for(lambda: watcher.state == "connected", timeout=30, what="the watcher to connect")
        with api_server_outage(private_cluster) as stopper:
            wait_for(lambda: watcher.state.startswith("reconnecting"), timeout=30,
                     what=f"the watcher to report reconnecting (states {states})")
            assert "connection refused" in watcher.state
            restart_after_delay(stopper, private_cluster)
        wait_for(lambda: watcher.state == "connected", timeout=60, what=f"the watcher to reconnect ({states})")
        name = "after-restart"
        client.CoreV1Api(private_api).create_namespaced_pod(private_namespace, {
            "metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}})
        seen: list = []

        def added() -> bool:
            seen.extend(watcher.drain())
            return any(e.kind == ADDED and e.payload.name == name for e in seen)

        wait_for(added, timeout=30, what="the new pod's ADDED event")
    finally:
        watcher.stop()
    assert not watcher.is_alive()
    i_lost = next(i for i, s in enumerate(states) if s.startswith("reconnecting"))
    assert "connected" in states[i_lost:]


def test_execute_rollback_started_while_the_api_server_is_down_succeeds_once_it_is_back(
        tmp_path, private_cluster, private_api, private_namespace):
    net = client.NetworkingV1Api(private_api)
    policy = "left-by-a-killed-run"
    net.create_namespaced_network_policy(private_namespace, {
        "metadata": {"name": policy}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    versions = tmp_path / "versions"
    reg = RunRollback(versions)
    reg.set_rollback_callable(delete_network_policy, RollbackContent(policy, private_namespace),
                              scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
    with api_server_outage(private_cluster) as stopper:
        proc = subprocess.Popen([*KRKN, "execute-rollback", "-d", str(versions), "-r", reg.run_id,
                                 "--kubeconfig", str(private_cluster.kubeconfig)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
        restart_after_delay(stopper, private_cluster)
        assert proc.poll() is None, proc.communicate()  # still waiting for the API server
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, out + err
    assert "Traceback" not in err
    assert "cannot reach the API server" in err and "retrying" in err
    assert out.startswith("executed")
    assert net.list_namespaced_network_policy(private_namespace).items == []
    assert pending(versions) == [] and disk_problems(versions) == []
