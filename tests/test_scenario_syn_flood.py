"""SYN flood on the real node: the demo server's own TCP counters (its /metrics, read from the
pod's network namespace) rise while krkn's attacker pods run; the pods are gone after; kill -9 of
the runner then `execute-rollback` deletes them. Bad input is one line naming the field."""

from __future__ import annotations

import pytest
from kubernetes import client

from kubehelpers import wait_for
from runhelpers import Run, kill_then_execute_rollback, metric, pending, web_target, write_config
from test_real_node import real_node  # noqa: F401 (a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.scenarios.syn_flood import parse_syn_flood

SYN = "syn_flood_scenarios"


IN_SEGMENTS = ("krkn_demo_tcp_stat", 'name="InSegs"')


@pytest.fixture
def target(real_node, api_client, namespace):
    """The demo server behind Service `web` (port 80, labelled flood=me); returns its URL."""
    url = web_target(api_client, namespace)
    client.CoreV1Api(api_client).patch_namespaced_service("web", namespace, {"metadata": {"labels": {"flood": "me"}}})
    return url


def flood(namespace: str, duration: int, pods: int = 1, **more) -> dict:
    return {"packet-size": 120, "window-size": 64, "duration": duration, "namespace": namespace,
            "target-service": "web", "target-port": 80, "target-service-label": "", "number-of-pods": pods,
            "image": "quay.io/krkn-chaos/krkn-syn-flood:v1.0.0", "attacker-nodes": {}, **more}


def attackers(core, namespace: str) -> list[str]:
    return [p.metadata.name for p in core.list_namespaced_pod(namespace).items if p.metadata.name.startswith("syn-flood-")]


@pytest.mark.cluster
def test_the_targets_tcp_counters_rise_and_the_attackers_are_gone_after(tmp_path, api_client, namespace, target):
    core = client.CoreV1Api(api_client)
    before = metric(target, *IN_SEGMENTS)
    _engine, result, events = run_scenario(tmp_path, api_client, SYN, flood(namespace, 3, **{
        "target-service": "", "target-service-label": "flood=me"}))
    assert result.status == "passed", result.scenarios[0].message
    risen = metric(target, *IN_SEGMENTS) - before
    d = result.scenarios[0].details
    [pod] = d["pods"]
    assert "sent" in d["sent"][pod] and risen > 1000, (risen, d["sent"])
    sent = int(d["sent"][pod].split()[2])
    assert risen >= sent // 2  # every SYN that reached the pod is one segment in (a few may be dropped)
    assert [c["action"] for c in changes(events)] == ["create_pod"]
    assert attackers(core, namespace) == [] and version_files(tmp_path / "versions") == []


@pytest.mark.cluster
def test_kill_9_mid_flood_then_execute_rollback_deletes_the_attackers(tmp_path, api_client, kubeconfig, namespace,
                                                                     target):
    core = client.CoreV1Api(api_client)
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(SYN, flood(namespace, 600, pods=2))], versions=versions), kubeconfig)
    run.wait_for(r"flooding for 600s", timeout=120)
    assert len(attackers(core, namespace)) == 2
    kill_then_execute_rollback(run, versions, kubeconfig)
    wait_for(lambda: not attackers(core, namespace), timeout=60, what="the attacker pods gone")
    assert pending(versions) == []


@pytest.mark.cluster
def test_a_service_with_no_such_port_fails_before_any_change(tmp_path, api_client, namespace, target):
    _engine, result, events = run_scenario(tmp_path, api_client, SYN, flood(namespace, 3, **{"target-port": 81}))
    assert result.status == "failed"
    assert result.scenarios[0].message == f"target-port: Service {namespace}/web has no TCP port 81 (its ports: 80)"
    assert changes(events) == [] and version_files(tmp_path / "versions") == []


@pytest.mark.parametrize("edit, field, message", [
    ({"target-service": "", "target-service-label": ""}, "target-service", "set target-service or"),
    ({"target-service-label": "a=b"}, "target-service-label", "not both"),
    ({"target-port": 0}, "target-port", "at least 1"),
    ({"number-of-pods": None}, "number-of-pods", "is required"),
    ({"window-size": -1}, "window-size", "at least 0"),
    ({"attacker-nodes": {"node-role.kubernetes.io/worker": "x"}}, "attacker-nodes.node-role.kubernetes.io/worker",
     "expected a list"),
])
def test_bad_fields_are_one_line_naming_the_field(edit, field, message):
    with pytest.raises(UserError) as err:
        parse_syn_flood(flood("ns", 3, **edit), "s.yaml")
    assert err.value.field == field and message in err.value.message, err.value
