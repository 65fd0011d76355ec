"""Steady-state checks in a run, on the local cluster: a failing steady state refuses to start,
an aborting check stops a running scenario and rolls it back like the emergency stop, the report
says which check, when and what it saw; a dry run previews the blast radius."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml
from kubehelpers import deployment, wait_for
from runhelpers import Run, app_outage, krkn, pod_kill, write_config

from krkn_tui.rollback import list_versions
from standin_http import serve, stop

INTERVAL = 0.5


def with_checks(cfg: Path, checks: list[dict], health: list[dict] | None = None, recovery: float = 30) -> Path:
    body = yaml.safe_load(cfg.read_text())
    body["krkn_tui"] = {"checks": checks, "recovery_timeout": recovery}
    body["health_checks"] = {"interval": INTERVAL, "config": health or []}
    cfg.write_text(yaml.safe_dump(body, sort_keys=False))
    return cfg


def web(apps, namespace, replicas=2):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, replicas))
    wait_for(lambda: (apps.read_namespaced_deployment_status("web", namespace).status.ready_replicas or 0) == replicas,
             what="web ready")


def report_of(out: str, versions: Path) -> dict:
    [path] = list((versions.parent / (versions.name + "-reports")).glob("*.json"))
    return json.loads(path.read_text())


def policies(api_client, namespace):
    from kubernetes import client

    return client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items


def test_a_failing_steady_state_refuses_to_start(tmp_path, kubeconfig, api_client, namespace):
    cfg = with_checks(write_config(tmp_path, [("application_outages_scenarios", app_outage(namespace, "web", 30))]),
                      [{"name": "web-up", "type": "deployment_available", "namespace": namespace, "deployment": "web"}])
    proc = krkn("run", "-c", cfg, kubeconfig=kubeconfig)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "steady state before: FAILING (web-up): run refused, nothing changed" in proc.stdout
    assert "▶" not in proc.stdout  # no scenario started
    assert policies(api_client, namespace) == [] and list_versions(tmp_path / "versions") == []
    report = report_of(proc.stdout, tmp_path / "versions")
    assert report["status"] == "refused" and report["scenarios"] == []
    [check] = report["checks"]["checks"]
    assert check["state"] == "failing" and check["transitions"][0]["seen"] == "not found"


def test_an_aborting_check_stops_the_scenario_and_rolls_back(tmp_path, kubeconfig, api_client, apps, namespace):
    web(apps, namespace)
    hold = 300  # the scale-down would last five minutes: only the check can end it early
    cfg = with_checks(
        write_config(tmp_path, [("service_disruption_scenarios",
                                 {"scenarios": [{"namespace": f"^{namespace}$", "mode": "scale", "sleep": hold,
                                                 "duration": hold}]})]),
        [{"name": "web-up", "type": "deployment_available", "namespace": namespace, "deployment": "web",
          "abort": True},
         {"name": "web-pods", "type": "pods_ready", "namespace": namespace, "selector": "app=web", "min_ready": "50%"}])
    proc = krkn("run", "-c", cfg, kubeconfig=kubeconfig, timeout=hold)
    out = proc.stdout
    assert proc.returncode == 3, out + proc.stderr
    report = report_of(out, tmp_path / "versions")
    assert report["status"] == "aborted"
    abort = report["abort"]
    assert abort["check"] == "web-up" and "0 of 0 replica(s) available" in abort["seen"] or "0 of" in abort["seen"]
    # The scenario was stopped mid-hold, not run out: it ended long before its five minutes.
    [scenario] = report["scenarios"]
    assert scenario["status"] == "interrupted" and scenario["seconds"] < hold
    # Stopped within one check interval of the failing probe: nothing ran between them but the
    # unwinding (the figure itself is in the report and printed below).
    assert abort["rolled_back_at"] >= abort["at"]
    print(f"\nred to rolled back: {abort['seconds_to_rolled_back']:.3f}s (interval {INTERVAL}s)")
    # Rolled back like the emergency stop: the recorded replica count is back, no file pending.
    assert [s["status"] for s in report["rollback"] if s["during"] == "rollback"] == ["executed"]
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 2
    assert [v.status for v in list_versions(tmp_path / "versions")] == ["executed"]
    assert report["steady_state"] == {"before": True, "after": True, "after_seconds": report["steady_state"]["after_seconds"]}
    lanes = [(e["lane"], e["text"]) for e in report["timeline"]]
    order = [i for i, (lane, text) in enumerate(lanes) if
             (lane, text.split(" ")[0]) in {("check", "web-up"), ("rollback", "executed:")}]
    assert order, lanes
    assert "check web-up failed" in out and "stopping the run and rolling back" in out


def test_dry_run_previews_the_blast_radius_and_fails_what_matches_nothing(tmp_path, kubeconfig, api_client, apps,
                                                                          namespace):
    web(apps, namespace)
    cfg = write_config(tmp_path, [("pod_disruption_scenarios", pod_kill(namespace, "web")),
                                  ("application_outages_scenarios", app_outage(namespace, "nothing", 30))])
    proc = krkn("run", "-c", cfg, "--dry-run", kubeconfig=kubeconfig)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "blast radius [0] pod_disruption_scenarios [kill]:" in out
    assert f"2 pods ({namespace}/web-" in out
    assert "[1] application_outages_scenarios" in out and "FAILS before any change" in out
    assert "matched 0 pods" in out
    assert policies(api_client, namespace) == []
    assert len(apps.read_namespaced_deployment_status("web", namespace).status.conditions or []) >= 1


class _Health:
    """A health endpoint on 127.0.0.1 that answers `status` (the test turns it red and back) and
    records each request's path and Authorization header."""

    def __init__(self):
        outer = self
        self.status = 200
        self.seen: list[tuple[str, str | None]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = serve(Handler)
        self.port = self.httpd.server_address[1]

    def close(self):
        stop(self.httpd)


def test_a_check_url_with_credentials_never_shows_them(tmp_path, kubeconfig, apps, namespace):
    web(apps, namespace)
    health = _Health()
    url = f"http://ops:hunter2@127.0.0.1:{health.port}/health?token=t0ps3cret"
    cfg = with_checks(write_config(tmp_path, [("application_outages_scenarios", app_outage(namespace, "web", 300))]),
                      [], health=[{"url": url, "exit_on_failure": True}])
    run = Run(cfg, kubeconfig)
    try:
        run.wait_for("▶")  # steady before: passing; the scenario runs: the check now fails and aborts
        health.status = 503
        run.wait_for("stopping the run and rolling back")
        health.status = 200
        assert run.finish(120) == 3, run.output
    finally:
        health.close()
    versions = tmp_path / "versions"
    [report] = list((tmp_path / "versions-reports").glob("*.json"))
    markdown = krkn("report", run.run_id, "-d", versions)
    page = tmp_path / "report.html"
    assert krkn("report", run.run_id, "-d", versions, "-o", page).returncode == 0
    shown = f"http://127.0.0.1:{health.port}/health"
    printed = {"stdout": run.output, "report": report.read_text(), "markdown": markdown.stdout + markdown.stderr,
               "html": page.read_text(), "audit log": (tmp_path / "versions-audit.jsonl").read_text()}
    for where, said in printed.items():
        for secret in ("hunter2", "ops:", "t0ps3cret", "token="):
            assert secret not in said, (where, secret)
        assert shown in said, where  # the check is still named, by its URL as shown
    assert json.loads(report.read_text())["abort"]["check"] == shown
    # The endpoint itself still got both: the query, and the userinfo as basic auth (as krkn's requests sends it).
    assert health.seen[0] == ("/health?token=t0ps3cret", "Basic b3BzOmh1bnRlcjI=")
