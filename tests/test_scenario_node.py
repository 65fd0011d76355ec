"""node_scenarios on the local cluster: cordon, drain and taint are undone exactly, the version
file is on disk before each change, PDBs hold a drain back, a stop rolls back, dry runs change nothing.

The tests use private kwok nodes (tainted or cordoned so that nobody else's pods land there),
so the shared kwok-node-* nodes stay out of the way of other tests."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import gone_is_fine, ready_pods, wait_for
from krkn_tui.config import DEFAULT_PROTECTED_NAMESPACES, Config, ScenarioRef
from krkn_tui.engine import Engine, plan
from krkn_tui.events import ClusterChange, Event, RollbackRegistered, Step
from krkn_tui.rollback import RollbackContent, list_versions
from krkn_tui.scenarios.node_actions import restore_node_schedulable, restore_node_taints

pytestmark = pytest.mark.cluster

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


# ---- engine helpers (also used by test_scenario_service) -------------------------------------


def scenario_config(tmp_path: Path, scenario_type: str, text: str, *, auto_rollback: bool = True) -> Config:
    """A Config running one scenario file written in krkn's format."""
    file = tmp_path / f"{scenario_type}-{uuid.uuid4().hex[:6]}.yaml"
    file.write_text(text)
    return Config(path=tmp_path / "config.yaml", kubeconfig_path=None, auto_rollback=auto_rollback,
                  versions_dir=tmp_path / "versions", protected_namespaces=DEFAULT_PROTECTED_NAMESPACES,
                  allow_protected=False, scenarios=[ScenarioRef(scenario_type, file, 0)], wait_duration=0)


class Recorder:
    """The engine's emit callback: keeps the events and checks, at each cluster change, that the
    version file named by the latest registration is already on disk. `probe(event)` reads the
    cluster at each change (given the change's audit record), `on_hold(event)` when a plugin
    starts holding its changes: a test sees the change while it is in force."""

    def __init__(self, probe=None, on_hold=None):
        self.events: list[Event] = []
        self.problems: list[str] = []
        self.live: list = []
        self.held: list = []
        self._probe, self._on_hold = probe, on_hold
        self._last_file: str | None = None

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, RollbackRegistered):
            self._last_file = event.file
        elif isinstance(event, ClusterChange):
            if self._last_file is None or not Path(self._last_file).is_file():
                self.problems.append(f"{event.action} without a version file on disk ({self._last_file})")
            if self._probe is not None:
                self.live.append(self._probe(event.record()))
        elif isinstance(event, Step) and "holding" in event.message and self._on_hold is not None:
            self.held.append(self._on_hold(event))

    def changes(self, action: str | None = None) -> list[dict]:
        """The audit records of the cluster changes (of `action` only, if given)."""
        return [e.record() for e in self.events if isinstance(e, ClusterChange) and action in (None, e.action)]

    def registered(self) -> set[str]:
        return {e.file for e in self.events if isinstance(e, RollbackRegistered)}

    def steps(self) -> list[str]:
        return [e.message for e in self.events if isinstance(e, Step)]


def run_engine(config: Config, api_client, recorder: Recorder, *, dry_run: bool = False,
               stop_after: float | None = None, stop: threading.Event | None = None):
    """Run the config's scenarios; `stop_after` seconds (a timer thread) or `stop` requests a stop."""
    engine = Engine(config, lambda: api_client, emit=recorder, dry_run=dry_run, stop=stop)
    timer = threading.Timer(stop_after, engine.stop.set) if stop_after else None
    if timer:
        timer.start()
    try:
        return engine.run(plan(config))
    finally:
        if timer:
            timer.cancel()


def assert_archived(config: Config, result, recorder: Recorder) -> None:
    """Every step of a passing run was executed by the plugin itself and then archived."""
    versions = list_versions(config.versions_dir, run=result.run_id)
    assert versions, "the run registered no version file"
    assert {v.status for v in versions} == {"archived"}
    assert {v.prior_status for v in versions} == {"executed"}
    assert len(versions) == len(recorder.registered())
    assert not list((config.versions_dir / result.run_id).glob("*.py"))


def assert_nothing_registered(config: Config, recorder: Recorder) -> None:
    assert not recorder.registered()
    assert not recorder.changes()
    assert not list(config.versions_dir.rglob("*.py*"))


