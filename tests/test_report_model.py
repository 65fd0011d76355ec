"""The run report's JSON, on plain data: a typed Report written by model.encode is byte for byte
the JSON the report always had (keys, their order, the optional ones left out when unset), and
read back by model.decode it is the same Report; a hostile file reads as today."""

from __future__ import annotations

import json

import pytest

from krkn_tui.errors import UserError
from krkn_tui.kube.identity import ClusterIdentity
from krkn_tui.report.model import (
    Abort, ChecksRecord, CheckSummary, PreviewRecord, PreviewTarget, Report, RollbackRecord, ScenarioResult,
    SteadyRecord, Transition, decode, encode,
)
from krkn_tui.timeline import TimelineEntry

T0 = 1_780_000_000.0

# The report as the engine wrote it before it was typed: a dict, keys in this order.
ON_DISK = {
    "run_id": "1780000000000000000-abcd", "config": "/x/config.yaml", "status": "aborted", "dry_run": False,
    "started": T0, "finished": T0 + 20, "versions_dir": "/x/versions",
    "scenarios": [
        {"index": 0, "scenario_type": "pod_disruption_scenarios", "file": "/x/pods.yaml", "id": "kill-pods",
         "iteration": 0, "status": "passed", "message": "1 pods killed and recovered", "seconds": 4.2,
         "details": {"pods": [{"namespace": "krkn-demo", "name": "frontend-a", "replacement": "frontend-b",
                               "rescheduling_seconds": 0.05, "readiness_seconds": 3.1}]}, "started": T0 + 1},
        {"index": 1, "scenario_type": "hog_scenarios", "file": "/x/hog.yaml", "id": "hog.yaml", "iteration": 0,
         "status": "skipped", "message": "not implemented", "seconds": 0.0, "details": {}},
    ],
    "rollback": [{"file": "/v/run/service_1_abcd.py", "status": "executed", "error": None, "seconds": 0.2,
                  "during": "rollback"}],
    "cluster": {"server": "https://127.0.0.1:6443", "context": "krkn-local", "kube_system_uid": "1a2b"},
    "timeline": [{"at": T0 + 1, "lane": "scenario", "text": "kill-pods started (pod_disruption_scenarios)",
                  "tone": "info"}],
    "preview": [{"index": 0, "scenario_type": "pod_disruption_scenarios", "file": "/x/pods.yaml", "id": "kill-pods",
                 "problem": None, "targets": [{"kind": "pods", "count": 1, "names": ["krkn-demo/frontend-a"],
                                               "action": "1 deleted"}]}],
    "checks": {"interval": 2, "checks": [{"name": "frontend", "what": "GET http://h/health answers 200",
                                          "abort": True, "state": "passing", "probes": 9, "failures": 1,
                                          "last_latency": 0.004, "last_seen": "HTTP 200",
                                          "transitions": [{"at": T0 + 9, "phase": "during", "state": "failing",
                                                           "seen": "HTTP 503"}]}]},
    "steady_state": {"before": True, "after_seconds": 1.5, "after": True},
    "abort": {"check": "promql web down", "expr": "absent(up)", "at": T0 + 9, "seen": "1", "what": "critical absent(up)",
              "rolled_back_at": T0 + 9.8, "seconds_to_rolled_back": 0.8},
    "monitoring": {"prometheus_url": "http://127.0.0.1:9090", "failure": None},
    "failure": "scenario",
}

