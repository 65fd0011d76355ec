"""krkn's Prometheus rules on plain data: the alert profile's format, SLO pass/fail, the score's
weights, the sections' bad input (one line naming the file and field), the exit codes."""

from __future__ import annotations

import json
import textwrap

import pytest

from krkn_tui.config import load_config
from krkn_tui.errors import UserError
from krkn_tui.events import run_exit_code
from krkn_tui.monitoring import verdicts
from krkn_tui.monitoring.promapi import QueryError, parse_result
from krkn_tui.monitoring.settings import ProfileEntry, parse_profile
from standin_http import serve


def entry(i, severity="warning", description=None, weight=None, expr="x"):
    return ProfileEntry(i, expr, severity, description, weight)


def test_slo_passed_is_krkns_rule():
    assert verdicts.slo_passed([]) is None  # no data: not judged (counted as passed)
    assert verdicts.slo_passed([{"metric": {}, "values": [[1, "0"], [2, "0"]]}]) is True
    assert verdicts.slo_passed([{"metric": {}, "values": [[1, "0"], [2, "0.5"]]}]) is False
    assert verdicts.slo_passed([{"metric": {}, "values": [[1, "NaN"]]}]) is True  # NaN > 0 is false
    assert verdicts.slo_passed([{"metric": {}, "value": [1, "0"]}]) is True
    assert verdicts.slo_passed([{"metric": {}, "value": [1, "2"]}]) is False
    assert verdicts.slo_passed([{"metric": {}}]) is None


def test_score_weights_as_krkn():
    slos = [entry(0, "critical", "a"), entry(1, "warning", "b"), entry(2, "error", "c"), entry(3, "info", "d", 5)]
    # critical 3, warning 1, error (not a weighted severity) 1, an explicit weight wins.
    value, breakdown = verdicts.score(slos, {"a": False, "b": True, "c": True, "d": True})
    assert breakdown == {"total_points": 10, "points_lost": 3, "passed": 3, "failed": 1}
    assert value == 70
    assert verdicts.score(slos, {}) == (0, {"total_points": 0, "points_lost": 0, "passed": 0, "failed": 0})
    assert verdicts.run_score([100, 33, 50]) == 61  # truncated mean
    assert verdicts.run_score([]) is None


def test_same_name_entries_collapse_and_unnamed_ones_are_numbered():
    slos = [entry(0, "critical"), entry(1, "warning", "same"), entry(2, "critical", "same")]
    assert [s.name for s in slos] == ["slo_0", "same", "same"]
    value, breakdown = verdicts.score(slos, {"slo_0": True, "same": False})
    assert breakdown["total_points"] == 6 and value == 50  # "same" weighs as its last entry (critical)


def test_description_placeholders_from_the_first_series():
    record = {"metric": {"pod": "web-1"}, "values": [[1, "3"], [2, "4"]]}
    assert verdicts.describe("{{$labels.pod}} down ({{$value}}) {{$labels.nope}}", record) == \
        "web-1 down (3) {{$labels.nope}}"


def test_profile_format_and_which_entries_krkn_alerts_read(tmp_path):
    profile = parse_profile([
        {"expr": "up == 0", "description": "d", "severity": "error"},
        {"expr": "up == 0", "description": "d", "severity": "critical", "weight": 2},
        {"expr": "up == 0", "severity": "warning", "abort": True},
    ], "alerts.yaml")
    assert [e.krkn_alert for e in profile.entries] == [True, False, False]
    assert [e.name for e in profile.entries] == ["d", "d", "slo_2"]
    assert profile.entries[2].abort
    for bad, message in (
            ([{"expr": "up", "description": "d", "severity": "fatal"}], "alerts.yaml: [0].severity: unknown value"),
            ([{"description": "d", "severity": "error"}], "alerts.yaml: [0].expr: is required"),
            ([{"expr": "up", "severity": "error", "sevrity": 1}], "alerts.yaml: [0].sevrity: unknown field"),
            ({"expr": "up"}, "alerts.yaml: expected a list of alerts"),
            (["up"], "alerts.yaml: [0]: expected a mapping")):
        with pytest.raises(UserError) as e:
            parse_profile(bad, "alerts.yaml")
        assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_prometheus_answers_of_the_wrong_shape_are_query_errors():
    assert parse_result(b'{"status":"success","data":{"resultType":"vector","result":[]}}') == []
    assert parse_result(b'{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}') == \
        [{"metric": {}, "value": [1, "2"]}]
    for body in (b"<html>", b'{"status":"error","error":"parse error"}', b'{"status":"success","data":{}}',
                 b'{"status":"success","data":{"result":[{"metric":[]}]}}',
                 b'{"status":"success","data":{"result":[{"metric":{},"values":[[1]]}]}}'):
        with pytest.raises(QueryError):
            parse_result(body)


def _config(tmp_path, body: str):
    path = tmp_path / "config.yaml"
    path.write_text("kraken:\n  chaos_scenarios: []\n" + textwrap.dedent(body))
    return path