# ---- private nodes --------------------------------------------------------------------------


UNSCHEDULABLE_TAINT = ("node.kubernetes.io/unschedulable", None, "NoSchedule")


def node_state(core, name: str) -> dict:
    node = core.read_node(name)
    taints = [(t.key, t.value, t.effect) for t in node.spec.taints or []]
    return {"unschedulable": node.spec.unschedulable, "taints": taints}


def assert_node_state(core, name: str, expected: dict) -> None:
    """The node lifecycle controller adds and removes its unschedulable taint a moment after a
    cordon changes: give it that moment."""
    try:
        wait_for(lambda: node_state(core, name) == expected, timeout=10, what=f"{name} restored")
    except AssertionError:
        assert node_state(core, name) == expected


@pytest.fixture
def private_nodes(core):
    """make(...) -> a Ready kwok node only these tests use. Nobody else's pods land there: it has a
    taint only our pods tolerate, or is cordoned, or (room=False) has room for no pod at all."""
    made: list[str] = []
    group = uuid.uuid4().hex[:8]

    def make(*, taints=(), unschedulable=None, labels=None, room=True) -> str:
        pods = "50" if room else "0"
        name = f"t-node-{uuid.uuid4().hex[:8]}"
        core.create_node({
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "krkn-tui-test": group, **(labels or {})}},
            "spec": {"taints": [dict(t) for t in taints] or None, "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": pods},
                       "capacity": {"cpu": "8", "memory": "16Gi", "pods": pods}},
        })
        made.append(name)
        wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                             for c in core.read_node(name).status.conditions or []), what=f"{name} Ready")
        # Settled (the node controller's not-ready and unschedulable taints), so a snapshot stays valid.
        settled = {(t["key"], t.get("value"), t["effect"]) for t in taints}
        settled |= {UNSCHEDULABLE_TAINT} if unschedulable else set()
        wait_for(lambda: set(node_state(core, name)["taints"]) == settled, what=f"{name} taints settled")
        return name

    make.group = group
    yield make
    for name in made:
        gone_is_fine(core.delete_node, name)


def private_taint(group: str) -> dict:
    return {"key": "krkn-tui-test/private", "value": group, "effect": "NoSchedule"}


