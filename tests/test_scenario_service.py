"""service_disruption_scenarios on the local cluster, in namespaces made for each test: a krkn file
(no mode) deletes what krkn deletes and re-creates it, scale mode brings replicas back,
delete_namespace mode recreates what it captured, a stop rolls back, protected namespaces are
refused, dry runs change nothing."""

from __future__ import annotations

import threading
import uuid

import pytest
from kubernetes import client

from kubehelpers import gone_is_fine, ready_pods, wait_for
from krkn_tui.rollback import RollbackContent
from krkn_tui.scenarios.service_disruption import (capture_krkn_objects, capture_namespace, recreate_namespace,
                                                   scale_back)
from test_scenario_node import (
    PAUSE_IMAGE,
    Recorder,
    assert_archived,
    assert_nothing_registered,
    run_engine,
    scenario_config,
)

pytestmark = pytest.mark.cluster


def _workload(kind: str, name: str, replicas: int) -> dict:
    labels = {"app": name}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {
            "containers": [{"name": name, "image": PAUSE_IMAGE, "envFrom": [{"configMapRef": {"name": "settings"}}]}],
            "terminationGracePeriodSeconds": 1}},
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": labels}, "spec": spec}


@pytest.fixture
def svc_namespace(core, apps):
    """t-svc-XXXX (labelled krkn-tui-test=XXXX): a Deployment, a StatefulSet, a Service, a headless
    Service, a ConfigMap and a Secret, all Ready."""
    tag = uuid.uuid4().hex[:8]
    name = f"t-svc-{tag}"
    core.create_namespace({"metadata": {"name": name, "labels": {"krkn-tui-test": tag},
                                        "annotations": {"krkn-tui-test/note": "keep me"}}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "settings"}, "data": {"MODE": "chaos"}})
    core.create_namespaced_secret(name, {"metadata": {"name": "creds"}, "type": "Opaque",
                                         "stringData": {"password": "s3cret"}})
    core.create_namespaced_service(name, {"metadata": {"name": "api"}, "spec": {
        "selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    core.create_namespaced_service(name, {"metadata": {"name": "db"}, "spec": {
        "clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}})
    apps.create_namespaced_deployment(name, _workload("Deployment", "api", 2))
    apps.create_namespaced_stateful_set(name, _workload("StatefulSet", "db", 2))
    wait_all_ready(core, name)
    yield name
    gone_is_fine(core.delete_namespace, name)


def wait_all_ready(core, namespace: str) -> None:
    wait_for(lambda: all(len(ready_pods(core, namespace, f"app={app}")) == 2 for app in ("api", "db")),
             timeout=90, what=f"workloads Ready in {namespace}")


def replicas(apps, namespace: str) -> dict:
    found = {("Deployment", d.metadata.name): d.spec.replicas for d in apps.list_namespaced_deployment(namespace).items}
    found.update({("StatefulSet", s.metadata.name): s.spec.replicas
                  for s in apps.list_namespaced_stateful_set(namespace).items})
    return found


def snapshot(api_client, namespace: str) -> dict:
    """What delete_namespace must bring back, by kind and name: spec or data (no server-set IPs)."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    plain = api_client.sanitize_for_serialization
    ns = core.read_namespace(namespace).metadata
    found = {("Namespace", namespace): {"labels": ns.labels, "annotations": ns.annotations}}
    for s in core.list_namespaced_service(namespace).items:
        spec = plain(s.spec)
        if spec.get("clusterIP") != "None":
            spec.pop("clusterIP"), spec.pop("clusterIPs")
        found["Service", s.metadata.name] = spec
    found.update({("ConfigMap", c.metadata.name): c.data for c in core.list_namespaced_config_map(namespace).items
                  if c.metadata.name != "kube-root-ca.crt"})
    found.update({("Secret", s.metadata.name): (s.type, s.data) for s in core.list_namespaced_secret(namespace).items})
    found.update({("Deployment", d.metadata.name): plain(d.spec)
                  for d in apps.list_namespaced_deployment(namespace).items})
    found.update({("StatefulSet", s.metadata.name): plain(s.spec)
                  for s in apps.list_namespaced_stateful_set(namespace).items})
    return found


def service_yaml(pattern: str, *, mode: str, duration: float = 1, runs: int = 1, sleep: float = 0,
                 label_selector: str = "") -> str:
    selector = f"    label_selector: {label_selector}\n" if label_selector else ""
    return (f"scenarios:\n  - namespace: \"{pattern}\"\n{selector}    mode: {mode}\n    delete_count: 1\n"
            f"    runs: {runs}\n    sleep: {sleep}\n    duration: {duration}\n")


def stop_when_holding(stop: threading.Event):
    """on_hold callback: ask for a stop shortly after the plugin starts holding (from a timer thread)."""
    def on_hold(_event):
        threading.Timer(0.3, stop.set).start()
    return on_hold


# ---- mode scale -----------------------------------------------------------------------------


def test_scale_mode_scales_to_zero_then_back(tmp_path, api_client, core, apps, svc_namespace):
    tag = svc_namespace.removeprefix("t-svc-")
    before = replicas(apps, svc_namespace)
    # The label selector picks namespaces (like krkn): ours among every t-svc-* of other tests.
    config = scenario_config(tmp_path, "service_disruption_scenarios", service_yaml(
        "^t-svc-", mode="scale", label_selector=f"krkn-tui-test={tag}", runs=2, sleep=0.5))
    rec = Recorder(probe=lambda e: replicas(apps, svc_namespace)[e["kind"], e["name"]],
                   on_hold=lambda e: core.list_namespaced_pod(svc_namespace).items)

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems
    changes = rec.changes("scale_workload")
    assert sorted((e["kind"], e["name"], e["previous_replicas"]) for e in changes) == \
        sorted([("Deployment", "api", 2), ("StatefulSet", "db", 2)] * 2)
    assert {e["namespace"] for e in changes} == {svc_namespace}
    assert rec.live == [0, 0, 0, 0]
    assert rec.held == [[], []]  # no pod left while holding, in either run
    assert replicas(apps, svc_namespace) == before
    assert all(len(ready_pods(core, svc_namespace, f"app={app}")) == 2 for app in ("api", "db"))
    assert_archived(config, result, rec)


@pytest.mark.parametrize("mode, steps", [("scale", 2), ("delete_namespace", 1)])
def test_stop_during_hold_rolls_back(tmp_path, api_client, core, svc_namespace, mode, steps):
    before = snapshot(api_client, svc_namespace)  # replicas included
    stop = threading.Event()
    config = scenario_config(tmp_path, "service_disruption_scenarios",
                             service_yaml(f"^{svc_namespace}$", mode=mode, duration=60))
    rec = Recorder(on_hold=stop_when_holding(stop))

    result = run_engine(config, api_client, rec, stop=stop)

    assert result.status == "interrupted"
    assert rec.held and len(rec.changes()) == steps
    assert [s.status for s in result.rollback] == ["executed"] * steps
    assert snapshot(api_client, svc_namespace) == before
    wait_all_ready(core, svc_namespace)


# ---- no mode: krkn's deletion of the namespace's Services and workloads ---------------------------


def krkn_yaml(pattern: str, duration: float = 2) -> str:
    """A file as written for krkn (its keys, no mode), plus krkn-tui's `duration`."""
    return (f"scenarios:\n  - namespace: \"{pattern}\"\n    delete_count: 1\n    runs: 1\n    sleep: 0\n"
            f"    wait_time: 90\n    duration: {duration}\n")


def _extra_workloads(apps, namespace: str) -> None:
    """A DaemonSet and a ReplicaSet nothing owns: krkn deletes those kinds too."""
    ds = _workload("Deployment", "agent", 1)
    ds.update(kind="DaemonSet")
    ds["spec"].pop("replicas")
    apps.create_namespaced_daemon_set(namespace, ds)
    rs = _workload("Deployment", "lone", 1)
    rs.update(kind="ReplicaSet")
    apps.create_namespaced_replica_set(namespace, rs)


def _present(api_client, namespace: str) -> set[tuple[str, str]]:
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    listed = {"Service": core.list_namespaced_service, "Deployment": apps.list_namespaced_deployment,
              "StatefulSet": apps.list_namespaced_stateful_set, "DaemonSet": apps.list_namespaced_daemon_set,
              "ReplicaSet": apps.list_namespaced_replica_set, "ConfigMap": core.list_namespaced_config_map,
              "Secret": core.list_namespaced_secret}
    return {(kind, o.metadata.name) for kind, list_ in listed.items() for o in list_(namespace).items
            if not o.metadata.owner_references and o.metadata.name != "kube-root-ca.crt"}


def test_a_krkn_file_without_mode_deletes_what_krkn_deletes_then_recreates_it(tmp_path, api_client, core, apps,
                                                                               svc_namespace):
    _extra_workloads(apps, svc_namespace)
    before = snapshot(api_client, svc_namespace)
    present = _present(api_client, svc_namespace)
    uid = core.read_namespace(svc_namespace).metadata.uid
    config = scenario_config(tmp_path, "service_disruption_scenarios", krkn_yaml(f"^{svc_namespace}$"))
    rec = Recorder(on_hold=lambda e: _present(api_client, svc_namespace))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems  # every deletion had its version file on disk first
    deleted = {(c["kind"], c["name"]) for c in rec.changes("delete_object")}
    assert deleted == {("Service", "api"), ("Service", "db"), ("Deployment", "api"), ("StatefulSet", "db"),
                       ("DaemonSet", "agent"), ("ReplicaSet", "lone")}
    # While holding: the namespace, its ConfigMap and Secret stay; what krkn deletes is gone.
    assert rec.held == [{("ConfigMap", "settings"), ("Secret", "creds")}]
    assert core.read_namespace(svc_namespace).metadata.uid == uid
    assert _present(api_client, svc_namespace) == present
    assert snapshot(api_client, svc_namespace) == before
    wait_all_ready(core, svc_namespace)
    assert_archived(config, result, rec)


def test_a_stop_during_krkns_deletion_hold_recreates_everything(tmp_path, api_client, core, svc_namespace):
    before = snapshot(api_client, svc_namespace)
    stop = threading.Event()
    config = scenario_config(tmp_path, "service_disruption_scenarios", krkn_yaml(f"^{svc_namespace}$", duration=60))
    rec = Recorder(on_hold=stop_when_holding(stop))

    result = run_engine(config, api_client, rec, stop=stop)

    assert result.status == "interrupted"
    assert rec.held and [s.status for s in result.rollback] == ["executed"]
    assert snapshot(api_client, svc_namespace) == before
    wait_all_ready(core, svc_namespace)


def test_krkns_deletion_captures_no_secret_and_nothing_owned(api_client, svc_namespace):
    objects = capture_krkn_objects(api_client, svc_namespace)["objects"]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "api"), ("Service", "db"), ("Deployment", "api"), ("StatefulSet", "db")]  # restore order
    assert all("ownerReferences" not in o["metadata"] for o in objects)


# ---- mode delete_namespace ------------------------------------------------------------------


def test_delete_namespace_recreates_what_it_captured(tmp_path, api_client, core, svc_namespace):
    before = snapshot(api_client, svc_namespace)
    uid = core.read_namespace(svc_namespace).metadata.uid
    config = scenario_config(tmp_path, "service_disruption_scenarios",
                             service_yaml(f"^{svc_namespace}$", mode="delete_namespace"))
    rec = Recorder(on_hold=lambda e: _namespace_exists(core, svc_namespace))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems
    [change] = rec.changes()
    assert change["action"] == "delete_namespace" and change["captured_objects"] == 6
    assert rec.held == [False]  # finalized and gone while holding
    assert core.read_namespace(svc_namespace).metadata.uid != uid
    assert snapshot(api_client, svc_namespace) == before
    assert all(len(ready_pods(core, svc_namespace, f"app={app}")) == 2 for app in ("api", "db"))
    assert_archived(config, result, rec)


def test_recreate_is_idempotent(api_client, svc_namespace):
    # A PodDisruptionBudget too: its update needs the current resourceVersion (a plain replace is refused).
    client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(svc_namespace, {
        "metadata": {"name": "api"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}}})
    before = snapshot(api_client, svc_namespace)
    data = capture_namespace(api_client, svc_namespace)
    assert ("PodDisruptionBudget", "api") in {(o["kind"], o["metadata"]["name"]) for o in data["objects"]}
    client.CoreV1Api(api_client).patch_namespaced_config_map("settings", svc_namespace, {"data": {"MODE": "drifted"}})
    for _ in range(2):  # everything exists: replaced with the captured version
        recreate_namespace(RollbackContent(svc_namespace, svc_namespace, data), api_client)
    assert snapshot(api_client, svc_namespace) == before
    scale_back(RollbackContent("gone", svc_namespace, {"replicas": 1, "kind": "StatefulSet"}), api_client)