def test_sections_read_as_krkn_writes_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths: the working directory first, as krkn
    (tmp_path / "alerts.yaml").write_text("- expr: up == 0\n  description: down\n  severity: critical\n")
    (tmp_path / "slos.yaml").write_text("- expr: up == 0\n  severity: warning\n  abort: true\n")
    cfg = load_config(_config(tmp_path, """
        performance_monitoring:
          prometheus_url: http://127.0.0.1:9/
          prometheus_bearer_token:
          uuid:
          enable_alerts: true
          enable_metrics: false
          alert_profile: alerts.yaml
          metrics_profile: config/metrics-report.yaml
          check_critical_alerts: true
        resiliency:
          resiliency_run_mode: standalone
          resiliency_file: slos.yaml
        cerberus:
          cerberus_enabled: true
          cerberus_url: http://127.0.0.1:9/
          check_application_routes: false
    """))
    m = cfg.monitoring
    assert m.enable_alerts and m.check_critical_alerts and m.resiliency_mode == "standalone"
    assert m.alert_profile.source == str(tmp_path / "alerts.yaml")
    assert m.slos.source == str(tmp_path / "slos.yaml")
    assert [e.name for e in m.stops] == ["slo_0"]  # abort: true
    assert m.cerberus_url == "http://127.0.0.1:9/"


def test_krkns_defaults_leave_everything_off(tmp_path):
    cfg = load_config(_config(tmp_path, """
        performance_monitoring:
          prometheus_url: ''
          enable_alerts: False
          alert_profile: config/alerts.yaml
          check_critical_alerts: False
        resiliency:
          resiliency_run_mode: standalone
          resiliency_file: config/alerts.yaml
        cerberus:
          cerberus_enabled: False
          cerberus_url:
    """))
    assert not cfg.monitoring and cfg.monitoring.resiliency_mode == "disabled"  # no Prometheus: as krkn


@pytest.mark.parametrize("body, message", [
    ("performance_monitoring:\n  prometheus_url: http://p:9090\n  enable_alerts: true\n",
     "performance_monitoring.alert_profile: is required when enable_alerts is true"),
    ("performance_monitoring:\n  enable_alerts: true\n  alert_profile: a.yaml\n",
     "performance_monitoring.prometheus_url: is required with enable_alerts"),
    ("performance_monitoring:\n  prometheus_url: p:9090\n",
     "performance_monitoring.prometheus_url: expected an http:// or https:// URL"),
    ("performance_monitoring:\n  prometheus_url: http://p:9090\n  enable_alerts: true\n  alert_profile: no.yaml\n",
     "performance_monitoring.alert_profile: alert profile not found"),
    ("performance_monitoring:\n  prometheus_url: http://p:9090\nresiliency:\n  resiliency_run_mode: always\n",
     "resiliency.resiliency_run_mode: unknown value 'always'"),
    ("cerberus:\n  cerberus_enabled: true\n", "cerberus.cerberus_url: is required when cerberus_enabled"),
    ("performance_monitoring:\n  check_critical_alert: true\n",
     "performance_monitoring.check_critical_alert: unknown field"),
])
def test_bad_sections_one_line_naming_the_field(tmp_path, body, message):
    path = _config(tmp_path, body)
    with pytest.raises(UserError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: {message}"), str(e.value)
    assert "\n" not in str(e.value)


def test_exit_codes_beside_krkns():
    assert run_exit_code("failed", "alerts") == 2  # krkn: critical alerts
    assert run_exit_code("failed", "scenario") == 1
    assert run_exit_code("failed", "cerberus") == 1  # krkn exits 1 on a no-go
    assert run_exit_code("aborted") == 3  # a stop condition is an abort, as an aborting check



def _serve(routes: dict):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = routes.get(self.path.split("?")[0], b"")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return serve(Handler)


def test_cerberus_go_no_go_and_application_routes_as_krkn_reads_them():
    from krkn_tui.monitoring.cerberus import go_no_go

    history = json.dumps({"history": {"failures": [{"component": "route", "name": "shop"},
                                                    {"component": "node", "name": "n1"}]}}).encode()
    server = _serve({"/": b"True", "/history": history})
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert go_no_go(url, False, 0, 60) == {"go": True}
        routes = go_no_go(url, True, 0, 60)
        assert routes["go"] is False and routes["reason"].endswith("routes down during the scenario: shop")
    finally:
        server.shutdown()
        server.server_close()
    assert go_no_go(url, False, 0, 60)["go"] is False  # gone: a no-go with its reason
    for body in (b"False", b"true", b"True\n"):  # krkn compares the body to b"True" exactly
        server = _serve({"/": body})
        try:
            assert go_no_go(f"http://127.0.0.1:{server.server_address[1]}", False, 0, 60)["go"] is False
        finally:
            server.shutdown()
            server.server_close()
