"""Protected namespaces: every scenario type refuses kube-system, kube-public, kube-node-lease and a
configured `kraken.protected_namespaces` entry unless `allow_protected_namespaces: true`. Refused
means: the scenario fails naming the namespace, nothing is registered, and nothing in the
namespace changed. Each protected namespace holds a small Deployment of ours, pinned to a private
node, so that every scenario would find something to disrupt there."""

from __future__ import annotations

import pytest
from kubernetes import client

from krkn_tui.config import load_config
from krkn_tui.engine import Engine, plan
from krkn_tui.events import ClusterChange, Event, RollbackRegistered
from runhelpers import (
    Workbench,
    app_outage,
    deployments_ready,
    fill_namespace,
    hog,
    namespace_snapshot,
    node_action,
    node_state,
    pod_kill,
    service_disruption,
    wait_equal,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.cluster

BUILT_IN = ("kube-system", "kube-public", "kube-node-lease")
NAMESPACED = ("pod_disruption", "application_outage", "service_scale", "service_delete_namespace", "hog")
HOLD = 0.5


class Protected(Workbench):
    """A private node, a custom protected namespace, and a victim Deployment in each protected one."""

    def __init__(self, api_client):
        super().__init__(api_client)
        self.node_name = self.node("protected")
        self.custom = self.namespace("f-prot", {})
        self.victim = f"fault-victim-{self.group}"
        self.placed: list[str] = []
        for ns in (*BUILT_IN, self.custom):
            self.placed.append(ns)
            fill_namespace(api_client, ns, {self.victim: 1}, node=self.node_name, group=self.group)

    def scenario(self, variant: str, namespace: str) -> tuple[str, object]:
        if variant == "pod_disruption":
            return "pod_disruption_scenarios", pod_kill(namespace, self.victim, recovery=60)
        if variant == "application_outage":
            return "application_outages_scenarios", app_outage(namespace, self.victim, HOLD)
        if variant.startswith("service_"):
            return "service_disruption_scenarios", service_disruption(namespace, variant[8:], HOLD)
        if variant == "hog":
            return "hog_scenarios", hog(namespace, self.group, HOLD)
        if variant == "node_drain":
            return "node_scenarios", node_action("node_drain_scenario", self.node_name, HOLD)
        if variant == "node_taint_noexecute":
            return "node_scenarios", node_action("node_taint_scenario", self.node_name, HOLD,
                                                 taint={"key": "krkn-fault/evict", "effect": "NoExecute"})
        raise ValueError(variant)

    def snapshot(self, namespaces, *, pods: bool = True) -> dict:
        """With `pods`, also every pod's name: a refused scenario must not even replace one."""
        return {"node": node_state(self.api, self.node_name),
                **{ns: namespace_snapshot(self.api, ns, pods=pods) for ns in namespaces}}

    def settled(self, namespaces) -> dict:
        """The snapshot once every victim is Ready (an earlier test may have just disrupted it)."""
        for ns in namespaces:
            wait_for(lambda: deployments_ready(self.api, ns), timeout=60, what=f"{ns} Ready")
        return self.snapshot(namespaces)

    def cleanup(self) -> None:
        apps = client.AppsV1Api(self.api)
        for ns in self.placed:
            if ns in BUILT_IN:  # the namespace is not ours: only what we put there goes
                try:
                    apps.delete_namespaced_deployment(self.victim, ns)
                except client.ApiException as e:
                    if e.status != 404:
                        raise
        super().cleanup()


@pytest.fixture(scope="module")
def prot(api_client):
    made = Protected(api_client)
    yield made
    made.cleanup()


def run_one(tmp_path, api_client, prot: Protected, variant: str, namespace: str, *, allow: bool):
    cfg = write_config(tmp_path, [prot.scenario(variant, namespace)], protected_namespaces=[prot.custom],
                       allow_protected_namespaces=allow)
    config = load_config(cfg)
    events: list[Event] = []
    result = Engine(config, lambda: api_client, emit=events.append).run(plan(config))
    return config, result, events


def assert_refused(config, result, events, namespaces: list[str]) -> None:
    [outcome] = result.scenarios
    assert result.status == "failed" and outcome.status == "failed", outcome
    assert "protected" in outcome.message, outcome.message
    assert any(f"{ns!r}" in outcome.message for ns in namespaces), outcome.message
    assert [e for e in events if isinstance(e, (ClusterChange, RollbackRegistered))] == []
    assert not list(config.versions_dir.rglob("*.py*")) if config.versions_dir.exists() else True


@pytest.mark.parametrize("namespace", [*BUILT_IN, "custom"])
@pytest.mark.parametrize("variant", NAMESPACED)
def test_namespaced_scenarios_refuse_protected_namespaces(variant, namespace, prot, tmp_path, api_client):
    namespace = prot.custom if namespace == "custom" else namespace
    before = prot.settled([namespace])
    config, result, events = run_one(tmp_path, api_client, prot, variant, namespace, allow=False)
    assert_refused(config, result, events, [namespace])
    assert prot.snapshot([namespace]) == before


@pytest.mark.parametrize("variant", ["node_drain", "node_taint_noexecute"])
def test_node_actions_refuse_to_evict_pods_of_protected_namespaces(variant, prot, tmp_path, api_client):
    protected = [*BUILT_IN, prot.custom]
    before = prot.settled(protected)
    config, result, events = run_one(tmp_path, api_client, prot, variant, prot.node_name, allow=False)
    assert_refused(config, result, events, protected)
    assert prot.snapshot(protected) == before


@pytest.mark.parametrize("variant", [*NAMESPACED, "node_drain"])
def test_a_custom_protected_namespace_can_be_allowed(variant, prot, tmp_path, api_client):
    target = prot.custom
    prot.settled([*BUILT_IN, target])
    before = prot.snapshot([target], pods=False)
    config, result, events = run_one(tmp_path, api_client, prot, variant, target if variant != "node_drain"
                                     else prot.node_name, allow=True)
    assert result.status == "passed", result.scenarios
    assert [e for e in events if isinstance(e, ClusterChange)], "the scenario changed nothing"
    wait_equal(lambda: prot.snapshot([target], pods=False), before, timeout=60, what="the allowed target after its run")