def pinned_workload(name: str, namespace: str, node: str, group: str, replicas: int = 2, kind: str = "Deployment"):
    """Pods that only fit on `node` (they tolerate its private taint)."""
    labels = {"app": name}
    pod_spec = {
        "containers": [{"name": name, "image": PAUSE_IMAGE}],
        "terminationGracePeriodSeconds": 1,
        "nodeSelector": {"kubernetes.io/hostname": node},
        "tolerations": [{"key": "krkn-tui-test/private", "operator": "Equal", "value": group,
                         "effect": "NoSchedule"}],
    }
    spec = {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if kind == "Deployment":
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def node_yaml(action: str, node: str, *, duration: float = 1, timeout: float = 30, extra: str = "") -> str:
    return (f"node_scenarios:\n  - actions: [{action}]\n    node_name: {node}\n    instance_count: 1\n"
            f"    runs: 1\n    timeout: {timeout}\n    duration: {duration}\n{extra}")


# ---- cordon ---------------------------------------------------------------------------------


def test_cordon_by_label_holds_then_restores_and_archives(tmp_path, api_client, core, private_nodes):
    group = private_nodes.group
    chosen = private_nodes(taints=[private_taint(group)])
    excluded = private_nodes(taints=[private_taint(group)], labels={"krkn-tui-skip": "yes"})
    before = {n: node_state(core, n) for n in (chosen, excluded)}
    config = scenario_config(tmp_path, "node_scenarios", (
        "node_scenarios:\n  - actions: [node_cordon_scenario]\n"
        f"    label_selector: krkn-tui-test={group}\n    exclude_label: krkn-tui-skip=yes\n"
        "    instance_count: 1\n    runs: 2\n    duration: 0.5\n    cloud_type: aws\n"))
    rec = Recorder(probe=lambda e: node_state(core, e["node"]))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems
    assert [e["node"] for e in rec.changes("cordon_node")] == [chosen, chosen]  # one per run
    assert all(live["unschedulable"] is True for live in rec.live)
    for name, state in before.items():
        assert_node_state(core, name, state)
    assert_archived(config, result, rec)


def test_cordon_of_a_cordoned_node_leaves_it_cordoned(tmp_path, api_client, core, private_nodes):
    node = private_nodes(unschedulable=True)
    rec = Recorder()
    result = run_engine(scenario_config(tmp_path, "node_scenarios", node_yaml("node_cordon_scenario", node)),
                        api_client, rec)
    assert result.status == "passed", result.scenarios
    assert [e["previous_unschedulable"] for e in rec.changes("cordon_node")] == [True]
    assert_node_state(core, node, {"unschedulable": True, "taints": [UNSCHEDULABLE_TAINT]})


def test_too_few_nodes_fails_before_any_change(tmp_path, api_client, core, private_nodes):
    node = private_nodes(taints=[private_taint(private_nodes.group)])
    config = scenario_config(tmp_path, "node_scenarios", (
        "node_scenarios:\n  - actions: [node_cordon_scenario]\n"
        f"    label_selector: krkn-tui-test={private_nodes.group}\n    instance_count: 2\n"))
    rec = Recorder()
    result = run_engine(config, api_client, rec)
    assert result.status == "failed"
    assert "only 1 Ready node" in result.scenarios[0].message
    assert_nothing_registered(config, rec)
    taint = private_taint(private_nodes.group)
    assert node_state(core, node) == {"unschedulable": None, "taints": [(taint["key"], taint["value"], taint["effect"])]}


def test_stop_during_hold_restores_the_node(tmp_path, api_client, core, private_nodes):
    node = private_nodes(taints=[private_taint(private_nodes.group)])
    before = node_state(core, node)
    config = scenario_config(tmp_path, "node_scenarios", node_yaml("node_cordon_scenario", node, duration=60))
    rec = Recorder(probe=lambda e: node_state(core, e["node"]))
    t0 = time.monotonic()

    result = run_engine(config, api_client, rec, stop_after=1.5)

    assert time.monotonic() - t0 < 30
    assert result.status == "interrupted"
    assert rec.live and rec.live[0]["unschedulable"] is True
    assert_node_state(core, node, before)
    assert [s.status for s in result.rollback] == ["executed"]


# ---- taint ----------------------------------------------------------------------------------


def test_taint_replaces_same_key_and_effect_then_restores_exact_list(tmp_path, api_client, core, private_nodes):
    group = private_nodes.group
    old = {"key": "krkn-tui-test/chaos", "value": "old", "effect": "PreferNoSchedule"}
    node = private_nodes(taints=[private_taint(group), old])
    before = node_state(core, node)
    config = scenario_config(tmp_path, "node_scenarios", node_yaml(
        "node_taint_scenario", node,
        extra="    taint: {key: krkn-tui-test/chaos, value: new, effect: PreferNoSchedule}\n"))
    rec = Recorder(probe=lambda e: node_state(core, e["node"]))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems
    assert rec.live[0]["taints"] == [before["taints"][0], ("krkn-tui-test/chaos", "new", "PreferNoSchedule")]
    assert_node_state(core, node, before)
    assert_archived(config, result, rec)


def test_taint_on_untainted_node_removes_the_field_again(tmp_path, api_client, core, private_nodes):
    node = private_nodes(room=False)
    config = scenario_config(tmp_path, "node_scenarios", node_yaml(
        "node_taint_scenario", node, extra="    taint: {key: krkn-tui-test/chaos, effect: NoExecute}\n"))
    rec = Recorder(probe=lambda e: node_state(core, e["node"]))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert rec.live[0]["taints"] == [("krkn-tui-test/chaos", None, "NoExecute")]
    assert core.read_node(node).spec.taints is None


# ---- drain ----------------------------------------------------------------------------------


@pytest.fixture
def drained_node(core, apps, namespace, private_nodes):
    """A private node running a Deployment's two pods and a DaemonSet's pod."""
    group = private_nodes.group
    node = private_nodes(taints=[private_taint(group)])
    apps.create_namespaced_deployment(namespace, pinned_workload("web", namespace, node, group))
    apps.create_namespaced_daemon_set(namespace, pinned_workload("agent", namespace, node, group, kind="DaemonSet"))
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2 and ready_pods(core, namespace, "app=agent"),
             what="pods on the private node")
    return node