TYPED = Report(
    run_id="1780000000000000000-abcd", config="/x/config.yaml", status="aborted", dry_run=False,
    started=T0, finished=T0 + 20, versions_dir="/x/versions",
    scenarios=(
        ScenarioResult(0, "pod_disruption_scenarios", "/x/pods.yaml", "kill-pods", 0, "passed",
                       "1 pods killed and recovered", 4.2, ON_DISK["scenarios"][0]["details"], T0 + 1),
        ScenarioResult(1, "hog_scenarios", "/x/hog.yaml", "hog.yaml", 0, "skipped", "not implemented", 0.0, {}),
    ),
    rollback=(RollbackRecord("/v/run/service_1_abcd.py", "executed", None, 0.2, "rollback"),),
    cluster=ClusterIdentity("https://127.0.0.1:6443", "krkn-local", "1a2b"),
    timeline=(TimelineEntry(T0 + 1, "scenario", "kill-pods started (pod_disruption_scenarios)"),),
    preview=(PreviewRecord(0, "pod_disruption_scenarios", "/x/pods.yaml", "kill-pods", None,
                           (PreviewTarget("pods", 1, ("krkn-demo/frontend-a",), "1 deleted"),)),),
    checks=ChecksRecord(2, (CheckSummary("frontend", "GET http://h/health answers 200", True, "passing", 9, 1, 0.004,
                                         "HTTP 200", (Transition(T0 + 9, "during", "failing", "HTTP 503"),)),)),
    steady_state=SteadyRecord(before=True, after_seconds=1.5, after=True),
    abort=Abort("promql web down", expr="absent(up)", at=T0 + 9, seen="1", what="critical absent(up)")
    .rolled_back(T0 + 9.8),
    monitoring={"prometheus_url": "http://127.0.0.1:9090", "failure": None},
    failure="scenario",
)


def test_a_typed_report_is_written_byte_for_byte_as_before():
    assert encode(TYPED) == json.dumps(ON_DISK, indent=2).encode()


def test_a_written_report_reads_back_as_the_same_report():
    assert decode(json.loads(encode(TYPED)), "r.json") == TYPED


def test_unset_parts_are_left_out_as_before():
    # A run without checks, abort, monitoring or failure: those keys are not written at all; a
    # cluster that could not be read is written as null.
    written = json.loads(encode(Report("r1", status="passed")))
    assert list(written) == ["run_id", "config", "status", "dry_run", "started", "finished", "versions_dir",
                             "scenarios", "rollback", "cluster", "timeline", "preview"]
    assert written["cluster"] is None
    # An abort by a check, then by a halt: their keys in the order they always had.
    assert list(json.loads(encode(Report("r", abort=Abort("web", at=T0, seen="x", what="GET"))))["abort"]) == [
        "check", "at", "seen", "what"]
    halted = Abort("halt", at=T0, seen="d", what="halt", reason="halt: d").rolled_back(T0 + 1)
    assert list(json.loads(encode(Report("r", abort=halted)))["abort"]) == [
        "check", "at", "seen", "what", "reason", "rolled_back_at", "seconds_to_rolled_back"]
    assert halted.seconds_to_rolled_back == 1.0 and halted.rolled_back(T0 + 5) == halted  # measured once


@pytest.mark.parametrize("data", [[], "x", {"status": "passed"}, {"run_id": 7}])
def test_not_a_report_is_one_line_naming_the_file(data):
    with pytest.raises(UserError) as err:
        decode(data, "/r/x.json")
    assert str(err.value) == "/r/x.json: not a krkn-tui run report (no run_id)"


def test_hostile_fields_read_as_missing_and_strings_as_one_line():
    r = decode({"run_id": "r\u202e1", "started": "soon", "finished": True, "dry_run": "yes", "cluster": ["x"],
                "scenarios": [{"index": "0", "status": ["x"], "details": "no"}, "junk"], "rollback": {"a": 1},
                "checks": {"checks": [{"name": "n\x1b[31m", "probes": 1.5, "transitions": [None]}]},
                "abort": "nope", "steady_state": [], "timeline": [{"at": "x"}, {"at": T0, "lane": "evil", "tone": "red"}],
                "monitoring": {"resiliency": {"score": "high", "slo_results": {"x": "yes"}}}}, "r.json")
    assert (r.run_id, r.started, r.finished, r.dry_run, r.cluster) == ("r 1", None, None, False, None)
    [s] = r.scenarios
    assert (s.index, s.status, s.recovery()) == (None, "['x']", ())
    assert r.rollback == () and r.abort is None and r.steady_state is None
    [c] = r.checks.checks
    assert (c.name, c.probes, c.transitions) == ("n [31m", None, ())
    assert r.timeline == (TimelineEntry(T0, "run", "", "info"),)
    v = r.verdicts()
    assert v.score() is None and v.resiliency.shown_score == "high" and v.resiliency.slo_results == (("x", None),)
