"""PVC fill on the real node: usage (df by exec) reaches the percentage during the hold and comes
back after the rollback, also after kill -9 of the runner and `execute-rollback`.

The volume: a static PersistentVolume whose hostPath is a 16 MiB tmpfs mounted in the real node's
own mount namespace (the kubelet and the runtime resolve a hostPath there, not in the machine's),
so `df` sees a small volume of its own and nothing of the machine's disk is filled."""

from __future__ import annotations

import json
import subprocess

import pytest
from kubernetes import client

from kubehelpers import claimed_volume, wait_for
from runhelpers import Run, krkn, pending, run_dirs, write_config
from test_real_node import _pod, real_node  # noqa: F401 (real_node is a fixture)
from test_scenario_app_outage import archived_files, changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.kube.podexec import exec_in_pod
from krkn_tui.scenarios.pvc_fill import parse_pvc

PVC = "pvc_scenarios"
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


def df_percent(api_client, namespace: str, pod: str) -> float:
    r = exec_in_pod(api_client, namespace, pod, "main", ["df", "-k", "/data"])
    used, avail = (int(x) for x in r.stdout.splitlines()[1].split()[2:4])
    return round(100.0 * used / (used + avail), 2)


def start_filler(core, namespace: str, name: str) -> None:
    """A running pod mounting claim `data` at /data."""
    body = _pod(name, namespace, SLEEPER)
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    core.create_namespaced_pod(namespace, body)

    def ready():
        statuses = core.read_namespaced_pod(name, namespace).status.container_statuses
        return statuses and statuses[0].ready

    wait_for(ready, timeout=90, what=f"{name} running")


@pytest.fixture
def volume(local_cluster, real_node, api_client, namespace):
    """A bound PVC on a 16 MiB tmpfs in the node's mount namespace, mounted by pod `filler` at /data."""
    sandbox = json.loads((local_cluster.state_dir / "state.json").read_text())["node"]["sandbox"]
    where = f"/run/krkn-tui-pv/{namespace}"
    enter = ["nsenter", f"--mount={sandbox['folder']}/mnt", "--"]
    subprocess.run([*enter, "sh", "-c", f"mkdir -p {where} && mount -t tmpfs -o size=16m krkn-tui-pv {where}"],
                   check=True, timeout=30)
    core = client.CoreV1Api(api_client)
    try:
        with claimed_volume(core, namespace, f"{namespace}-data", "16Mi",
                            {"hostPath": {"path": where, "type": "Directory"}}) as claim:
            start_filler(core, namespace, "filler")
            yield claim
    finally:
        subprocess.run([*enter, "sh", "-c", f"umount {where}; rmdir {where}"], timeout=30)


def fill(namespace: str, percent, duration: float) -> dict:
    return {"pvc_scenario": {"pvc_name": "data", "pod_name": "ignored", "namespace": namespace,
                             "fill_percentage": percent, "duration": duration, "block_size": 102400}}


@pytest.mark.cluster
def test_fill_reaches_the_percentage_during_the_hold_and_is_removed(tmp_path, api_client, namespace, volume):
    before = df_percent(api_client, namespace, "filler")
    during = []

    def on_event(event, _engine):
        if changes([event]) and changes([event])[0]["action"] == "fill_pvc":
            during.append(df_percent(api_client, namespace, "filler"))

    engine, result, events = run_scenario(tmp_path, api_client, PVC, fill(namespace, 60, 1), on_event=on_event)
    assert result.status == "passed", result.scenarios
    assert len(during) == 1 and 59 <= during[0] <= 61
    assert df_percent(api_client, namespace, "filler") == before
    d = result.scenarios[0].details
    assert (d["pvc"], d["pod"], d["container"]) == ("data", "filler", "main")
    assert d["path"].startswith("/data/krkn-tui-fill-") and d["percent_during"] == during[0]
    assert d["percent_after"] == before and d["size_kb"] > 0
    assert version_files(tmp_path / "versions") == []
    [step] = archived_files(engine)
    assert step.startswith("pvc_scenarios_") and step.endswith(".py.executed")


