"""krkn's Prometheus verdicts on the local cluster's real Prometheus: a workload on the real node
scraped by it, scaled to zero by a run; the alert profile fails the run (exit 2, krkn's), the
SLOs and score match krkn's own code run with krkn-lib on the same Prometheus and windows; a
critical alert firing after a scenario ends the run; an `abort: true` condition stops a run and
rolls it back; cerberus saying False fails the run."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kubehelpers import wait_for
from krkn_tui.localcluster import realnode
from standin_http import serving

pytestmark = pytest.mark.cluster

BUSYBOX = "krkn-tui.io/busybox:1.35"
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def prometheus(local_cluster) -> str:
    url = local_cluster.status().get("prometheus")
    assert url, "the session's cluster (up --demo) runs no Prometheus: `krkn-tui cluster build`, then `up --demo`"
    return url


def query(url: str, expr: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=10) as r:
        return json.load(r)["data"]["result"]


def test_prometheus_scrapes_the_api_server_the_kubelet_cadvisor_and_kube_state_metrics(prometheus, local_cluster):
    jobs = {"apiserver", "kube-state-metrics"}
    if local_cluster.status().get("real_node"):
        jobs |= {"kubelet", "cadvisor"}
    wait_for(lambda: jobs <= {r["metric"]["job"] for r in query(prometheus, "up == 1")}, timeout=60,
             what=f"{sorted(jobs)} scraped and up")
    assert query(prometheus, "apiserver_request_total")  # the API server's own metrics
    # kube-state-metrics: the demo's Deployments as objects.
    wait_for(lambda: query(prometheus, 'kube_deployment_spec_replicas{namespace="krkn-demo",deployment="frontend"}'),
             timeout=60, what="kube-state-metrics scraped")
    if "cadvisor" in jobs:
        assert query(prometheus, 'container_cpu_usage_seconds_total{namespace="kube-system"} or '
                                 'container_cpu_usage_seconds_total')


def _web(namespace: str, replicas: int) -> dict:
    """busybox httpd on the real node serving a /metrics file on a port named `metrics`."""
    labels = {"app": "web"}
    script = ("mkdir -p /www && printf '# TYPE web_up gauge\\nweb_up 1\\n' > /www/metrics && "
              "exec httpd -f -p 8080 -h /www")
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeSelector": {realnode.KIND_LABEL: "real"},
                "tolerations": [{"key": realnode.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "web", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                "command": ["sh", "-c", script],
                                "ports": [{"name": "metrics", "containerPort": 8080}]}]}}},
    }


@pytest.fixture
def web(prometheus, local_cluster, apps, namespace):
    if not local_cluster.status().get("real_node"):
        pytest.skip("no real node: nothing Prometheus scrapes can be scaled to zero")
    apps.create_namespaced_deployment(namespace, _web(namespace, 2))
    up = f'up{{namespace="{namespace}",app="web"}} == 1'
    wait_for(lambda: len(query(prometheus, up)) == 2, timeout=120, interval=1, what="both web pods scraped and up")
    return namespace


def _profile(namespace: str, *, abort: bool = False) -> str:
    sel = f'namespace="{namespace}",app="web"'
    return textwrap.dedent(f"""\
        - expr: absent(up{{{sel}}} == 1)
          description: web has no instance answering its scrape
          severity: error
        - expr: count(up{{{sel}}} == 1) > 5
          description: more web instances than ever deployed
          severity: critical
        - expr: sum(web_up{{{sel}}}) > 10
          description: web_up summed above 10
          severity: warning
        """) + (textwrap.dedent(f"""\
        - expr: absent(up{{{sel}}} == 1)
          description: web down (stop condition)
          severity: critical
          abort: true
        """) if abort else "")


def _config(tmp_path: Path, namespace: str, prometheus: str, *, duration: int, extra: str = "",
            profile: str | None = None) -> Path:
    (tmp_path / "alerts.yaml").write_text(profile or _profile(namespace))
    (tmp_path / "scale.yaml").write_text(textwrap.dedent(f"""\
        scenarios:
          - namespace: ^{namespace}$
            mode: scale
            runs: 1
            sleep: 0
            duration: {duration}
        """))
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        kraken:
          chaos_scenarios:
            - service_disruption_scenarios:
                - {tmp_path / "scale.yaml"}
        tunings:
          wait_duration: 0
        performance_monitoring:
          prometheus_url: {prometheus}
          enable_alerts: true
          alert_profile: {tmp_path / "alerts.yaml"}
          check_critical_alerts: false
        """) + textwrap.dedent(extra))
    return path


