"""The demo as real HTTP servers on the real node: krkn-demo's pods run the demo server, the
frontend asks the backend through its Service, every instance serves its metrics (requests,
latencies, connections, the pod's TCP counters), and the health endpoint GETs the application.

Without the real node these tests skip saying why (see test_real_node.py's fixture)."""

from __future__ import annotations

import copy
import json
import re
import urllib.error
import urllib.request

from kubehelpers import wait_for
from test_real_node import _apply, _kubectl, real_node  # noqa: F401 (a fixture)

from krkn_tui.localcluster import demo, realnode

SERIES = ('krkn_demo_http_requests_total{code="200",path="/"}', "krkn_demo_http_request_duration_seconds_bucket",
          "krkn_demo_http_request_duration_seconds_count", "krkn_demo_tcp_connections_total",
          'krkn_demo_tcp_stat{name="InSegs"}', 'krkn_demo_tcp_stat{name="PassiveOpens"}',
          'krkn_demo_tcp_stat{name="SyncookiesSent"}', 'krkn_demo_tcp_stat{name="ListenDrops"}')


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _in_pod(kubectl, kubeconfig, namespace: str, pod: str, path: str) -> str:
    """GET `path` of the server in `pod` from inside its container (busybox's nc, packed beside it)."""
    return _kubectl(kubectl, kubeconfig, "-n", namespace, "exec", pod, "--", "sh", "-c",
                    f"printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 127.0.0.1 {demo.PORT}").stdout


def _metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if m := re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line):
            out[m.group(1)] = float(m.group(2))
    return out


def _pods(kubectl, kubeconfig, namespace: str, selector: str) -> list[dict]:
    out = _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "pods", "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if "deletionTimestamp" not in p["metadata"]]


def test_demo_pods_are_demo_servers_on_the_real_node_and_the_endpoint_gets_the_application(
        real_node, local_cluster, kubectl, kubeconfig):
    pods = _pods(kubectl, kubeconfig, demo.DEMO_NAMESPACE, "app in (frontend,backend)")
    assert len(pods) == 5
    for pod in pods:
        assert pod["spec"]["nodeName"] == realnode.NODE_NAME, pod["metadata"]["name"]
        assert pod["spec"]["containers"][0]["image"] == demo.SERVER_IMAGE
    url = local_cluster.status()["health"]
    code, body = wait_for(lambda: (got := _get(url))[0] == 200 and got, timeout=60, what="the endpoint's 200")
    assert body["source"] == "http" and body["url"] == f"http://{real_node['node_ip']}:{demo.FRONTEND_NODE_PORT}/"
    # The frontend answered, after asking a backend pod through the Service.
    names = {p["metadata"]["name"] for p in pods}
    assert re.fullmatch(r"frontend (\S+): ok; backend (\S+): ok", body["answer"])
    assert set(re.findall(r"\b((?:frontend|backend)-\S+):", body["answer"])) <= names


def test_each_instance_serves_its_metrics(real_node, kubectl, kubeconfig):
    [pod, *_] = _pods(kubectl, kubeconfig, demo.DEMO_NAMESPACE, "app=frontend")
    name = pod["metadata"]["name"]
    before = _metrics(_in_pod(kubectl, kubeconfig, demo.DEMO_NAMESPACE, name, "/metrics"))
    for _ in range(2):
        assert "; backend " in _in_pod(kubectl, kubeconfig, demo.DEMO_NAMESPACE, name, "/")
    after = _metrics(_in_pod(kubectl, kubeconfig, demo.DEMO_NAMESPACE, name, "/metrics"))
    for series in SERIES:
        assert any(key == series or key.startswith(series + "{") for key in after), series
    ok = 'krkn_demo_http_requests_total{code="200",path="/"}'
    assert after[ok] - before.get(ok, 0) == 2
    assert after['krkn_demo_upstream_requests_total{result="200"}'] \
        - before.get('krkn_demo_upstream_requests_total{result="200"}', 0) == 2
    assert after["krkn_demo_tcp_connections_total"] - before["krkn_demo_tcp_connections_total"] >= 3
    assert after['krkn_demo_tcp_stat{name="PassiveOpens"}'] - before['krkn_demo_tcp_stat{name="PassiveOpens"}'] >= 3
    count = 'krkn_demo_http_request_duration_seconds_count{path="/"}'
    assert after[count] - before.get(count, 0) == 2
    assert after['krkn_demo_http_request_duration_seconds_bucket{path="/",le="+Inf"}'] == after[count]


