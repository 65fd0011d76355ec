"""Container kills on the real node: krkn's command by exec, each restart counted and timed."""

from __future__ import annotations

import pytest
from kubernetes import client

from kubehelpers import wait_for
from runhelpers import krkn, write_config
from test_real_node import BUSYBOX, _pod, real_node  # noqa: F401 (real_node is a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.scenarios.container_kill import NO_ROLLBACK, parse_container

CONTAINER = "container_scenarios"
# PID 1 of a container ignores a signal it has no handler for: the trap makes `kill 1` (SIGTERM)
# and SIGHUP end it, as a real service's handler would.
TRAPPING = ["sh", "-c", "trap 'exit 0' TERM HUP; while true; do sleep 1; done"]


def restarts(core, namespace: str, name: str) -> int:
    pod = core.read_namespaced_pod(name, namespace)
    return sum(s.restart_count for s in pod.status.container_statuses or [])


def running_pods(core, namespace: str, names: list[str]) -> bool:
    statuses = [core.read_namespaced_pod(n, namespace).status.container_statuses for n in names]
    return all(st and all(s.ready for s in st) for st in statuses)


@pytest.mark.cluster
def test_killed_containers_restart_and_each_restart_is_timed(tmp_path, api_client, namespace, real_node):
    core = client.CoreV1Api(api_client)
    names = ["target-a", "target-b", "decoy"]
    for name in names:
        body = _pod(name, namespace, TRAPPING, labels={"app": "decoy" if name == "decoy" else "target"})
        core.create_namespaced_pod(namespace, body)
    wait_for(lambda: running_pods(core, namespace, names), timeout=90, what="pods running")
    before = {n: restarts(core, namespace, n) for n in names}

    _engine, result, events = run_scenario(tmp_path, api_client, CONTAINER, {"scenarios": [{
        "name": "kill main", "namespace": namespace, "label_selector": "app=target", "container_name": "main",
        "action": 1, "count": 2, "expected_recovery_time": 60}]})

    assert result.status == "passed", result.scenarios
    after = {n: restarts(core, namespace, n) for n in names}
    assert {n: after[n] - before[n] for n in names} == {"target-a": 1, "target-b": 1, "decoy": 0}
    details = result.scenarios[0].details
    assert details["rollback"] == NO_ROLLBACK
    reported = sorted(details["containers"], key=lambda c: c["pod"])
    assert [(c["pod"], c["container"], c["command"]) for c in reported] == [
        ("target-a", "main", "kill 1"), ("target-b", "main", "kill 1")]
    for entry in reported:
        assert entry["restart_count_after"] == entry["restart_count_before"] + 1
        assert 0 < entry["restart_seconds"] < 60 and entry["container_started_at"]
    assert [c["action"] for c in changes(events)] == ["kill_container", "kill_container"]
    assert version_files(tmp_path / "versions") == []  # nothing pretends to undo a kill


@pytest.mark.cluster
def test_a_signal_name_sends_that_signal_to_pid_1(tmp_path, api_client, namespace, real_node):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, _pod("hup", namespace, TRAPPING))
    wait_for(lambda: running_pods(core, namespace, ["hup"]), timeout=90, what="pod running")
    _engine, result, _events = run_scenario(tmp_path, api_client, CONTAINER, {"scenarios": [{
        "namespace": namespace, "label_selector": "app=hup", "action": "SIGHUP", "expected_recovery_time": 60}]})
    assert result.status == "passed", result.scenarios
    [entry] = result.scenarios[0].details["containers"]
    assert entry["command"] == "kill -HUP 1" and entry["restart_count_after"] == entry["restart_count_before"] + 1


@pytest.mark.cluster
def test_a_container_that_ignores_the_signal_fails_the_scenario(tmp_path, api_client, namespace, real_node):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_pod(namespace, _pod("deaf", namespace, ["sh", "-c", "while true; do sleep 1; done"]))
    wait_for(lambda: running_pods(core, namespace, ["deaf"]), timeout=90, what="pod running")
    _engine, result, _events = run_scenario(tmp_path, api_client, CONTAINER, {"scenarios": [{
        "namespace": namespace, "label_selector": "app=deaf", "action": 1, "expected_recovery_time": 3}]})
    assert result.status == "failed"
    assert "did not restart within 3s" in result.scenarios[0].message
    assert restarts(core, namespace, "deaf") == 0


@pytest.mark.parametrize("entry, field, message", [
    ({"action": "SIGNOPE"}, "scenarios[0].action", "unknown signal name 'SIGNOPE'"),
    ({"action": 16}, "scenarios[0].action", "only 1-15"),
    ({"action": True}, "scenarios[0].action", "expected an integer 1-15 or a signal name"),
    ({"count": 0}, "scenarios[0].count", "at least 1"),
    ({"pod_names": ["a"]}, "scenarios[0].namespace", "pod_names needs a namespace"),
    ({"label_selector": "a b c"}, "scenarios[0].label_selector", "not a valid label selector"),
])
def test_bad_fields_are_one_line_naming_the_field(entry, field, message):
    with pytest.raises(UserError) as err:
        parse_container({"scenarios": [entry]}, "c.yaml")
    assert err.value.field == field and message in err.value.message


def test_krkn_fields_read_as_krkn_reads_them():
    [spec] = parse_container({"scenarios": [{"name": "n", "namespace": "ns", "label_selector": "a=b",
                                             "container_name": "", "action": 9, "count": 2, "retry_wait": 60,
                                             "exclude_label": ""}]}, "c.yaml")
    assert (spec.command, spec.container_name, spec.exclude_label, spec.count) == ("kill 9", "", None, 2)
    [default] = parse_container({"scenarios": [{"label_selector": "a=b"}]}, "c.yaml")
    assert (default.namespace, default.command, default.expected_recovery_time) == ("*", "kill 1", 120.0)


@pytest.mark.cluster
def test_an_unknown_signal_is_refused_in_one_line_before_any_change(tmp_path, kubeconfig, api_client, namespace):
    core = client.CoreV1Api(api_client)
    cfg = write_config(tmp_path, [(CONTAINER, {"scenarios": [{"namespace": namespace, "label_selector": "app=x",
                                                              "action": "SIGBOGUS"}]})])
    done = krkn("run", "-c", cfg, kubeconfig=kubeconfig)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "scenarios[0].action" in lines[0] and "SIGBOGUS" in lines[0], done.stderr
    assert "s0-container_scenarios.yaml" in lines[0] and "Traceback" not in done.stderr
    assert core.list_namespaced_pod(namespace).items == []
