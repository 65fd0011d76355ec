"""Resource hogs on the local cluster, driven through the engine (kwok runs no containers)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui.events import ClusterChange, Step
from krkn_tui.rollback import read_version
from test_scenario_app_outage import archived_files, changes, run_scenario, version_files

pytestmark = pytest.mark.cluster

HOG = "hog_scenarios"


def hog_pods(api_client, namespace: str) -> dict[str, str]:
    """name -> node of the krkn-hog pods in `namespace` (terminating ones included)."""
    items = client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector="app=krkn-hog").items
    return {p.metadata.name: p.spec.node_name for p in items}


def hog(namespace: str, **extra) -> dict:
    return {"duration": 1, "hog-type": "cpu", "namespace": namespace, "node-selector": "type=kwok", **extra}


def test_hog_pods_run_pinned_with_rollbacks_then_go(tmp_path, api_client, namespace):
    before = hog_pods(api_client, namespace)
    observed = []

    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            event = event.record()
            pod = client.CoreV1Api(api_client).read_namespaced_pod(event["name"], namespace)
            pending = {read_version(p).name: p.name for p in version_files(engine.config.versions_dir)}
            observed.append((event, pod, pending))

    engine, result, events = run_scenario(tmp_path, api_client, HOG, hog(
        namespace, **{"hog-type": "io", "number-of-nodes": 2, "taints": ["example.com/hog=yes:NoSchedule"]}),
        on_event=on_event)

    assert result.status == "passed", result.scenarios
    details = result.scenarios[0].details
    assert len(details["nodes"]) == 2 and len(details["pods"]) == 2
    assert [e["action"] for e in changes(events)] == ["create_pod", "create_pod"]
    for event, pod, pending in observed:
        # The pod's rollback file was on disk while the pod existed.
        assert event["name"] in pending
        assert pod.metadata.labels["app"] == "krkn-hog"
        assert pod.metadata.labels["krkn-tui/run"] == engine.rollback.run_uuid
        assert pod.spec.node_selector == {"kubernetes.io/hostname": event["node"]} and event["node"] in details["nodes"]
        assert [(t.key, t.operator, t.value, t.effect) for t in pod.spec.tolerations or []
                if t.key == "example.com/hog"] == [("example.com/hog", "Equal", "yes", "NoSchedule")]
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["HOG_TYPE"] == "io" and pod.spec.volumes[0].name == "node-volume"
    assert {pod.spec.node_selector["kubernetes.io/hostname"] for _, pod, _ in observed} == set(details["nodes"])
    assert hog_pods(api_client, namespace) == before
    assert sorted(archived_files(engine)) == sorted(f + ".executed" for f in observed[-1][2].values())
    assert version_files(engine.config.versions_dir) == []


def test_stop_while_hogging_removes_the_pods(tmp_path, api_client, namespace):
    def on_event(event, engine):
        if isinstance(event, Step) and "hogging" in event.message:
            threading.Timer(0.3, engine.stop.set).start()

    engine, result, _ = run_scenario(tmp_path, api_client, HOG, hog(namespace, duration=120, **{"number-of-nodes": 1}),
                                     on_event=on_event)
    assert result.status == "interrupted"
    assert [s.status for s in result.rollback] == ["executed"]
    assert hog_pods(api_client, namespace) == {}
    assert [p.name.endswith(".py.executed") for p in version_files(engine.config.versions_dir)] == [True]


def test_no_matching_node_fails_without_changes(tmp_path, api_client, namespace):
    engine, result, events = run_scenario(tmp_path, api_client, HOG, hog(namespace, **{"node-selector": "type=nowhere"}))
    assert result.status == "failed"
    assert "no schedulable node" in result.scenarios[0].message
    assert changes(events) == [] and hog_pods(api_client, namespace) == {}
    assert version_files(engine.config.versions_dir) == []


def test_protected_namespace_is_refused_untouched(tmp_path, api_client):
    before = hog_pods(api_client, "kube-system")
    _, result, events = run_scenario(tmp_path, api_client, HOG, hog("kube-system"))
    assert result.status == "failed"
    assert "protected" in result.scenarios[0].message
    assert changes(events) == []
    assert hog_pods(api_client, "kube-system") == before


def test_dry_run_changes_nothing(tmp_path, api_client, namespace):
    engine, result, events = run_scenario(tmp_path, api_client, HOG, hog(namespace), dry_run=True)
    assert result.status == "passed"
    details = result.scenarios[0].details
    assert details["dry_run"] is True and details["nodes"] and details["pods"] == []
    assert changes(events) == [] and hog_pods(api_client, namespace) == {}
    assert not engine.config.versions_dir.exists()


# ---- the pod krkn-lib builds -----------------------------------------------------------------


def _comparable(pod: dict) -> dict:
    """The fields of a stored pod that krkn-lib's hog template decides (the API server's own
    additions, such as the service-account token volume, are left out on both sides)."""
    spec = pod["spec"]
    [container] = spec["containers"]
    token = lambda item: item["name"].startswith("kube-api-access-")  # noqa: E731
    return {
        "restartPolicy": spec["restartPolicy"],
        "nodeSelector": spec.get("nodeSelector"),
        "tolerations": sorted(spec.get("tolerations") or [], key=lambda t: (t["key"], t.get("effect", ""))),
        "volumes": [v for v in spec.get("volumes") or [] if not token(v)],
        "container": {
            "name": container["name"],
            "image": container["image"],
            "securityContext": container.get("securityContext"),
            "env": container["env"],
            "volumeMounts": [m for m in container.get("volumeMounts") or [] if not token(m)],
        },
    }


@pytest.mark.parametrize("hog_type, extra", [
    ("io", {"io-block-size": "4m", "io-write-bytes": "20m", "io-target-pod-folder": "/stress",
            "io-target-pod-volume": {"name": "node-volume", "hostPath": {"path": "/var/tmp"}}}),
    ("cpu", {"cpu-load-percentage": 60, "cpu-method": "matrixprod", "workers": 2}),
    ("memory", {"memory-vm-bytes": "30%"}),
])
def test_hog_pod_is_the_one_krkn_lib_builds(tmp_path, api_client, namespace, kubeconfig, krkn_lib_python,
                                           hog_type, extra):
    """The same scenario file through krkn-tui and through krkn-lib's deploy_hog, on the same
    node: the stored pods agree on every field krkn-lib's template sets."""
    import json
    import subprocess

    import yaml

    scenario = hog(namespace, **{"hog-type": hog_type, "number-of-nodes": 1, "duration": 2,
                                 "image": "registry.k8s.io/pause:3.10",
                                 "taints": ["example.com/hog=yes:NoSchedule", "example.com/any:NoExecute"], **extra})
    ours: list[dict] = []

    def on_event(event, engine):
        if isinstance(event, ClusterChange) and event.action == "create_pod":
            pod = client.CoreV1Api(api_client).read_namespaced_pod(event.fields["name"], namespace)
            ours.append(api_client.sanitize_for_serialization(pod))

    _, result, _ = run_scenario(tmp_path, api_client, HOG, scenario, on_event=on_event)
    assert result.status == "passed", result.scenarios
    [pod] = ours
    node = pod["spec"]["nodeSelector"]["kubernetes.io/hostname"]

    (tmp_path / "hog.yaml").write_text(yaml.safe_dump(scenario))
    done = subprocess.run([krkn_lib_python, str(Path(__file__).with_name("krkn_lib_hog.py")), kubeconfig,
                           str(tmp_path / "hog.yaml"), node, f"krkn-lib-{hog_type}-hog"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])

    assert _comparable(pod) == _comparable(theirs)
    mine = _comparable(pod)
    # The fields the issue names, spelled out so the comparison above cannot pass vacuously.
    assert mine["restartPolicy"] == "Never" and mine["nodeSelector"] == {"kubernetes.io/hostname": node}
    assert mine["container"]["name"] == "krkn-hog" and mine["container"]["securityContext"] == {"privileged": True}
    assert [e["name"] for e in mine["container"]["env"]] == [
        "HOG_TYPE", "LOAD_PERCENTAGE", "CPU_METHOD", "HDD_WRITE_SIZE", "HDD_BYTES", "STRESS_PATH", "VM_BYTES",
        "WORKERS", "DURATION"]
    assert {(t["key"], t["operator"], t.get("value"), t["effect"]) for t in mine["tolerations"]} >= {
        ("example.com/hog", "Equal", "yes", "NoSchedule"), ("example.com/any", "Exists", None, "NoExecute")}
    if hog_type == "io":
        assert mine["volumes"] == [{"name": "node-volume", "hostPath": {"path": "/var/tmp", "type": ""}}]
        assert mine["container"]["volumeMounts"] == [{"name": "node-volume", "mountPath": "/stress"}]
    else:
        assert mine["volumes"] == [] and mine["container"]["volumeMounts"] == []