def _run(config: Path, kubeconfig: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    versions = tmp_path / "versions"
    done = subprocess.run([sys.executable, "-m", "krkn_tui", "run", "-c", str(config), "-d", str(versions),
                           "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=300)
    reports = list(tmp_path.glob("versions-reports/*.json"))
    assert len(reports) == 1, done.stdout + done.stderr
    return done, json.loads(reports[0].read_text())


def test_scale_to_zero_fails_the_alert_profile_and_slos_as_krkns_own_code_does(
        web, prometheus, kubeconfig, tmp_path, krkn_lib_python):
    config = _config(tmp_path, web, prometheus, duration=20, extra="""\
        resiliency:
          resiliency_run_mode: detailed
        """)
    done, report = _run(config, kubeconfig, tmp_path)
    out = done.stdout
    assert done.returncode == 2, out + done.stderr  # krkn's exit code for alerts
    [ours] = [line for line in out.splitlines() if line.startswith("KRKN_RESILIENCY_REPORT_JSON:")]
    assert "alert error: web has no instance answering its scrape" in out
    mon = report["monitoring"]
    assert report["status"] == "failed" and report["failure"] == "alerts" and mon["failure"] == "alerts"
    fired = {a["description"]: a for a in mon["alert_profile"]["alerts"]}
    assert fired["web has no instance answering its scrape"]["fails"]
    assert not fired["more web instances than ever deployed"]["fired"]
    res = mon["resiliency"]
    [scenario] = res["scenarios"]
    assert scenario["slo_results"] == {"web has no instance answering its scrape": False,
                                       "more web instances than ever deployed": True,
                                       "web_up summed above 10": True}
    assert scenario["score"] == 80 and res["score"] == 80  # warning-weighted error lost: 4 of 5 points

    # krkn's own code (krkn-lib's Prometheus client) on the same Prometheus and windows.
    request = tmp_path / "request.json"
    request.write_text(json.dumps({
        "url": prometheus, "alert_profile": str(tmp_path / "alerts.yaml"), "slo_file": str(tmp_path / "alerts.yaml"),
        "start": mon["window"]["start"], "end": mon["window"]["end"],
        "scenarios": [{"name": s["scenario"], "start": s["window"]["start"], "end": s["window"]["end"]}
                      for s in res["scenarios"]]}))
    krkn = subprocess.run([krkn_lib_python, str(HERE / "krkn_verdicts.py"), str(request)],
                          capture_output=True, text=True, timeout=120)
    assert krkn.returncode == 0, krkn.stderr[-3000:]
    theirs = json.loads(krkn.stdout)
    assert theirs["krkn_line"] == ours  # krkn's resiliency JSON line, byte for byte, on the same Prometheus
    assert json.loads(ours.split(":", 1)[1])["scenarios"][0]["name"] == str(tmp_path / "scale.yaml")
    assert theirs["fired"] == sorted(a["description"] for a in mon["alert_profile"]["alerts"] if a.get("fails"))
    assert [(s["name"], s["score"], s["slo_results"]) for s in theirs["scenarios"]] == \
        [(s["scenario"], s["score"], s["slo_results"]) for s in res["scenarios"]]
    assert theirs["summary"]["resiliency_score"] == res["score"]
    assert (theirs["summary"]["passed_slos"], theirs["summary"]["total_slos"]) == \
        (res["passed_slos"], res["total_slos"])


def test_an_abort_condition_stops_the_run_and_rolls_it_back(web, prometheus, kubeconfig, tmp_path, apps):
    config = _config(tmp_path, web, prometheus, duration=120, profile=_profile(web, abort=True))
    t0 = time.monotonic()
    done, report = _run(config, kubeconfig, tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr  # an abort, as an aborting check's
    assert time.monotonic() - t0 < 120  # stopped long before the scenario's own end
    abort = report["abort"]
    assert report["status"] == "aborted" and abort["check"] == "promql web down (stop condition)"
    assert abort["seconds_to_rolled_back"] >= 0 and report["monitoring"]["stop_condition"]["expr"].startswith("absent(")
    assert "stopping the run and rolling back" in done.stdout
    assert apps.read_namespaced_deployment_scale("web", web).spec.replicas == 2  # rolled back
    print(f"red to rolled back: {abort['seconds_to_rolled_back']} s")


class _Cerberus(http.server.BaseHTTPRequestHandler):
    signal = b"False"

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.signal)

    def log_message(self, *args):
        pass


@pytest.fixture
def cerberus():
    with serving(_Cerberus) as url:
        yield url


def test_cerberus_saying_false_fails_the_run(web, prometheus, kubeconfig, tmp_path, cerberus):
    config = _config(tmp_path, web, prometheus, duration=1, extra=f"""\
        cerberus:
          cerberus_enabled: true
          cerberus_url: {cerberus}
        """)
    config.write_text(config.read_text().replace("enable_alerts: true", "enable_alerts: false"))
    done, report = _run(config, kubeconfig, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["failure"] == "cerberus"
    assert report["monitoring"]["cerberus"]["go"] is False
    assert "cerberus no-go after scale.yaml: cerberus said 'False'" in done.stdout


def test_a_critical_alert_after_a_scenario_ends_the_run_with_krkns_exit_code(
        web, prometheus, kubeconfig, tmp_path, core):
    """A pod whose port named `metrics` answers nothing fires the local Prometheus's rule
    KrknPodMetricsDown (severity critical): after the first scenario the run ends, exit 2."""
    pod = _web(web, 1)["spec"]["template"]
    pod["metadata"] = {"name": "mute", "labels": {"app": "mute"}}
    pod["spec"]["containers"][0]["command"] = ["sleep", "3600"]
    core.create_namespaced_pod(web, pod)
    wait_for(lambda: query(prometheus, f'ALERTS{{alertname="KrknPodMetricsDown",namespace="{web}",'
                                       'alertstate="firing"}'), timeout=90, interval=1, what="the critical alert firing")
    config = _config(tmp_path, web, prometheus, duration=1)
    config.write_text(config.read_text()
                      .replace("enable_alerts: true", "enable_alerts: false")
                      .replace("check_critical_alerts: false", "check_critical_alerts: true")
                      .replace("        - " + str(tmp_path / "scale.yaml"),
                               "        - " + str(tmp_path / "scale.yaml") + "\n        - " + str(tmp_path / "scale.yaml")))
    done, report = _run(config, kubeconfig, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert report["failure"] == "alerts"
    assert len(report["scenarios"]) == 1  # the second file never started
    post = report["monitoring"]["critical_alerts"]["post"]
    assert {"alertname": "KrknPodMetricsDown", "alertstate": "firing", "namespace": web,
            "severity": "critical"} in post
    [line] = [x for x in done.stdout.splitlines() if "critical alerts firing after scale.yaml: " in x]
    assert "KrknPodMetricsDown" in line


def test_the_demo_scaled_to_zero_fails_the_shipped_alert_profile_and_slos_as_krkn_judges(
        prometheus, local_cluster, kubeconfig, tmp_path, krkn_lib_python, apps):
    """The shipped alerts.yaml and scenarios/service_scale.yaml's scale of every demo Deployment
    to zero, held 20 s (the shipped 5 s can end before Prometheus's discovery drops a pod that is
    still shutting down); krkn's own code agrees on the same data."""
    if not local_cluster.status().get("real_node"):
        pytest.skip("no real node: the demo runs on kwok pods, which nothing scrapes")
    root = HERE.parent
    wait_for(lambda: {r["metric"]["app"] for r in query(prometheus, 'up{job="pods",namespace="krkn-demo"} == 1')}
             == {"frontend", "backend"}, timeout=90, interval=1, what="the demo's servers scraped and up")
    shipped = (root / "scenarios" / "service_scale.yaml").read_text()
    assert "duration: 5" in shipped
    (tmp_path / "service_scale.yaml").write_text(shipped.replace("duration: 5", "duration: 20"))
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""\
        kraken:
          chaos_scenarios:
            - service_disruption_scenarios:
                - {tmp_path / "service_scale.yaml"}
        tunings:
          wait_duration: 0
        performance_monitoring:
          prometheus_url: {prometheus}
          enable_alerts: true
          alert_profile: {root / "alerts.yaml"}
        """))
    done, report = _run(config, kubeconfig, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    mon = report["monitoring"]
    failing = {a["description"] for a in mon["alert_profile"]["alerts"] if a.get("fails")}
    assert failing == {"the demo's frontend had no instance answering", "the demo's backend had no instance answering"}
    res = mon["resiliency"]
    assert res["slo_results"]["the demo's frontend had no instance answering"] is False
    assert res["score"] < 100
    wait_for(lambda: (apps.read_namespaced_deployment("frontend", "krkn-demo").status.ready_replicas or 0) == 3,
             timeout=90, what="the demo's frontend back")

    request = tmp_path / "request.json"
    request.write_text(json.dumps({
        "url": prometheus, "alert_profile": str(root / "alerts.yaml"), "slo_file": str(root / "alerts.yaml"),
        "start": mon["window"]["start"], "end": mon["window"]["end"],
        "scenarios": [{"name": s["name"], "start": s["window"]["start"], "end": s["window"]["end"]}
                      for s in res["scenarios"]]}))
    krkn = subprocess.run([krkn_lib_python, str(HERE / "krkn_verdicts.py"), str(request)],
                          capture_output=True, text=True, timeout=120)
    assert krkn.returncode == 0, krkn.stderr[-3000:]
    theirs = json.loads(krkn.stdout)
    assert theirs["fired"] == sorted(failing)
    assert [(s["score"], s["slo_results"]) for s in theirs["scenarios"]] == \
        [(s["score"], s["slo_results"]) for s in res["scenarios"]]
    assert theirs["summary"]["resiliency_score"] == res["score"]
    print(f"demo scaled to zero: krkn-tui and krkn score {res['score']}, fired {sorted(failing)}")


def test_a_prometheus_that_does_not_answer_refuses_the_run_before_any_change(kubeconfig, tmp_path, namespace, apps):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    apps.create_namespaced_deployment(namespace, _web(namespace, 1))
    config = _config(tmp_path, namespace, dead, duration=1)
    done = subprocess.run([sys.executable, "-m", "krkn_tui", "run", "-c", str(config), "-d", str(tmp_path / "v"),
                           "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert f"performance_monitoring.prometheus_url: Prometheus does not answer: {dead} unreachable" in done.stderr
    assert apps.read_namespaced_deployment_scale("web", namespace).spec.replicas == 1  # nothing touched
    assert not list((tmp_path / "v").rglob("*.py"))