def _namespace_exists(core, name: str) -> bool:
    try:
        core.read_namespace(name)
    except client.ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


# ---- refusals and dry runs ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["scale", "delete_namespace", "delete_objects"])
def test_protected_namespace_is_refused_and_untouched(tmp_path, api_client, core, apps, mode):
    uid = core.read_namespace("kube-system").metadata.uid
    before = replicas(apps, "kube-system")
    config = scenario_config(tmp_path, "service_disruption_scenarios", service_yaml("^kube-system$", mode=mode))
    rec = Recorder()

    result = run_engine(config, api_client, rec)

    assert result.status == "failed"
    assert "protected" in result.scenarios[0].message
    assert_nothing_registered(config, rec)
    assert core.read_namespace("kube-system").metadata.uid == uid
    assert core.read_namespace("kube-system").status.phase == "Active"
    assert replicas(apps, "kube-system") == before


def test_no_matching_namespace_fails(tmp_path, api_client):
    config = scenario_config(tmp_path, "service_disruption_scenarios",
                             service_yaml("^t-svc-", mode="scale", label_selector="krkn-tui-test=nobody"))
    rec = Recorder()
    result = run_engine(config, api_client, rec)
    assert result.status == "failed"
    assert "no namespace matches" in result.scenarios[0].message
    assert_nothing_registered(config, rec)


@pytest.mark.parametrize("mode", ["scale", "delete_namespace", "delete_objects"])
def test_dry_run_changes_nothing(tmp_path, api_client, core, apps, svc_namespace, mode):
    uid = core.read_namespace(svc_namespace).metadata.uid
    before = snapshot(api_client, svc_namespace)
    pods = {p.metadata.uid for p in core.list_namespaced_pod(svc_namespace).items}
    config = scenario_config(tmp_path, "service_disruption_scenarios",
                             service_yaml(f"^{svc_namespace}$", mode=mode))
    rec = Recorder()

    result = run_engine(config, api_client, rec, dry_run=True)

    assert result.status == "passed", result.scenarios
    assert any(m.startswith("dry run: would") for m in rec.steps())
    assert_nothing_registered(config, rec)
    assert core.read_namespace(svc_namespace).metadata.uid == uid
    assert snapshot(api_client, svc_namespace) == before
    assert {p.metadata.uid for p in core.list_namespaced_pod(svc_namespace).items} == pods
