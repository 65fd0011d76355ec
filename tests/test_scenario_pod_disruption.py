"""Pod disruption on the local cluster, driven through the engine."""

from __future__ import annotations

import pytest
from kubernetes import client

from kubehelpers import deployment, ready_pods, wait_for
from test_scenario_app_outage import changes, run_scenario, version_files

pytestmark = pytest.mark.cluster

POD = "pod_disruption_scenarios"


def kill(namespace_pattern: str, **config) -> list[dict]:
    return [{"id": "kill", "config": {"namespace_pattern": namespace_pattern, "krkn_pod_recovery_time": 60,
                                      **config}}]


def pods(core, namespace: str, selector: str = "") -> dict[str, str]:
    """name -> uid of the pods that are not terminating."""
    return {p.metadata.name: p.metadata.uid for p in core.list_namespaced_pod(namespace, label_selector=selector).items
            if p.metadata.deletion_timestamp is None}


def ready_replicas(api_client, namespace: str) -> dict[str, int | None]:
    return {d.metadata.name: d.status.ready_replicas
            for d in client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items}


def start(api_client, namespace: str, name: str, replicas: int, labels: dict | None = None) -> None:
    core = client.CoreV1Api(api_client)
    labels = labels or {"app": name}
    client.AppsV1Api(api_client).create_namespaced_deployment(
        namespace, deployment(name, namespace, replicas, labels))
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    wait_for(lambda: len(ready_pods(core, namespace, selector)) == replicas, what=f"{name} ready")
    wait_for(lambda: ready_replicas(api_client, namespace)[name] == replicas, what=f"{name} status")


def test_parallel_kill_reports_both_times_per_replacement(tmp_path, api_client, namespace):
    core = client.CoreV1Api(api_client)
    start(api_client, namespace, "web", 3)
    snapshot = ready_replicas(api_client, namespace)
    before = pods(core, namespace)

    engine, result, events = run_scenario(tmp_path, api_client, POD, kill(
        f"^{namespace}$", label_selector="app=web", kill=2, execution="parallel", force=True))

    assert result.status == "passed", result.scenarios
    reported = result.scenarios[0].details["pods"]
    assert len(reported) == 2
    killed = {p["name"] for p in reported}
    assert killed <= set(before) and len(killed) == 2
    for entry in reported:
        assert entry["namespace"] == namespace and entry["node"]
        assert entry["replacement"] not in before  # a new pod, not a survivor
        assert 0 <= entry["rescheduling_seconds"] <= entry["readiness_seconds"] < 60
    assert len({p["replacement"] for p in reported}) == 2
    assert sorted((c["action"], c["name"]) for c in changes(events)) == sorted(("delete_pod", n) for n in killed)
    after = pods(core, namespace)
    assert not killed & set(after)
    assert {p["replacement"] for p in reported} <= set(after)
    wait_for(lambda: ready_replicas(api_client, namespace) == snapshot, what="deployment back to ready")
    assert version_files(engine.config.versions_dir) == []  # pod kills write no rollback


def test_serial_kill_honours_exclusion_and_counts_candidates(tmp_path, api_client, namespace):
    core = client.CoreV1Api(api_client)
    start(api_client, namespace, "alpha", 2, {"app": "alpha", "group": "g"})
    start(api_client, namespace, "beta", 1, {"app": "beta", "group": "g"})
    beta = pods(core, namespace, "app=beta")

    _, too_many, events = run_scenario(tmp_path / "a", api_client, POD, kill(
        f"^{namespace}$", label_selector="group=g", exclude_label="app=beta", kill=3))
    assert too_many.status == "failed"
    assert "only 2 match" in too_many.scenarios[0].message
    assert changes(events) == []

    alpha = pods(core, namespace, "app=alpha")
    _, result, _ = run_scenario(tmp_path / "b", api_client, POD, kill(
        f"^{namespace}$", label_selector="group=g", name_pattern="^alpha-", exclude_label="app=beta", kill=2))
    assert result.status == "passed", result.scenarios
    reported = result.scenarios[0].details["pods"]
    assert {p["name"] for p in reported} == set(alpha)
    assert all(0 <= p["rescheduling_seconds"] <= p["readiness_seconds"] for p in reported)
    assert pods(core, namespace, "app=beta") == beta


def test_pod_nothing_recreates_fails_the_scenario(tmp_path, api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="lonely", labels={"app": "lonely"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")])))
    wait_for(lambda: ready_pods(core, namespace, "app=lonely"), what="lonely ready")

    _, result, events = run_scenario(tmp_path, api_client, POD, kill(f"^{namespace}$", name_pattern="^lonely$"))

    assert result.status == "failed"
    assert result.scenarios[0].status == "failed"
    message = result.scenarios[0].message
    assert f"{namespace}/lonely" in message and "nothing recreates it" in message
    assert [c["name"] for c in changes(events)] == ["lonely"]
    wait_for(lambda: "lonely" not in pods(core, namespace), what="lonely deleted")


def test_replacement_never_ready_fails_after_recovery_time(tmp_path, api_client, namespace):
    # A bare ReplicaSet keeps its pods when its template changes: the running pod stays, and
    # every replacement asks for a scheduler that does not exist, so it stays Pending.
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    template = deployment("stuck", namespace, 1).spec.template
    apps.create_namespaced_replica_set(namespace, client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="stuck"),
        spec=client.V1ReplicaSetSpec(replicas=1, selector=client.V1LabelSelector(match_labels={"app": "stuck"}),
                                     template=template)))
    wait_for(lambda: ready_pods(core, namespace, "app=stuck"), what="stuck ready")
    apps.patch_namespaced_replica_set("stuck", namespace, {"spec": {"template": {"spec": {
        "schedulerName": "no-such-scheduler"}}}})
    [victim] = pods(core, namespace, "app=stuck")

    _, result, _ = run_scenario(tmp_path, api_client, POD, kill(
        f"^{namespace}$", label_selector="app=stuck", force=True, krkn_pod_recovery_time=2))

    assert result.status == "failed"
    message = result.scenarios[0].message
    assert f"{namespace}/{victim}" in message and "was not Ready within 2s" in message
    [replacement] = pods(core, namespace, "app=stuck")
    assert replacement != victim and replacement in message


def test_protected_namespaces_are_refused_untouched(tmp_path, api_client):
    core = client.CoreV1Api(api_client)
    before = pods(core, "kube-system")
    for i, pattern in enumerate(["^kube-system$", "^kube-"]):
        _, result, events = run_scenario(tmp_path / str(i), api_client, POD, kill(pattern, label_selector="x=y"))
        assert result.status == "failed"
        assert "protected" in result.scenarios[0].message
        assert changes(events) == []
    assert pods(core, "kube-system") == before


def test_dry_run_changes_nothing(tmp_path, api_client, namespace):
    core = client.CoreV1Api(api_client)
    start(api_client, namespace, "web", 2)
    before = pods(core, namespace)
    engine, result, events = run_scenario(tmp_path, api_client, POD, kill(
        f"^{namespace}$", label_selector="app=web", kill=2), dry_run=True)
    assert result.status == "passed"
    details = result.scenarios[0].details
    assert details["dry_run"] is True and {p["name"] for p in details["pods"]} == set(before)
    assert changes(events) == []
    assert pods(core, namespace) == before
    assert not engine.config.versions_dir.exists()
