"""Prometheus's query API with fixed answers, for verdicts on known data: an HTTP server that
answers each range or instant query with the series ANSWERS holds for it (a query it does not
know is refused as Prometheus refuses a bad one). krkn-lib's client and krkn-tui's read it alike."""

from __future__ import annotations

import http.server
import json
import urllib.parse
from pathlib import Path

import pytest

from krkn_tui import events as ev
from krkn_tui.monitoring.monitor import RunMonitor
from krkn_tui.monitoring.settings import Monitoring, load_profile
from standin_http import serving

T0 = 1_767_261_000
PROFILE = """\
- expr: frontend_errors > 0
  description: frontend answers errors
  severity: critical
- expr: latency_p99 > 1
  description: p99 above one second
  severity: warning
- expr: replicas_missing > 0
  description: replicas missing
  severity: warning
  weight: 2
- expr: nothing_here
  severity: error
- expr: broken(
  description: a query Prometheus refuses
  severity: warning
"""
# expr -> series of a range query (the matrix krkn-lib and krkn-tui both read)
ANSWERS = {
    "frontend_errors > 0": [{"metric": {"app": "frontend"}, "values": [[T0 + 10, "3"], [T0 + 20, "0"]]}],
    "latency_p99 > 1": [{"metric": {}, "values": [[T0 + 10, "0"], [T0 + 20, "0"]]}],
    "replicas_missing > 0": [{"metric": {"deployment": "web"}, "values": [[T0 + 30, "1"]]}],
    "nothing_here": [],
    'ALERTS{severity="critical"}': [],  # none firing
}


class _Prometheus(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.startswith("/cerberus"):  # cerberus's go signal, for the verdicts that read it too
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"True")
            return
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("query", [""])[0]
        if query not in ANSWERS:
            body, code = {"status": "error", "errorType": "bad_data", "error": f"parse error in {query!r}"}, 400
        else:
            body, code = {"status": "success", "data": {"resultType": "matrix", "result": ANSWERS[query]}}, 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def prometheus():
    with serving(_Prometheus) as url:
        yield url


def monitored_run(url: str, folder: Path) -> list[ev.Event]:
    """Two scenario files judged by the monitor, then the run: the events the engine passes on."""
    (folder / "alerts.yaml").write_text(PROFILE)
    profile = load_profile(str(folder / "alerts.yaml"), folder, None, "performance_monitoring.alert_profile")
    settings = Monitoring(prometheus_url=url, enable_alerts=True, alert_profile=profile, check_critical_alerts=True,
                          resiliency_mode="detailed", slos=profile, cerberus_url=f"{url}/cerberus")
    said: list[ev.Event] = []
    monitor = RunMonitor(settings, said.append, 1.0, lambda _red: None)
    monitor.start(T0)
    assert monitor.after_scenario("pods.yaml", T0, T0 + 20, "scenarios/pods.yaml") is None
    assert monitor.after_scenario("scale.yaml", T0 + 25, T0 + 50, "scenarios/scale.yaml") is None
    monitor.finish(T0 + 60)
    return said
