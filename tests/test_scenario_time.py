"""Time scenarios: krkn's pod action by exec on the real node (it sets no clock), the node action
refused on the local cluster before anything is created, krkn's spec fields."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client

from kubehelpers import wait_for
from runhelpers import krkn, write_config
from test_real_node import _pod, real_node  # noqa: F401 (real_node is a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from test_scenario_container import running_pods
from krkn_tui.errors import UserError
from krkn_tui.localcluster import realnode
from krkn_tui.scenarios.time_skew import NO_ROLLBACK, local_clock_reason, parse_time

TIME = "time_scenarios"
# krkn's scenarios/openshift/time_scenarios_example.yml, verbatim.
KRKN_SHIPPED = """\
time_scenarios:
  - action: skew_time
    object_type: pod
    namespace: openshift-etcd
    container_name: etcd
    label_selector: app=etcd
  - action: skew_date
    object_type: node
    label_selector: node-role.kubernetes.io/worker
"""


def test_krkn_shipped_file_reads_as_krkn_reads_it():
    pod, node = parse_time(yaml.safe_load(KRKN_SHIPPED), "t.yml")
    assert (pod.action, pod.object_type, pod.namespace, pod.container_name, pod.label_selector) == (
        "skew_time", "pod", "openshift-etcd", "etcd", "app=etcd")
    assert pod.argv == ["date", "--date", "01:01:01"]
    assert (node.action, node.object_type, node.label_selector, node.namespace) == (
        "skew_date", "node", "node-role.kubernetes.io/worker", None)


@pytest.mark.parametrize("entry, field, message", [
    ({"action": "skew_clock", "object_type": "pod", "namespace": "a"}, "time_scenarios[0].action", "skew_clock"),
    ({"action": "skew_time", "object_type": "container", "namespace": "a"}, "time_scenarios[0].object_type",
     "container"),
    ({"action": "skew_time", "object_type": "pod", "object_name": ["p"]}, "time_scenarios[0].namespace",
     "object_name needs a namespace"),
    ({"action": "skew_time", "object_type": "pod"}, "time_scenarios[0].label_selector", "names no pods"),
    ({"action": "skew_date", "object_type": "node"}, "time_scenarios[0].label_selector", "names no nodes"),
    ({"action": "skew_date", "object_type": "node", "object_name": ["<node_name>"]},
     "time_scenarios[0].object_name[0]", "not a valid node name"),
    ({"action": "skew_time", "object_type": "pod", "namespace": "<namespace>"}, "time_scenarios[0].namespace",
     "not a valid namespace name"),
    ({"action": "skew_time", "object_type": "pod", "namespace": "a", "clock": 1}, "time_scenarios[0].clock", ""),
])
def test_bad_fields_are_one_line_naming_the_field(entry, field, message):
    with pytest.raises(UserError) as err:
        parse_time({"time_scenarios": [entry]}, "t.yml")
    assert err.value.field == field and message in err.value.message and "\n" not in str(err.value)
    assert str(err.value).startswith("t.yml")


def _node(name: str, labels: dict | None = None, addresses: tuple[str, ...] = ()) -> client.V1Node:
    return client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=labels),
                         status=client.V1NodeStatus(addresses=[client.V1NodeAddress(address=a, type="InternalIP")
                                                               for a in addresses]))


def test_a_node_sharing_this_machines_clock_is_recognised():
    host = ({"this-host"}, {"10.0.0.5", "127.0.0.1"})
    assert "krkn-tui.io/node-kind=real" in local_clock_reason(_node("n", {realnode.KIND_LABEL: "real"}), host)
    assert "krkn-tui.io/node-kind=kwok" in local_clock_reason(_node("n", {realnode.KIND_LABEL: "kwok"}), host)
    assert "is this machine" in local_clock_reason(_node("this-host"), host)
    assert "is this machine" in local_clock_reason(_node("w", addresses=("10.0.0.5",)), host)
    assert local_clock_reason(_node("worker-1", {"role": "worker"}, ("10.0.0.9",)), host) is None


def _all_pods(core) -> set[str]:
    return {p.metadata.uid for p in core.list_pod_for_all_namespaces().items}


@pytest.mark.cluster
def test_the_node_action_on_the_local_cluster_is_refused_before_anything_is_created(tmp_path, kubeconfig,
                                                                                    api_client):
    core = client.CoreV1Api(api_client)
    before = _all_pods(core)
    cfg = write_config(tmp_path, [(TIME, {"time_scenarios": [{
        "action": "skew_date", "object_type": "node", "label_selector": realnode.KIND_LABEL}]})])
    done = krkn("run", "-c", cfg, kubeconfig=kubeconfig)
    assert done.returncode != 0 and "Traceback" not in done.stdout + done.stderr
    refused = [line for line in done.stdout.splitlines() if "skew_date refused: node " in line]
    finished = [line for line in refused if "■ time_scenarios" in line]
    assert len(finished) == 1, done.stdout
    assert "belongs to the local cluster (krkn-tui.io/node-kind=" in finished[0]
    assert "which runs on this machine: krkn-tui never sets this machine's clock" in finished[0]
    assert "changed:" not in done.stdout  # no change was audited
    assert _all_pods(core) <= before  # no pod was created to run timedatectl
    assert version_files(tmp_path / "versions") == []


@pytest.mark.cluster
def test_the_pod_action_runs_krkns_command_and_sets_no_clock(tmp_path, api_client, namespace, real_node):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, _pod("clock", namespace, ["sh", "-c", "sleep 3600"]))
    wait_for(lambda: running_pods(core, namespace, ["clock"]), timeout=90, what="pod running")
    _engine, result, events = run_scenario(tmp_path, api_client, TIME, {"time_scenarios": [
        {"action": "skew_time", "object_type": "pod", "namespace": namespace, "label_selector": "app=clock"},
        {"action": "skew_date", "object_type": "pod", "namespace": namespace, "object_name": ["clock"],
         "container_name": "main"}]})
    assert result.status == "passed", result.scenarios
    printed = []
    for scenario in result.scenarios:
        [entry] = scenario.details["pods"]
        assert (entry["pod"], entry["container"], entry["exit_code"]) == ("clock", "main", 0)
        assert scenario.details["rollback"] == NO_ROLLBACK and entry["clock_after"].isdigit()
        printed.append((entry["command"], entry["printed"]))
    # busybox's date prints the date it was given: 01:01:01 today, and krkn's 00-01-01 as year 0.
    assert printed[0][0] == "date --date 01:01:01" and "01:01:01" in printed[0][1]
    assert printed[1][0] == "date --date 00-01-01" and printed[1][1].startswith("Sat Jan  1 00:00:00")
    assert [c["action"] for c in changes(events)] == ["exec_date", "exec_date"]
    assert version_files(tmp_path / "versions") == []  # nothing was changed, nothing to undo


@pytest.mark.cluster
def test_a_missing_container_fails_before_any_exec(tmp_path, api_client, namespace, real_node):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, _pod("clock", namespace, ["sh", "-c", "sleep 3600"]))
    wait_for(lambda: running_pods(core, namespace, ["clock"]), timeout=90, what="pod running")
    _engine, result, events = run_scenario(tmp_path, api_client, TIME, {"time_scenarios": [
        {"action": "skew_time", "object_type": "pod", "namespace": namespace, "container_name": "etcd"}]})
    assert result.status == "failed"
    assert "container 'etcd' is not in pod" in result.scenarios[0].message
    assert changes(events) == []


@pytest.mark.cluster
def test_krkns_shipped_time_file_plans_with_a_dry_run(tmp_path, kubeconfig, api_client):
    cfg = write_config(tmp_path, [(TIME, KRKN_SHIPPED)])
    done = krkn("run", "-c", cfg, "--dry-run", kubeconfig=kubeconfig)
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    assert "plan #1 time_scenarios: s0-time_scenarios.yaml" in done.stdout and ": 2 scenario(s)" in done.stdout
    # Each spec has its verdict: no etcd pod here; the local cluster's workers are refused.
    finished = [line for line in done.stdout.splitlines() if "■ time_scenarios" in line]
    assert len(finished) == 2, done.stdout
    assert "no running pod matches label selector 'app=etcd' in namespace openshift-etcd" in finished[0]
    assert "skew_date refused: node " in finished[1] and "belongs to the local cluster" in finished[1]
    assert done.returncode != 0 and "changed:" not in done.stdout
