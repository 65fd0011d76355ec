"""`run --dry-run` gives every scenario file its own verdict (planned, skipped as unsupported, or
its one-line error naming file and field) instead of stopping at the first bad file, and exits
non-zero when one failed; a real run of the same config still refuses, in one line, before any
change."""

from __future__ import annotations

import pytest

from runhelpers import krkn, run_dirs, write_config

# krkn's own app_outage.yaml, verbatim: its namespace is a placeholder.
KRKN_APP_OUTAGE = """application_outage:
  duration: 600
  namespace: <namespace-with-application>
  pod_selector: {app: foo}
  block: [Ingress, Egress]
  exclude_label: ""
"""
POD_KILL = [{"id": "kill-pods", "config": {"namespace_pattern": "^krkn-demo$", "label_selector": "app=frontend",
                                           "kill": 1, "krkn_pod_recovery_time": 120}}]
NO_STATUS = {"service_target_port": 8080, "service_name": "frontend", "service_namespace": "krkn-demo",
             "image": "quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3", "chaos_duration": 5,
             "plan": [{"resource": "/", "steps": {"GET": [{"duration": 5, "mime_type": "text/plain", "payload": "x"}]}}]}


def _config(tmp_path):
    return write_config(tmp_path, [("pod_disruption_scenarios", POD_KILL),
                                   ("application_outages_scenarios", KRKN_APP_OUTAGE),
                                   ("zone_outages_scenarios", "zone_outage: {}\n"),
                                   ("service_hijacking_scenarios", NO_STATUS)])


@pytest.mark.cluster
def test_dry_run_gives_each_file_its_verdict_and_fails_when_one_is_bad(tmp_path, kubeconfig):
    done = krkn("run", "-c", _config(tmp_path), "--dry-run", "--skip-unsupported", kubeconfig=kubeconfig)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    plans = [line for line in done.stdout.splitlines() if line.startswith("plan #")]
    assert len(plans) == 4, done.stdout
    assert plans[0].endswith("1 scenario(s)")
    assert plans[1].endswith("s1-application_outages_scenarios.yaml: application_outage.namespace: "
                             "not a valid namespace name: '<namespace-with-application>'"), plans[1]
    assert plans[2].endswith("skipped: not supported by krkn-tui")
    assert "s3-service_hijacking_scenarios.yaml: plan[0].steps.GET[0].status: is required" in plans[3], plans[3]
    finished = [line for line in done.stdout.splitlines() if "■" in line]
    verdicts = [line.split("■ ", 1)[1].split(":")[1].split()[0] for line in finished]
    assert verdicts == ["passed", "failed", "skipped", "failed"], finished
    assert "<namespace-with-application>" in finished[1] and "GET[0].status: is required" in finished[3]


@pytest.mark.cluster
def test_a_real_run_of_the_same_config_refuses_in_one_line_before_any_change(tmp_path, kubeconfig):
    done = krkn("run", "-c", _config(tmp_path), "--skip-unsupported", kubeconfig=kubeconfig)
    assert done.returncode == 2 and done.stdout == "", done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert "s1-application_outages_scenarios.yaml" in line and "application_outage.namespace" in line
    assert not (tmp_path / "versions").exists() or run_dirs(tmp_path / "versions") == []
