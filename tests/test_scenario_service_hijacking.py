"""Service hijacking on the real node: curl through the Service's NodePort gets the plan's statuses
in order while the Service is re-pointed, the backend's answer after; kill -9 of the runner
mid-hold then `execute-rollback` gives the Service back its exact selector and leaves no web
service pod or ConfigMap. The plan's bad input is one line naming the field."""

from __future__ import annotations

import json
import subprocess

import pytest
from kubernetes import client

from kubehelpers import wait_for
from runhelpers import Run, kill_then_execute_rollback, pending, write_config
from test_real_node import _pod, real_node  # noqa: F401 (real_node is a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.scenarios.service_hijacking import parse_hijack, served

HIJACK = "service_hijacking_scenarios"
IMAGE = "quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3"
SELECTOR = {"app": "web", "tier": "backend"}


def curl(url: str, method: str = "GET") -> tuple[int, str, str]:
    """(status, content type, body) from curl; (0, "", "") when no answer."""
    r = subprocess.run(["curl", "-s", "-m", "3", "-X", method, "-o", "-", "-w", "\n%{http_code} %{content_type}", url],
                       capture_output=True, text=True, timeout=10)
    body, _, tail = r.stdout.rpartition("\n")
    code, _, ctype = tail.partition(" ")
    return (int(code) if code.isdigit() else 0), ctype, body


@pytest.fixture
def backend(local_cluster, real_node, api_client, namespace):
    """An HTTP server on the real node (container port named http-web-svc) behind NodePort Service
    `web`; returns the Service's URL from this machine."""
    core = client.CoreV1Api(api_client)
    pod = _pod("server", namespace, ["sh", "-c", "mkdir -p /tmp/www && echo pong > /tmp/www/ping && "
                                                 "exec httpd -f -p 8080 -h /tmp/www"], labels=SELECTOR)
    pod["spec"]["containers"][0]["ports"] = [{"name": "http-web-svc", "containerPort": 8080}]
    core.create_namespaced_pod(namespace, pod)
    svc = core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": SELECTOR,
                 "ports": [{"name": "http", "port": 80, "targetPort": "http-web-svc"}]}})
    node_ip = real_node["node_ip"] if "node_ip" in real_node else json.loads(
        (local_cluster.state_dir / "state.json").read_text())["node"]["sandbox"]["node_ip"]
    url = f"http://{node_ip}:{svc.spec.ports[0].node_port}"
    wait_for(lambda: curl(f"{url}/ping")[2].strip() == "pong", timeout=90, interval=0.5,
             what="the backend answering through the NodePort")
    return url


def hijack(namespace: str, duration: float, first: float = 8) -> dict:
    return {"service_target_port": "http-web-svc", "service_name": "web", "service_namespace": namespace,
            "image": IMAGE, "chaos_duration": duration, "privileged": True,
            "plan": [{"resource": "/ping", "steps": {
                "GET": [{"duration": first, "status": 500, "mime_type": "application/json",
                         "payload": '{"status":"internal server error"}'},
                        {"duration": first, "status": 201, "mime_type": "text/plain", "payload": "created"}],
                "POST": [{"duration": first, "status": 401, "mime_type": "application/json", "payload": None}]}}]}


def hijack_objects(core, namespace: str) -> list[str]:
    pods = [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector="service-hijacking").items]
    cms = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items
           if c.metadata.name.startswith("service-hijacking-cm-")]
    return pods + cms