@pytest.mark.cluster
def test_a_stop_mid_hold_removes_the_file(tmp_path, api_client, namespace, volume):
    before = df_percent(api_client, namespace, "filler")

    def on_event(event, engine):  # the stop request a signal or the console's E-STOP makes
        if changes([event]) and changes([event])[0]["action"] == "fill_pvc":
            engine.stop.set()

    _engine, result, _events = run_scenario(tmp_path, api_client, PVC, fill(namespace, 50, 120), on_event=on_event)
    assert result.status == "interrupted"
    assert [step.status for step in result.rollback] == ["executed"]
    assert df_percent(api_client, namespace, "filler") == before


@pytest.mark.cluster
@pytest.mark.parametrize("pod_replaced", [False, True], ids=["same-pod", "pod-replaced"])
def test_kill_9_mid_hold_then_execute_rollback_removes_the_file(tmp_path, api_client, kubeconfig, namespace,
                                                               volume, pod_replaced):
    """pod-replaced: the recorded pod is gone by the rollback; the file is removed through the
    pod that mounts the claim then (it lives on the volume, not in the pod)."""
    core = client.CoreV1Api(api_client)
    before = df_percent(api_client, namespace, "filler")
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(PVC, fill(namespace, 70, 120))], versions=versions), kubeconfig)
    run.wait_for(r"holding 120s", timeout=90)
    assert 69 <= df_percent(api_client, namespace, "filler") <= 71
    run.proc.kill()
    run.finish()
    assert len(pending(versions)) == 1
    reader = "filler"
    if pod_replaced:
        core.delete_namespaced_pod("filler", namespace, grace_period_seconds=0)
        wait_for(lambda: not core.list_namespaced_pod(namespace).items, timeout=60, what="filler gone")
        start_filler(core, namespace, reader := "filler-2")
        assert 69 <= df_percent(api_client, namespace, reader) <= 71  # the file outlived its pod
    for run_id in run_dirs(versions):
        out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr
    assert df_percent(api_client, namespace, reader) == before
    assert pending(versions) == []


@pytest.mark.cluster
def test_a_pvc_no_pod_mounts_fails_before_any_change(tmp_path, api_client, namespace):
    client.CoreV1Api(api_client).create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "lonely"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}})
    spec = fill(namespace, 50, 1)
    spec["pvc_scenario"]["pvc_name"] = "lonely"
    _engine, result, events = run_scenario(tmp_path, api_client, PVC, spec)
    assert result.status == "failed"
    assert f"no running pod in {namespace} mounts PVC 'lonely'" in result.scenarios[0].message
    assert changes(events) == [] and version_files(tmp_path / "versions") == []


@pytest.mark.parametrize("field, value, message", [
    ("fill_percentage", -5, "must be greater than 0"),
    ("fill_percentage", 100, "must be at most 99"),
    ("namespace", "<namespace_name>", "not a valid namespace name"),
    ("pvc_name", "<pvc_name>", "not a valid object name"),
])
def test_bad_fields_are_one_line_naming_the_field(field, value, message):
    data = fill("ns", 50, 1)
    data["pvc_scenario"][field] = value
    with pytest.raises(UserError) as err:
        parse_pvc(data, "p.yaml")
    assert err.value.field == f"pvc_scenario.{field}" and message in err.value.message


@pytest.mark.cluster
def test_a_negative_fill_is_refused_in_one_line_by_run(tmp_path, kubeconfig, namespace):
    done = krkn("run", "-c", write_config(tmp_path, [(PVC, fill(namespace, -1, 1))]), kubeconfig=kubeconfig)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr
    assert "pvc_scenario.fill_percentage" in lines[0] and "s0-pvc_scenarios.yaml" in lines[0]
    assert not (tmp_path / "versions").exists() or run_dirs(tmp_path / "versions") == []
