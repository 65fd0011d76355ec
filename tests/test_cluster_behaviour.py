"""The local control plane behaves like a real cluster: the things chaos scenarios rely on."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest
from kubernetes import client, watch

from kubehelpers import deployment, ready_pods, wait_for

pytestmark = pytest.mark.cluster


def test_deployment_gets_three_ready_pods_on_fake_nodes(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 3))
    pods = wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 3 and ready_pods(core, namespace, "app=web"),
                    what="3 Ready pods")
    nodes = {n.metadata.name for n in core.list_node(label_selector="type=kwok").items}
    assert {p.spec.node_name for p in pods} <= nodes
    assert all(p.status.phase == "Running" for p in pods)


def test_deleted_pod_is_replaced_by_a_new_ready_pod(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    before = wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2 and ready_pods(core, namespace, "app=web"))
    victim = before[0].metadata.name
    core.delete_namespaced_pod(victim, namespace, grace_period_seconds=0)
    after = wait_for(
        lambda: (pods := ready_pods(core, namespace, "app=web")) and len(pods) == 2
        and victim not in {p.metadata.name for p in pods} and pods,
        what="a replacement pod",
    )
    assert victim not in {p.metadata.name for p in after}


def test_deleted_namespace_finalizes(core, apps):
    name = "t-finalize"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    apps.create_namespaced_deployment(name, deployment("web", name, 1))
    wait_for(lambda: ready_pods(core, name, "app=web"))
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
        except client.ApiException as e:
            return e.status == 404
        return False

    wait_for(gone, timeout=90, what="the namespace to finalize")


def test_network_policy_is_created_and_deleted(api_client, namespace):
    net = client.NetworkingV1Api(api_client)
    policy = client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="deny-all"),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                        policy_types=["Ingress", "Egress"]),
    )
    net.create_namespaced_network_policy(namespace, policy)
    assert [p.metadata.name for p in net.list_namespaced_network_policy(namespace).items] == ["deny-all"]
    net.delete_namespaced_network_policy("deny-all", namespace)
    assert net.list_namespaced_network_policy(namespace).items == []


def test_node_cordon_drain_with_pdb_and_uncordon(api_client, core, apps, namespace):
    policy = client.PolicyV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 3))
    pods = wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 3 and ready_pods(core, namespace, "app=web"))
    pdb = client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=3, selector=client.V1LabelSelector(match_labels={"app": "web"})),
    )
    policy.create_namespaced_pod_disruption_budget(namespace, pdb)
    wait_for(lambda: policy.read_namespaced_pod_disruption_budget("web", namespace).status.observed_generation)

    node = pods[0].spec.node_name
    victims = [p.metadata.name for p in pods if p.spec.node_name == node]
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        assert core.read_node(node).spec.unschedulable is True
        eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=victims[0], namespace=namespace))
        with pytest.raises(client.ApiException) as refused:
            core.create_namespaced_pod_eviction(victims[0], namespace, eviction)
        assert refused.value.status == 429  # the PDB allows no disruption

        policy.patch_namespaced_pod_disruption_budget("web", namespace, {"spec": {"minAvailable": 2}})
        wait_for(lambda: policy.read_namespaced_pod_disruption_budget("web", namespace).status.disruptions_allowed == 1)
        for name in victims:
            wait_for(lambda: _evict(core, name, namespace), what=f"eviction of {name}")
            wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 3, what="replacement")
        remaining = ready_pods(core, namespace, "app=web")
        assert all(p.spec.node_name != node for p in remaining)  # the cordoned node got none
    finally:
        core.patch_node(node, {"spec": {"unschedulable": None}})
    assert not core.read_node(node).spec.unschedulable


def _evict(core, name, namespace) -> bool:
    try:
        core.create_namespaced_pod_eviction(
            name, namespace, client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace)))
    except client.ApiException as e:
        if e.status == 429:
            return False  # budget not yet recomputed after the last eviction
        raise
    return True


def test_watch_sees_added_modified_deleted(core, namespace):
    seen: list[tuple[str, str]] = []
    started = threading.Event()

    def run():
        w = watch.Watch()
        started.set()
        for ev in w.stream(core.list_namespaced_pod, namespace, timeout_seconds=30):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait()
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="watched", labels={"app": "w"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")]))
    # Without a resourceVersion the watch replays existing objects as ADDED, so no race here.
    core.create_namespaced_pod(namespace, pod)
    core.patch_namespaced_pod("watched", namespace, {"metadata": {"labels": {"touched": "yes"}}})
    core.delete_namespaced_pod("watched", namespace, grace_period_seconds=0)
    t.join(30)
    types = [k for k, name in seen if name == "watched"]
    assert types[0] == "ADDED" and "MODIFIED" in types and types[-1] == "DELETED"


def test_built_kubectl_sees_what_the_python_client_created(kubectl, kubeconfig, core, namespace):
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="from-python"), data={"k": "v"}))
    out = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "-n", namespace, "get", "configmap", "from-python", "-o", "json"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["data"] == {"k": "v"}
    version = subprocess.run([kubectl, "--kubeconfig", kubeconfig, "version", "-o", "json"],
                             capture_output=True, text=True, check=True)
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"].startswith("v1.36.")
