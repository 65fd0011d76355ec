"""A real `krkn-tui run` of the shipped demo scenarios (pod kill, scale to zero, outage), pointed at
a fresh namespace: each change and each rollback step shows as a Kubernetes Event on the object it
touched, krkn's JUnit options write one testcase per scenario file, and `history` lists the run. An API server that refuses
Events fails nothing and is said once."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import ready_pods, wait_for
from runhelpers import fill_namespace, krkn, write_config

pytestmark = pytest.mark.cluster

SHIPPED = Path(__file__).resolve().parent.parent / "scenarios"


def _shipped(name: str, namespace: str, shorter: dict[str, float]) -> str:
    """A shipped scenario file retargeted from krkn-demo to `namespace`, its waits shortened."""
    text = (SHIPPED / name).read_text().replace("krkn-demo", namespace)
    for key, value in shorter.items():
        text = text.replace(f"{key}: ", f"{key}: {value} #", 1)
    return text


def _events(api_client, namespace: str) -> list[dict]:
    items = client.CoreV1Api(api_client).list_namespaced_event(namespace).items
    return [{"reason": e.reason, "kind": e.involved_object.kind, "name": e.involved_object.name,
             "message": e.message, "component": e.reporting_component, "type": e.type}
            for e in items if e.source and e.source.component == "krkn-tui"]


def test_a_demo_run_shows_as_events_and_as_junit(tmp_path, api_client, kubeconfig, namespace):
    fill_namespace(api_client, namespace, {"frontend": 2, "backend": 1})
    core = client.CoreV1Api(api_client)
    wait_for(lambda: len(ready_pods(core, namespace, "app=frontend")) == 2)
    cfg = write_config(tmp_path / "cfg", [
        ("pod_disruption_scenarios", _shipped("pod_kill.yaml", namespace, {})),
        ("service_disruption_scenarios", _shipped("service_scale.yaml", namespace, {"sleep": 0, "duration": 1})),
        ("application_outages_scenarios", _shipped("app_outage.yaml", namespace, {"duration": 1})),
    ])
    junit = tmp_path / "junit"
    junit.mkdir()
    done = krkn("run", "-c", cfg, "--junit-testcase", "[sig-chaos] demo run", "--junit-testcase-path", junit,
                "--junit-testcase-version", "4.2", kubeconfig=kubeconfig, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Kubernetes Events not recorded" not in done.stdout

    events = _events(api_client, namespace)
    injected = [e for e in events if e["reason"] == "ChaosInjected"]
    assert {e["kind"] for e in injected} == {"Pod", "Deployment", "NetworkPolicy"}, events
    assert {e["name"] for e in injected if e["kind"] == "Deployment"} == {"frontend", "backend"}
    assert [e["name"].startswith("frontend-") for e in injected if e["kind"] == "Pod"] == [True]
    rolled = [e for e in events if e["reason"] == "ChaosRolledBack"]
    # The scale-down of each Deployment and the outage's policy are undone by rollback steps.
    assert {e["kind"] for e in rolled} >= {"Deployment", "NetworkPolicy"}, events
    assert all("run " in e["message"] and e["component"] == "krkn-tui" for e in events)
    assert not [e for e in events if e["reason"] in ("RollbackFailed", "RollbackRefused")]

    [path] = list(junit.glob("junit_krkn_*.xml"))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite.get("name") == "chaos-krkn" and suite.get("failures") == "0" and suite.get("tests") == "4"
    assert [p.get("value") for p in suite.iter("property") if p.get("name") == "TestVersion"] == ["4.2"]
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "[sig-chaos] demo run"
    assert [c.get("classname") for c in cases[1:]] == ["pod_disruption_scenarios", "service_disruption_scenarios",
                                                      "application_outages_scenarios"]
    assert not list(suite.iter("failure"))

    # The run is in the history, with its verdict and scenario files.
    listed = krkn("history", "-d", tmp_path / "cfg" / "versions")
    assert listed.returncode == 0, listed.stderr
    [row] = listed.stdout.splitlines()[1:]
    assert " passed " in row and "3 (pod_disruption_scenarios, service_disruption_scenarios," in row


def test_an_event_the_server_refuses_fails_nothing_and_is_said_once(api_client):
    """Events for a namespace that does not exist are refused by the real API server: observe()
    never raises, the reason is said once, and what can be written still is."""
    from krkn_tui.events import ClusterChange
    from krkn_tui.kube.chaos_events import ChaosEventRecorder

    recorder = ChaosEventRecorder(lambda: api_client, lambda: "run-x", "test")
    for _ in range(3):
        recorder.observe(ClusterChange("delete_pod", "pod_disruption_scenarios",
                                       {"namespace": "no-such-ns-4c1d", "name": "p"}))
    recorder.observe(ClusterChange("cordon_node", "node_scenarios", {"node": "no-such-node-4c1d"}))
    recorder.close()
    note = recorder.take_note()
    assert note and "HTTP 404" in note and "no-such-ns-4c1d" in note, note
    assert recorder.take_note() is None  # once
    assert recorder.written == 1  # the Node's Event lives in default, which exists
    events = client.CoreV1Api(api_client).list_namespaced_event(
        "default", field_selector="involvedObject.kind=Node,involvedObject.name=no-such-node-4c1d").items
    assert [e.reason for e in events] == ["ChaosInjected"] and "run run-x node_scenarios: cordon_node" in events[0].message
    for e in events:
        client.CoreV1Api(api_client).delete_namespaced_event(e.metadata.name, "default")
