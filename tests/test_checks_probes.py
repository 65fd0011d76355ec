"""Probing checks on the local cluster: pods Ready, Deployment available, HTTP with auth, TLS
verification and a bounded timeout; the monitor calls back on an aborting check's failure."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubehelpers import deployment, wait_for

from krkn_tui.checks.probes import PodBaseline, probe
from krkn_tui.checks.runner import CheckRunner
from krkn_tui.checks.spec import ChecksConfig, DeploymentCheck, HttpCheck, PodsReadyCheck


@pytest.fixture
def web(apps, core, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 3))
    wait_for(lambda: (apps.read_namespaced_deployment_status("web", namespace).status.available_replicas or 0) == 3,
             what="web available")
    return namespace


def _scale(apps, namespace, n):
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": n}})


def test_pods_ready_by_count_and_by_share(api_client, apps, web):
    base = PodBaseline()
    count = PodsReadyCheck("c", web, "app=web", min_count=3)
    share = PodsReadyCheck("s", web, "app=web", min_percent=60)
    assert probe(count, api_client, base).ok and probe(share, api_client, base).ok
    _scale(apps, web, 1)
    got = wait_for(lambda: (o := probe(count, api_client, base)) and not o.ok and o, what="count check failing")
    assert "of" in got.seen and "need 3" in got.seen
    # The share is of the most pods seen (3), not of what is left: 1 of 3 is under 60%.
    assert wait_for(lambda: not probe(share, api_client, base).ok, what="share failing")
    assert "of 3 pod(s)" in probe(share, api_client, base).seen


def test_deployment_available_fails_at_zero_replicas_and_when_missing(api_client, apps, web):
    check = DeploymentCheck("d", web, "web")
    assert probe(check, api_client, PodBaseline()).ok
    _scale(apps, web, 0)
    assert wait_for(lambda: not probe(check, api_client, PodBaseline()).ok, what="deployment unavailable")
    missing = probe(DeploymentCheck("m", web, "nope"), api_client, PodBaseline())
    assert not missing.ok and missing.seen == "not found"


class _Server:
    """A local endpoint that wants `Authorization` to equal `expected`, or hangs on /hang."""

    def __init__(self, expected: str | None):
        outer = self
        self.hang = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path == "/hang":
                    outer.hang.wait(10)
                ok = expected is None or self.headers.get("Authorization") == expected
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"fine" if ok else b"who are you")

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.hang.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_bearer_and_basic_auth():
    bearer = _Server("Bearer s3cret")
    basic = _Server("Basic YWRtaW46cHc=")  # admin:pw
    try:
        assert probe(HttpCheck("b", bearer.url + "/", bearer_token="s3cret"), None, PodBaseline()).ok
        denied = probe(HttpCheck("b", bearer.url + "/"), None, PodBaseline())
        assert not denied.ok and denied.seen == "HTTP 401: who are you"
        assert probe(HttpCheck("a", basic.url + "/", auth=("admin", "pw")), None, PodBaseline()).ok
    finally:
        bearer.close()
        basic.close()


def test_http_timeout_is_bounded_and_a_closed_port_is_unreachable():
    hanging = _Server(None)
    try:
        got = probe(HttpCheck("h", hanging.url + "/hang", timeout=0.3), None, PodBaseline())
        assert not got.ok and got.seen == "no answer within 0.3s"
    finally:
        hanging.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = probe(HttpCheck("c", f"http://127.0.0.1:{port}/"), None, PodBaseline())
    assert not closed.ok and closed.seen.startswith("unreachable:")


def test_verify_url_false_skips_certificate_checks(local_cluster):
    # The local API server's certificate is signed by the cluster's own CA, unknown to the system.
    url = local_cluster.server() + "/readyz"
    strict = probe(HttpCheck("v", url), None, PodBaseline())
    assert not strict.ok and "CERTIFICATE_VERIFY_FAILED" in strict.seen
    lax = probe(HttpCheck("v", url, verify=False), None, PodBaseline())
    assert lax.seen.startswith("HTTP ")  # reached the server: it answered, whatever it said


def test_monitor_reports_transitions_and_calls_abort_once(api_client, apps, web):
    seen, aborted = [], []
    runner = CheckRunner(ChecksConfig(0.3, (DeploymentCheck("d", web, "web", abort=True),
                                            PodsReadyCheck("p", web, "app=web", min_count=1))),
                         lambda: api_client, on_probe=lambda st, obs, changed, phase: seen.append(
                             (st.name, obs.ok, changed, phase)))
    assert not runner.probe_all("before")[0].state == "failing"
    runner.start(lambda st, obs: aborted.append((st.name, obs.seen)))
    try:
        _scale(apps, web, 0)
        wait_for(lambda: aborted, what="the aborting check's callback")
    finally:
        runner.stop()
    assert aborted[0][0] == "d" and len(aborted) == 1
    d = runner.states[0]
    assert [t["state"] for t in d.transitions] == ["passing", "failing"]
    assert d.transitions[1]["phase"] == "during" and d.failures >= 1
    assert ("d", False, True, "during") in seen
