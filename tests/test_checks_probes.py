"""Probing checks on the local cluster: pods Ready, Deployment available, HTTP with auth, TLS
verification and a bounded timeout; the monitor calls back on an aborting check's failure."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from kubehelpers import deployment, wait_for

from krkn_tui.checks.probes import PodBaseline, probe
from krkn_tui.checks.runner import CheckRunner
from krkn_tui.checks.spec import ChecksConfig, DeploymentCheck, HttpCheck, PodsReadyCheck
from krkn_tui.localcluster.certs import ensure_pki
from standin_http import serve, stop


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
    """A local endpoint on a loopback address: wants `Authorization` to equal `expected`, hangs on
    /hang, redirects /go to `redirect_to`; records each request's path and Authorization header."""

    def __init__(self, expected: str | None, host: str = "127.0.0.1", port: int = 0,
                 redirect_to: str | None = None, tls: dict | None = None):
        outer = self
        self.hang = threading.Event()
        self.seen: list[tuple[str, str | None]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.seen.append((self.path, self.headers.get("Authorization")))
                if self.path == "/hang":
                    outer.hang.wait(10)
                if self.path == "/go" and redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                ok = expected is None or self.headers.get("Authorization") == expected
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"fine" if ok else b"who are you")

            def log_message(self, *a):
                pass

        context = None
        if tls:  # the local cluster's PKI code makes a serving certificate for 127.0.0.1
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls["server.crt"], tls["server.key"])
        self.httpd = serve(Handler, host, port, tls=context)
        scheme = "https" if tls else "http"
        self.port = self.httpd.server_address[1]
        self.url = f"{scheme}://{host}:{self.port}"

    def close(self):
        self.hang.set()
        stop(self.httpd)


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
        assert not got.ok and got.seen == "deadline exceeded: no full answer within 0.3s"
    finally:
        hanging.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = probe(HttpCheck("c", f"http://127.0.0.1:{port}/"), None, PodBaseline())
    assert not closed.ok and closed.seen.startswith("unreachable:")


def test_a_redirect_to_another_origin_is_refused_and_never_gets_the_credentials():
    first = _Server(None)
    # The same port on a second loopback address: only the host differs.
    other = _Server(None, host="127.0.0.2", port=first.port)
    first_go = _Server(None, redirect_to=other.url + "/landing?token=t0ps3cret")
    try:
        for check in (HttpCheck("b", first_go.url + "/go", bearer_token="s3cret"),
                      HttpCheck("a", first_go.url + "/go", auth=("admin", "pw"))):
            got = probe(check, None, PodBaseline())
            assert not got.ok
            # Refused, and said without the target's query.
            assert got.seen == f"HTTP 302: redirect to another origin refused ({other.url}/landing)"
        assert [auth for _path, auth in first_go.seen] == ["Bearer s3cret", "Basic YWRtaW46cHc="]
        assert [auth for _path, auth in other.seen if auth] == [] and other.seen == []
    finally:
        for server in (first, other, first_go):
            server.close()


def test_a_redirect_within_the_origin_is_followed_with_the_credentials():
    server = _Server("Bearer s3cret", redirect_to="/landing")
    try:
        got = probe(HttpCheck("b", server.url + "/go", bearer_token="s3cret"), None, PodBaseline())
        assert got.ok and got.seen == "HTTP 200: fine"
        assert server.seen == [("/go", "Bearer s3cret"), ("/landing", "Bearer s3cret")]
    finally:
        server.close()


def test_an_https_to_http_redirect_is_refused(tmp_path):
    plain = _Server(None)
    secure = _Server(None, redirect_to=plain.url + "/landing", tls=ensure_pki(tmp_path / "pki"))
    try:
        got = probe(HttpCheck("s", secure.url + "/go", bearer_token="s3cret", verify=False), None, PodBaseline())
        assert not got.ok and got.seen == f"HTTP 302: redirect from https to http refused ({plain.url}/landing)"
        assert secure.seen == [("/go", "Bearer s3cret")]  # the TLS leg was made, with its token
        assert plain.seen == []  # nothing went out in clear
    finally:
        plain.close()
        secure.close()


class _Dripper:
    """Answers a status line, then one header byte every 0.3 s of a header far longer than any
    probe deadline here; records how many bytes were still to send when the probe hung up."""

    HEADER = b"X-Slow: " + b"a" * 60 + b"\r\n\r\n"

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.left: int | None = None
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            left = len(self.HEADER)
            try:
                while left and not self.stop.wait(0.3):  # the drip's pace
                    conn.send(self.HEADER[-left:][:1])
                    left -= 1
            except OSError:  # the probe closed the connection
                pass
            self.left = left

    def close(self):
        self.stop.set()
        self.sock.close()


def test_a_server_dripping_headers_is_cut_at_the_probes_total_deadline():
    # A socket timeout of 1 s is never reached by a server that sends a byte every 0.3 s; the
    # probe's deadline bounds the whole answer, so it hangs up with most of the header unsent.
    drip = _Dripper()
    try:
        got = probe(HttpCheck("d", drip.url, timeout=1), None, PodBaseline())
        assert not got.ok and got.seen == "deadline exceeded: no full answer within 1s"
        left = wait_for(lambda: drip.left, what="the dripping server to see the connection closed")
        assert left > len(_Dripper.HEADER) // 2, left
    finally:
        drip.close()


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
    assert [t.state for t in d.transitions] == ["passing", "failing"]
    assert d.transitions[1].phase == "during" and d.failures >= 1
    assert ("d", False, True, "during") in seen
