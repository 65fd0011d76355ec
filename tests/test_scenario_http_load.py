"""HTTP load on the real node: krkn's Vegeta pods load a Service of the cluster, the demo server's
request counter (its /metrics) rises by the requests Vegeta reports, the figures (requests,
latencies, status codes) are in the report, and the pods are gone after. An endpoint that is not
one of the cluster's Services fails before any change, naming the field."""

from __future__ import annotations

import pytest
from kubernetes import client

from runhelpers import metric, web_target
from test_real_node import real_node  # noqa: F401 (a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.scenarios.http_load import aggregate, parse_http_load

LOAD = "http_load_scenarios"


REQUESTS = ("krkn_demo_http_requests_total", 'code="200",path="/"')


@pytest.fixture
def target(real_node, api_client, namespace):
    """The demo server behind Service `web` (port 80); returns its URL."""
    return web_target(api_client, namespace)


def load(namespace: str, url: str, **more) -> list:
    return [{"http_load_scenario": {
        "runs": 1, "number-of-pods": 1, "namespace": namespace, "image": "quay.io/krkn-chaos/krkn-http-load:latest",
        "attacker-nodes": {}, "targets": {"endpoints": [{"url": url, "method": "GET"}]},
        "rate": "20/1s", "duration": "3s", "workers": 2, "max_workers": 4, "connections": 4, "timeout": "5s",
        "keepalive": True, "http2": False, "insecure": False, **more}}]


@pytest.mark.cluster
def test_vegeta_loads_the_service_and_its_figures_are_in_the_report(tmp_path, api_client, namespace, target):
    core = client.CoreV1Api(api_client)
    before = metric(target, *REQUESTS)
    _engine, result, events = run_scenario(tmp_path, api_client, LOAD, load(namespace, "http://web/"))
    assert result.status == "passed", result.scenarios[0].message
    m = result.scenarios[0].details["metrics"]
    assert m["requests"] == 60 and m["status_codes"] == {"200": 60} and m["success"] == 1.0, m
    assert 0 < m["latencies"]["50th"] <= m["latencies"]["99th"] <= m["latencies"]["max"]
    assert m["latencies_ms"]["95th"] > 0 and m["pod_count"] == 1
    assert metric(target, *REQUESTS) - before == 60  # the server counted each request Vegeta made
    assert [c["action"] for c in changes(events)] == ["create_pod"]
    assert not [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name.startswith("http-load-")]
    assert version_files(tmp_path / "versions") == []


@pytest.mark.cluster
@pytest.mark.parametrize("url, message", [
    ("https://your-service.example.com/health", "your-service.example.com is not a Service of this cluster"),
    ("http://web:8080/", "has no port 8080 (its ports: 80)"),
])
def test_an_endpoint_not_a_service_of_the_cluster_fails_before_any_change(tmp_path, api_client, namespace, target,
                                                                           url, message):
    _engine, result, events = run_scenario(tmp_path, api_client, LOAD, load(namespace, url))
    assert result.status == "failed"
    line = result.scenarios[0].message
    assert line.startswith("[0].http_load_scenario.targets.endpoints[0].url: ") and message in line, line
    assert changes(events) == [] and version_files(tmp_path / "versions") == []


@pytest.mark.parametrize("edit, field, message", [
    ({"targets": {"endpoints": [{"url": "http://web/"}]}}, "targets.endpoints[0].method", "is required"),
    ({"targets": {"endpoints": []}}, "targets.endpoints", "lists no endpoints"),
    ({"rate": "fast"}, "rate", "expected a rate"),
    ({"duration": "30 seconds"}, "duration", "expected a duration"),
    ({"targets": {"endpoints": [{"url": "ftp://web/", "method": "GET"}]}}, "targets.endpoints[0].url", "http(s) URL"),
])
def test_bad_fields_are_one_line_naming_the_field(edit, field, message):
    with pytest.raises(UserError) as err:
        parse_http_load(load("ns", "http://web/", **edit), "h.yml")
    assert err.value.field == f"[0].http_load_scenario.{field}" and message in err.value.message, err.value


def test_aggregate_weights_latencies_by_requests_as_krkn():
    a = {"requests": 10, "rate": 5, "throughput": 5, "success": 1, "latencies": {"mean": 1e6, "95th": 2e6},
         "status_codes": {"200": 10}, "bytes_in": {"total": 100}, "errors": []}
    b = {"requests": 30, "rate": 15, "throughput": 10, "success": 0.5, "latencies": {"mean": 3e6, "95th": 4e6},
         "status_codes": {"200": 15, "0": 15}, "bytes_in": {"total": 50}, "errors": ["dial tcp: refused"]}
    m = aggregate([a, b])
    assert m["requests"] == 40 and m["status_codes"] == {"200": 25, "0": 15} and m["success"] == 0.625
    assert m["latencies"]["mean"] == 2.5e6 and m["latencies_ms"]["95th"] == 3.5 and m["bytes_in"]["total"] == 150
    assert m["errors"] == ["dial tcp: refused"] and m["pod_count"] == 2