@pytest.mark.cluster
def test_curl_gets_the_plans_statuses_in_order_then_the_backend(tmp_path, api_client, namespace, backend):
    core = client.CoreV1Api(api_client)
    seen: list[tuple[int, str, str]] = []

    def on_event(event, _engine):
        # The Service is re-pointed: read through it until the plan's last step answers.
        if changes([event]) and changes([event])[0]["action"] == "patch_service_selector":
            def last_step():
                seen.append(curl(f"{backend}/ping"))
                return seen[-1][0] == 201
            wait_for(last_step, timeout=60, interval=0.3, what="the plan's second step")
            seen.append(curl(f"{backend}/ping", "POST"))

    _engine, result, _events = run_scenario(tmp_path, api_client, HIJACK, hijack(namespace, 1), on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    statuses = [s for s, _, _ in seen[:-1]]
    hijacked = [s for s in statuses if s != 200]  # 200: the backend, until kube-proxy follows the Service
    assert hijacked[0] == 500 and hijacked[-1] == 201 and hijacked == sorted(hijacked, key=[500, 201].index)
    first = next(s for s in seen if s[0] == 500)
    assert first[1] == "application/json" and json.loads(first[2]) == {"status": "internal server error"}
    assert seen[-2][1:] == ("text/plain; charset=utf-8", "created")
    assert seen[-1][0] == 401 and seen[-1][2] == ""  # a null payload: an empty body
    # After: the backend again, the exact selector, nothing of the web service left.
    wait_for(lambda: curl(f"{backend}/ping")[2].strip() == "pong", timeout=60, interval=0.3, what="the backend back")
    assert core.read_namespaced_service("web", namespace).spec.selector == SELECTOR
    wait_for(lambda: not hijack_objects(core, namespace), timeout=60, what="the web service pod and ConfigMap gone")
    d = result.scenarios[0].details
    assert d["selector"] == SELECTOR and d["backends"] == ["server"]
    answered = [(r["method"], r["status"]) for r in d["served"]]
    assert ("GET", 500) in answered and ("GET", 201) in answered and ("POST", 401) in answered
    assert answered.index(("GET", 500)) < answered.index(("GET", 201))
    assert version_files(tmp_path / "versions") == []


@pytest.mark.cluster
def test_kill_9_mid_hold_then_execute_rollback_restores_the_exact_selector(tmp_path, api_client, kubeconfig,
                                                                          namespace, backend):
    core = client.CoreV1Api(api_client)
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(HIJACK, hijack(namespace, 300, first=600))], versions=versions), kubeconfig)
    run.wait_for(r"holding 300s", timeout=120)
    wait_for(lambda: curl(f"{backend}/ping")[0] == 500, timeout=60, interval=0.3, what="the plan answering")
    assert core.read_namespaced_service("web", namespace).spec.selector != SELECTOR
    kill_then_execute_rollback(run, versions, kubeconfig)
    assert core.read_namespaced_service("web", namespace).spec.selector == SELECTOR
    wait_for(lambda: not hijack_objects(core, namespace), timeout=60, what="the web service pod and ConfigMap gone")
    wait_for(lambda: curl(f"{backend}/ping")[2].strip() == "pong", timeout=60, interval=0.3, what="the backend back")
    assert pending(versions) == []


@pytest.mark.cluster
def test_a_service_with_no_such_port_fails_before_any_change(tmp_path, api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": SELECTOR, "ports": [{"port": 80, "targetPort": 8080}]}})
    _engine, result, events = run_scenario(tmp_path, api_client, HIJACK, hijack(namespace, 1))
    assert result.status == "failed"
    message = result.scenarios[0].message
    assert message.startswith("service_target_port:") and "no port with targetPort 'http-web-svc'" in message
    assert "80->8080" in message
    assert changes(events) == [] and version_files(tmp_path / "versions") == []
    assert core.read_namespaced_service("web", namespace).spec.selector == SELECTOR and not hijack_objects(core, namespace)


@pytest.mark.parametrize("edit, field, message", [
    (lambda d: d["plan"][0]["steps"]["GET"][0].pop("status"), "plan[0].steps.GET[0].status", "is required"),
    (lambda d: d["plan"][0]["steps"]["GET"][1].update(status=99), "plan[0].steps.GET[1].status", "at least 100"),
    (lambda d: d["plan"][0]["steps"]["GET"][0].pop("payload"), "plan[0].steps.GET[0].payload", "is required"),
    (lambda d: d["plan"][0].update(resource="list"), "plan[0].resource", "expected a path"),
    (lambda d: d.update(service_target_port=70000), "service_target_port", "1-65535"),
    (lambda d: d.update(service_namespace="<namespace>"), "service_namespace", "not a valid namespace name"),
    (lambda d: d.pop("plan"), "plan", "expected a list"),
])
def test_bad_plan_is_one_line_naming_the_field(edit, field, message):
    data = hijack("ns", 1)
    edit(data)
    with pytest.raises(UserError) as err:
        parse_hijack(data, "h.yaml")
    assert err.value.field == field and message in err.value.message, err.value


def test_served_runs_the_log_together_and_skips_other_lines():
    log = "\n".join(['serving the plan', '{"method":"GET","path":"/a","status":500}',
                     '{"method":"GET","path":"/a","status":500}', '{"method":"GET","path":"/a","status":201}',
                     '{"status":"x"}', 'not json {'])
    assert served(log) == [{"method": "GET", "path": "/a", "status": 500, "count": 2},
                           {"method": "GET", "path": "/a", "status": 201, "count": 1}]