def test_the_frontend_calls_the_backend_through_its_service(real_node, kubectl, kubeconfig, namespace):
    """The demo's own objects in a fresh namespace (frontend without its NodePort): the frontend
    answers 200 with the backend's answer, 502 while the backend has no pod, 200 again after."""
    objs = {(o["kind"], o["metadata"]["name"]): copy.deepcopy(o) for _, o in demo.demo_objects("fast", real=True)}
    for key in (("Service", "backend"), ("Service", "frontend"), ("Deployment", "backend"), ("Deployment", "frontend")):
        obj = objs[key]
        obj["metadata"]["namespace"] = namespace
        if key == ("Service", "frontend"):
            del obj["spec"]["type"], obj["spec"]["ports"][0]["nodePort"]  # krkn-demo's holds the port
        if key == ("Deployment", "frontend"):
            obj["spec"]["replicas"] = 1
        _apply(kubectl, kubeconfig, obj)
    _kubectl(kubectl, kubeconfig, "-n", namespace, "rollout", "status", "deployment/frontend", "--timeout=90s",
             timeout=120)
    [front] = _pods(kubectl, kubeconfig, namespace, "app=frontend")

    def answer() -> str:
        return _in_pod(kubectl, kubeconfig, namespace, front["metadata"]["name"], "/")

    wait_for(lambda: " 200 OK" in answer() and "; backend backend-" in answer(), timeout=60,
             what="the frontend's 200 with the backend's answer")
    _kubectl(kubectl, kubeconfig, "-n", namespace, "scale", "deployment/backend", "--replicas=0")
    def refused():
        got = answer()
        return got if " 502 " in got.partition("\n")[0] else None

    out = wait_for(refused, timeout=60, what="the frontend's 502 without a backend")
    assert "backend unreachable" in out
    _kubectl(kubectl, kubeconfig, "-n", namespace, "scale", "deployment/backend", "--replicas=1")
    wait_for(lambda: " 200 OK" in answer(), timeout=90, what="the frontend's 200 once a backend is back")


def test_realistic_profile_on_the_real_node_turns_ready_a_second_or_more_after_the_start(
        real_node, kubectl, kubeconfig, namespace):
    from datetime import datetime

    [dep] = [o for _, o in demo.demo_objects("realistic", real=True)
             if o["kind"] == "Deployment" and o["metadata"]["name"] == "backend"]
    dep["metadata"]["namespace"] = namespace
    _apply(kubectl, kubeconfig, dep)
    _kubectl(kubectl, kubeconfig, "-n", namespace, "rollout", "status", "deployment/backend", "--timeout=90s",
             timeout=120)

    def at(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    pods = _pods(kubectl, kubeconfig, namespace, "app=backend")
    assert len(pods) == 2
    for pod in pods:
        started = at(pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])
        ready = at(next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready"))
        assert (ready - started).total_seconds() >= 1, pod["metadata"]["name"]


def _health(url: str) -> int:
    return _get(url)[0]


def test_an_application_outage_turns_the_endpoint_red_by_traffic_alone_and_back(
        real_node, local_cluster, kubeconfig, tmp_path):
    """The shipped outage's shape on krkn-demo's frontend: the endpoint (an HTTP GET, no API read)
    answers 200, 503 while the policy drops the traffic, 200 after the rollback; again when the
    runner is killed with -9 mid-outage and `execute-rollback` undoes it."""
    from runhelpers import Run, app_outage, krkn, pending, run_dirs, write_config

    url = local_cluster.status()["health"]
    assert _get(url)[1].get("source") == "http"
    for killed in (False, True):
        wait_for(lambda: _health(url) == 200, timeout=60, interval=0.5, what="the endpoint's 200 before the outage")
        folder = tmp_path / ("killed" if killed else "finished")
        versions = folder / "versions"
        cfg = write_config(folder, [("application_outages_scenarios",
                                     app_outage(demo.DEMO_NAMESPACE, "frontend", 300 if killed else 12))],
                           versions=versions)
        run = Run(cfg, kubeconfig)
        run.wait_for(r"created NetworkPolicy krkn-demo/", timeout=90)
        wait_for(lambda: _health(url) == 503, timeout=60, interval=0.5, what="the endpoint's 503 during the outage")
        if killed:
            run.proc.kill()
            run.finish()
            assert _health(url) == 503 and len(pending(versions)) == 1  # the policy outlived its runner
            for run_id in run_dirs(versions):
                out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
                assert out.returncode == 0, out.stdout + out.stderr
        else:
            assert run.finish(timeout=120) == 0, run.output
        wait_for(lambda: _health(url) == 200, timeout=60, interval=0.5, what="the endpoint's 200 after the rollback")
        assert pending(versions) == []
