"""What a run leaves besides version files: the JSON report and the append-only audit log."""

from __future__ import annotations

import json

import pytest

from krkn_tui.records import audit_path, reports_dir
from kubehelpers import deployment, ready_pods, wait_for
from test_scenario_app_outage import run_scenario

pytestmark = pytest.mark.cluster


def _audit(versions_dir) -> list[dict]:
    return [json.loads(line) for line in audit_path(versions_dir).read_text().splitlines()]


def test_report_and_audit_of_an_outage(tmp_path, api_client, namespace):
    engine, result, _events = run_scenario(tmp_path, api_client, "application_outages_scenarios", {
        "application_outage": {"duration": 0.5, "namespace": namespace, "pod_selector": {"app": "web"}}})
    assert result.status == "passed"
    report = json.loads((reports_dir(engine.config.versions_dir) / f"{engine.run_id}.json").read_text())
    assert report["run_id"] == engine.run_id and report["status"] == "passed"
    [scenario] = report["scenarios"]
    assert scenario["status"] == "passed" and scenario["seconds"] >= 0.5
    policy = scenario["details"]["policy"]
    # The plugin's own restore is a rollback step with its outcome.
    [step] = report["rollback"]
    assert step["status"] == "executed" and step["during"] == "restore" and step["file"].endswith(".py")

    audit = [e for e in _audit(engine.config.versions_dir) if e["run_id"] == engine.run_id]
    kinds = [e["event"] for e in audit]
    assert kinds.index("rollback_registered") < kinds.index("cluster_change") < kinds.index("rollback_executed")
    change = next(e for e in audit if e["event"] == "cluster_change")
    assert (change["action"], change["namespace"], change["name"]) == ("create_network_policy", namespace, policy)
    assert kinds.count("rollback_registered") == 1


def test_report_has_pod_recovery_times_and_audit_is_append_only(tmp_path, api_client, apps, core, namespace):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2)
    scenario = [{"id": "kill-one", "config": {"namespace_pattern": f"^{namespace}$", "label_selector": "app=web",
                                             "kill": 1, "krkn_pod_recovery_time": 60}}]
    first, _, _ = run_scenario(tmp_path, api_client, "pod_disruption_scenarios", scenario)
    lines_after_first = audit_path(first.config.versions_dir).read_text().splitlines()
    second, result, _ = run_scenario(tmp_path, api_client, "pod_disruption_scenarios", scenario)
    assert result.status == "passed"

    report = json.loads((reports_dir(second.config.versions_dir) / f"{second.run_id}.json").read_text())
    [pod] = report["scenarios"][0]["details"]["pods"]
    assert pod["namespace"] == namespace and pod["replacement"] and pod["replacement"] != pod["name"]
    assert 0 <= pod["rescheduling_seconds"] <= pod["readiness_seconds"]

    lines = audit_path(second.config.versions_dir).read_text().splitlines()
    assert lines[:len(lines_after_first)] == lines_after_first  # earlier runs' lines untouched
    deletes = [json.loads(x) for x in lines if json.loads(x).get("action") == "delete_pod"]
    assert [d["run_id"] for d in deletes] == [first.run_id, second.run_id]
