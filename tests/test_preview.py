"""Blast-radius preview on the local cluster: what each scenario type will touch, and a scenario
that matches nothing marked as failing before anything changes."""

from __future__ import annotations

import threading

from kubehelpers import deployment, wait_for
from runhelpers import app_outage, pod_kill, write_config

from krkn_tui.config import load_config
from krkn_tui.run_watch import RunWatch
from krkn_tui.engine import plan
from krkn_tui.scenarios.preview import preview_plan


def previews(api_client, tmp_path, scenarios):
    cfg = load_config(write_config(tmp_path, scenarios))
    return preview_plan(plan(cfg), api_client, cfg)


def test_each_type_lists_its_targets(api_client, apps, namespace, tmp_path):
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    wait_for(lambda: (apps.read_namespaced_deployment_status("web", namespace).status.ready_replicas or 0) == 2)
    got = previews(api_client, tmp_path, [
        ("pod_disruption_scenarios", pod_kill(namespace, "web")),
        ("application_outages_scenarios", app_outage(namespace, "web", 5)),
        ("service_disruption_scenarios", {"scenarios": [{"namespace": f"^{namespace}$", "mode": "scale"}]}),
        ("node_scenarios", {"node_scenarios": [{"actions": ["node_cordon_scenario"], "label_selector": "type=kwok",
                                                "instance_count": 1}]}),
        ("hog_scenarios", {"hog-type": "cpu", "namespace": namespace, "node-selector": "type=kwok",
                           "number-of-nodes": 1, "duration": 1}),
    ])
    assert all(p.ok for p in got), [p.problem for p in got]
    pods, outage, scale, node, hog = ({t.kind: t for t in p.targets} for p in got)
    assert pods["pods"].count == 2 and all(n.startswith(f"{namespace}/web-") for n in pods["pods"].names)
    assert pods["namespaces"].names == (namespace,)
    assert outage["pods"].count == 2 and outage["NetworkPolicies"].count == 1
    assert scale["workloads"].names == (f"Deployment {namespace}/web (2)",)
    assert node["nodes"].count >= 1 and "1 picked at random" in node["nodes"].action
    assert hog["pods"].count == 1
    assert got[0].lines()[0] == f"[0] pod_disruption_scenarios [kill]:"
    # The namespaces whose pods a target touches are data beside its labels: the run watches
    # their pods (nothing reads them back out of "ns/pod" or "ns (n objects)").
    touched = [t.pod_namespaces for p in got for t in p.targets]
    assert set(touched) == {(namespace,), ()} and node["nodes"].pod_namespaces == ()
    watch = RunWatch(load_config(write_config(tmp_path, [])), lambda: api_client, lambda _e: None, threading.Event())
    watch.previews = got
    assert watch.watched_namespaces() == {namespace}


def test_a_scenario_matching_nothing_fails_before_any_change(api_client, namespace, tmp_path):
    got = previews(api_client, tmp_path, [
        ("pod_disruption_scenarios", pod_kill(namespace, "nothing-here")),
        ("application_outages_scenarios", app_outage(namespace, "nothing-here", 5)),
        ("service_disruption_scenarios", {"scenarios": [{"namespace": f"^{namespace}$", "mode": "scale"}]}),
        ("node_scenarios", {"node_scenarios": [{"actions": ["node_cordon_scenario"], "label_selector": "no=such"}]}),
        ("pod_disruption_scenarios", pod_kill("no-such-namespace-x", "web")),
        ("pod_disruption_scenarios", pod_kill("kube-system", "web")),
    ])
    problems = [p.problem for p in got]
    assert f"kill 1 pods, but only 0 match label selector 'app=nothing-here' (running, in {namespace})" \
        == problems[0]
    assert "matched 0 pods" in problems[1]
    assert "no Deployment or StatefulSet" in problems[2]
    assert "only 0 Ready node(s)" in problems[3]
    assert "no namespace matches" in problems[4]
    assert "protected" in problems[5]
    assert "FAILS before any change" in got[0].lines()[0]