def pod_uids(core, namespace: str, selector: str) -> set[str]:
    return {p.metadata.uid for p in core.list_namespaced_pod(namespace, label_selector=selector).items}


def test_drain_evicts_all_but_daemonset_pods_and_restores(tmp_path, api_client, core, namespace, drained_node):
    node = drained_node
    before = node_state(core, node)
    web, agent = pod_uids(core, namespace, "app=web"), pod_uids(core, namespace, "app=agent")
    config = scenario_config(tmp_path, "node_scenarios", node_yaml("node_drain_scenario", node, duration=1))
    rec = Recorder(probe=lambda e: node_state(core, node))

    result = run_engine(config, api_client, rec)

    assert result.status == "passed", result.scenarios
    assert not rec.problems
    assert [e["action"] for e in rec.changes()] == ["cordon_node", "evict_pod", "evict_pod"]
    assert {e["pod"].rsplit("-", 2)[0] for e in rec.changes("evict_pod")} == {"web"}
    assert all(live["unschedulable"] is True for live in rec.live)
    assert_node_state(core, node, before)
    assert pod_uids(core, namespace, "app=agent") == agent  # DaemonSet pods stay
    assert not pod_uids(core, namespace, "app=web") & web  # the Deployment's pods were evicted
    # Uncordoned again: the replacements (pinned there) are scheduled and become Ready.
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2, what="replacement pods Ready")
    assert_archived(config, result, rec)


def test_drain_blocked_by_pdb_fails_in_time_and_uncordons(tmp_path, api_client, core, namespace, drained_node):
    node = drained_node
    before = node_state(core, node)
    web = pod_uids(core, namespace, "app=web")
    client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(namespace, {
        "metadata": {"name": "web"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    wait_for(lambda: client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget(
        "web", namespace).status.current_healthy == 2, what="PDB status")
    config = scenario_config(tmp_path, "node_scenarios", node_yaml("node_drain_scenario", node, timeout=3))
    rec = Recorder()
    t0 = time.monotonic()

    result = run_engine(config, api_client, rec)

    assert time.monotonic() - t0 < 20
    assert result.status == "failed"
    message = result.scenarios[0].message
    assert "PodDisruptionBudget" in message and namespace in message
    assert not rec.changes("evict_pod")
    assert pod_uids(core, namespace, "app=web") == web
    assert [s.status for s in result.rollback] == ["executed"]
    assert_node_state(core, node, before)


def test_dry_run_drain_changes_nothing(tmp_path, api_client, core, namespace, drained_node):
    node = drained_node
    before = node_state(core, node)
    web = pod_uids(core, namespace, "app=web")
    config = scenario_config(tmp_path, "node_scenarios", node_yaml("node_drain_scenario", node))
    rec = Recorder()

    result = run_engine(config, api_client, rec, dry_run=True)

    assert result.status == "passed", result.scenarios
    assert any("would evict" in m and f"{namespace}/web-" in m for m in rec.steps())
    assert_nothing_registered(config, rec)
    assert node_state(core, node) == before
    assert pod_uids(core, namespace, "app=web") == web


# ---- rollback callables on their own ----------------------------------------------------------


def test_rollback_callables_are_idempotent_and_accept_a_missing_node(api_client, core, private_nodes):
    node = private_nodes(room=False)
    taints = [{"key": "krkn-tui-test/a", "value": "1", "effect": "PreferNoSchedule"}]
    for _ in range(2):
        restore_node_taints(RollbackContent(node, data={"taints": taints}), api_client)
        restore_node_schedulable(RollbackContent(node, data={"unschedulable": False}), api_client)
    assert node_state(core, node) == {"unschedulable": None, "taints": [("krkn-tui-test/a", "1", "PreferNoSchedule")]}
    for _ in range(2):
        restore_node_taints(RollbackContent(node, data={"taints": []}), api_client)
    assert core.read_node(node).spec.taints is None
    restore_node_schedulable(RollbackContent("t-node-missing", data={"unschedulable": True}), api_client)
    restore_node_taints(RollbackContent("t-node-missing", data={"taints": taints}), api_client)
