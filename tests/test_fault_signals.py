"""Signals at the phases tests/test_run_signals.py leaves out: between two scenarios of other types,
between iterations, during the hold of every other scenario type, and during the rollback itself.
After each: exit 128+N (N the first signal), nothing pending, every target as it was."""

from __future__ import annotations

import signal

import pytest
from kubernetes import client

from runhelpers import (
    Run,
    Workbench,
    disk_problems,
    namespace_snapshot,
    pending,
    pod_kill,
    service_disruption,
    wait_equal,
    write_config,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

LONG = 60  # a hold or wait the signal always lands in


@pytest.fixture
def bench(api_client):
    made = Workbench(api_client)
    yield made
    made.cleanup()


def finish_stopped(run: Run, sig: int, versions) -> None:
    code = run.finish(timeout=180)
    assert code == 128 + sig, run.output
    assert "Traceback" not in run.output
    assert f"stopped by {signal.Signals(sig).name}" in run.output
    assert pending(versions) == [], run.output
    assert disk_problems(versions) == []


@pytest.mark.parametrize("sig, first, second", [
    (signal.SIGTERM, "node_taint", "hog"),
    (signal.SIGHUP, "service_scale", "application_outage"),
    (signal.SIGTERM, "hog", "pod_disruption"),
    (signal.SIGHUP, "application_outage", "node_cordon"),
], ids=lambda v: v.name if isinstance(v, signal.Signals) else v)
def test_signal_between_two_scenarios_stops_before_the_second(sig, first, second, bench, tmp_path, kubeconfig):
    a, b = bench.target(first, 0.5), bench.target(second, LONG)
    before = (a.snapshot(), b.snapshot())
    cfg = write_config(tmp_path, [(a.scenario_type, a.content), (b.scenario_type, b.content)], wait=LONG)
    run = Run(cfg, kubeconfig)
    run.wait_for(rf"waiting {LONG}")
    run.proc.send_signal(sig)
    finish_stopped(run, sig, tmp_path / "versions")
    assert run.output.count("▶") == 1  # the second scenario never started
    wait_equal(lambda: (a.snapshot(), b.snapshot()), before, what="both targets")


def test_signal_between_two_iterations(bench, tmp_path, kubeconfig):
    t = bench.target("application_outage", 0.5)
    before = t.snapshot()
    run = Run(write_config(tmp_path, [(t.scenario_type, t.content)], wait=LONG, iterations=3), kubeconfig)
    run.wait_for(rf"waiting {LONG}")
    run.proc.send_signal(signal.SIGTERM)
    finish_stopped(run, signal.SIGTERM, tmp_path / "versions")
    assert run.output.count("▶") == 1
    wait_equal(t.snapshot, before, what="the target")


@pytest.mark.parametrize("sig, variant, holding", [
    (signal.SIGTERM, "hog", r"hogging for"),
    (signal.SIGHUP, "node_cordon", r"holding"),
    (signal.SIGINT, "node_taint", r"holding"),
    (signal.SIGINT, "service_scale", r"holding"),
    (signal.SIGHUP, "node_drain", r"holding"),
    (signal.SIGTERM, "service_hijacking", r"holding"),
    (signal.SIGINT, "syn_flood", r"flooding for"),
    (signal.SIGHUP, "http_load", r"loading for"),
], ids=lambda v: v.name if isinstance(v, signal.Signals) else v)
def test_signal_while_a_scenario_holds_its_change(sig, variant, holding, bench, tmp_path, kubeconfig):
    t = bench.target(variant, LONG)
    before = t.snapshot()
    run = Run(write_config(tmp_path, [(t.scenario_type, t.content)]), kubeconfig)
    run.wait_for(holding)
    assert t.snapshot() != before  # the change is in force
    run.proc.send_signal(sig)
    finish_stopped(run, sig, tmp_path / "versions")
    wait_equal(t.snapshot, before, what="the target")


def test_signal_while_a_pod_kill_waits_for_recovery(bench, api_client, tmp_path, kubeconfig):
    core = client.CoreV1Api(api_client)
    node = bench.node("pod")
    ns = bench.namespace("f-pod", {"web": 2}, node=node, group=bench.group)
    before = namespace_snapshot(api_client, ns)
    core.patch_node(node, {"spec": {"unschedulable": True}})  # the replacement cannot start: recovery waits
    try:
        run = Run(write_config(tmp_path, [("pod_disruption_scenarios", pod_kill(ns, "web", LONG))]), kubeconfig)
        run.wait_for(r"waiting for its replacement")
        run.proc.send_signal(signal.SIGTERM)
        finish_stopped(run, signal.SIGTERM, tmp_path / "versions")
    finally:
        core.patch_node(node, {"spec": {"unschedulable": None}})
    wait_equal(lambda: namespace_snapshot(api_client, ns), before, what="the Deployment back to 2 Ready replicas")


def test_more_signals_during_a_slow_rollback_do_not_cut_it_short(bench, tmp_path, kubeconfig):
    """A deleted namespace is recreated only once it has finished terminating: a rollback of
    seconds, during which SIGTERM and SIGHUP arrive again."""
    t = bench.target("service_delete_namespace", LONG)
    before = t.snapshot()
    run = Run(write_config(tmp_path, [(t.scenario_type, t.content)]), kubeconfig)
    run.wait_for(r"rollback registered: recreate Namespace")
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for(r"rolling back 1 pending file")
    run.proc.send_signal(signal.SIGTERM)
    run.proc.send_signal(signal.SIGHUP)
    assert run.proc.poll() is None  # the signals reached it mid-rollback
    finish_stopped(run, signal.SIGTERM, tmp_path / "versions")
    assert "rollback executed" in run.output
    wait_equal(t.snapshot, before, what="the namespace recreated as it was", timeout=150)


def test_signal_during_a_rollback_of_many_files(bench, api_client, tmp_path, kubeconfig):
    deployments = 25
    ns = bench.namespace("f-many", {f"d{i:02d}": 1 for i in range(deployments)})
    before = namespace_snapshot(api_client, ns)
    cfg = write_config(tmp_path, [("service_disruption_scenarios", service_disruption(ns, "scale", LONG))])
    run = Run(cfg, kubeconfig)
    run.wait_for(r"holding")
    run.proc.send_signal(signal.SIGHUP)
    run.wait_for(rf"rolling back {deployments} pending file")
    run.proc.send_signal(signal.SIGTERM)
    finish_stopped(run, signal.SIGHUP, tmp_path / "versions")
    assert run.output.count("rollback executed") == deployments
    wait_equal(lambda: namespace_snapshot(api_client, ns), before, what="every Deployment scaled back and Ready")
