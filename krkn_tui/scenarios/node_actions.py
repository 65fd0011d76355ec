"""node_scenarios through the API only: cordon, drain and taint nodes.

krkn's cloud actions (stop, reboot, kubelet ...) are refused by the spec parser. Each change is
registered as a version file first and undone at the end of its hold by executing that file.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..rollback import RollbackContent
from ..yamlio import Section, join_field
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import Taint, check_selector, keyed_entries, taint_from_map

if TYPE_CHECKING:
    from kubernetes import client


# ---- the scenario file: spec and parser ----------------------------------------------------

API_NODE_ACTIONS = ("node_cordon_scenario", "node_drain_scenario", "node_taint_scenario")
CLOUD_NODE_ACTIONS = (
    "node_start_scenario",
    "node_stop_scenario",
    "node_stop_start_scenario",
    "node_reboot_scenario",
    "node_termination_scenario",
    "stop_kubelet_scenario",
    "stop_start_kubelet_scenario",
    "restart_kubelet_scenario",
    "node_crash_scenario",
    "stop_start_helper_node_scenario",
    "node_disk_detach_attach_scenario",
    "node_block_scenario",
)
# krkn keys that only its cloud drivers read; harmless next to API-only actions.
_NODE_CLOUD_KEYS = (
    "kube_check", "poll_interval", "service", "ssh_private_key", "helper_node_ip",
    "bmc_info", "bmc_user", "bmc_password", "bmc_addr", "disable_ssl_verification",
)


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    actions: tuple[str, ...]  # each one of API_NODE_ACTIONS
    label_selector: str | None = None
    node_names: tuple[str, ...] = ()  # krkn's node_name, split on commas
    exclude_label: str | None = None
    instance_count: int = 1
    runs: int = 1
    timeout: float = 120.0
    duration: float = 0.0  # how long the node stays cordoned/drained/tainted
    parallel: bool = False
    cloud_type: str | None = None  # accepted for krkn files; API actions need no cloud
    taint: Taint | None = None
    file: Path | None = None
    field: str = ""


_NODE_KEYS = (
    "actions", "label_selector", "node_name", "exclude_label", "instance_count", "runs", "timeout",
    "duration", "parallel", "cloud_type", "taint",
)


def _node_actions(sec: Section) -> tuple[str, ...]:
    actions = sec.string_list("actions")
    if not actions:
        raise sec.error("actions", f"is required (one or more of: {', '.join(API_NODE_ACTIONS)})")
    for i, action in enumerate(actions):
        where = join_field(sec.field("actions"), i)
        if action in CLOUD_NODE_ACTIONS:
            raise UserError(
                f"{action} needs a cloud provider, which this console does not drive; "
                f"supported API-only actions: {', '.join(API_NODE_ACTIONS)}",
                file=sec.file, field=where,
            )
        if action not in API_NODE_ACTIONS:
            raise UserError(f"unknown action {action!r}; expected one of: {', '.join(API_NODE_ACTIONS)}",
                            file=sec.file, field=where)
    return actions


def _node_entry(sec: Section) -> NodeSpec:
    # krkn's older docs call instance_count instance_kill_count.
    if sec.data.get("instance_kill_count") is not None:
        if sec.data.get("instance_count") is not None:
            raise sec.error("instance_kill_count", "is krkn's old name for instance_count; set only one")
        renamed = {**sec.data, "instance_count": sec.data["instance_kill_count"]}
        sec = Section(renamed, sec.file, sec.path)
    sec.reject_unknown(_NODE_KEYS, ignored=(*_NODE_CLOUD_KEYS, "instance_kill_count"))
    actions = _node_actions(sec)
    node_name = sec.string("node_name")
    label_selector = check_selector(sec, "label_selector")
    if node_name is None and label_selector is None:
        raise sec.error(None, "needs label_selector or node_name to choose nodes")
    if node_name is not None and label_selector is not None:
        raise sec.error("node_name", "set label_selector or node_name, not both")
    names = tuple(n.strip() for n in node_name.split(",")) if node_name else ()
    if any(not n for n in names):
        raise sec.error("node_name", f"empty name in {node_name!r}")
    taint = None
    if "node_taint_scenario" in actions:
        taint_sec = sec.section("taint")
        if taint_sec is None:
            raise sec.error("taint", "is required by node_taint_scenario ({key, value, effect})")
        taint = taint_from_map(taint_sec)
    elif sec.data.get("taint") is not None:
        raise sec.error("taint", "is only used by node_taint_scenario")
    return NodeSpec(
        actions=actions,
        label_selector=label_selector,
        node_names=names,
        exclude_label=check_selector(sec, "exclude_label"),
        instance_count=sec.integer("instance_count", 1, minimum=1),
        runs=sec.integer("runs", 1, minimum=1),
        timeout=sec.number("timeout", 120.0, above=0),
        duration=sec.number("duration", 0.0, minimum=0),
        parallel=sec.boolean("parallel", False),
        cloud_type=sec.string("cloud_type"),
        taint=taint,
        file=Path(sec.file),
        field=sec.path,
    )


def parse_node(data: Any, file: str | Path) -> list[NodeSpec]:
    return keyed_entries(data, file, "node_scenarios", "node scenario entries", _node_entry)


# ---- running it ----------------------------------------------------------------------------

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


# ---- rollback callables: copied verbatim into version files, so self-contained ----------------


def restore_node_schedulable(content, api_client):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    # None drops the field: a node that was schedulable reads back exactly as before.
    body = {"spec": {"unschedulable": True if content.data["unschedulable"] else None}}
    try:
        client.CoreV1Api(api_client).patch_node(content.resource_identifier, body)
    except ApiException as exc:
        if exc.status != 404:  # node gone: nothing to restore
            raise


def restore_node_taints(content, api_client):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    taints = content.data["taints"]
    try:
        node = core.read_node(content.resource_identifier)
        # A JSON patch writes the whole list; a strategic merge would merge by key and effect.
        if taints:
            core.patch_node(content.resource_identifier, [{"op": "add", "path": "/spec/taints", "value": taints}])
        elif node.spec.taints:
            core.patch_node(content.resource_identifier, [{"op": "remove", "path": "/spec/taints"}])
    except ApiException as exc:
        if exc.status != 404:
            raise


# ---- selection ------------------------------------------------------------------------------


def _ready(node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))


def select_nodes(core: client.CoreV1Api, spec: NodeSpec) -> list[str]:
    """Named nodes are all taken (as krkn does); a label selection picks instance_count Ready ones."""
    candidates = node_candidates(core, spec)
    if spec.node_names:
        return candidates
    return sorted(random.sample(candidates, spec.instance_count))


def node_candidates(core: client.CoreV1Api, spec: NodeSpec) -> list[str]:
    """The nodes `select_nodes` picks from; ScenarioFailed when too few."""
    excluded = set()
    if spec.exclude_label:
        excluded = {n.metadata.name for n in core.list_node(label_selector=spec.exclude_label).items}
    if spec.node_names:
        existing = {n.metadata.name for n in core.list_node().items}
        missing = [n for n in spec.node_names if n not in existing]
        if missing:
            raise ScenarioFailed(f"node(s) not found: {', '.join(missing)}")
        return [n for n in dict.fromkeys(spec.node_names) if n not in excluded]
    candidates = sorted(n.metadata.name for n in core.list_node(label_selector=spec.label_selector).items
                        if _ready(n) and n.metadata.name not in excluded)
    if len(candidates) < spec.instance_count:
        minus = f" minus {spec.exclude_label!r}" if spec.exclude_label else ""
        raise ScenarioFailed(f"instance_count {spec.instance_count} but only {len(candidates)} Ready node(s) "
                             f"match {spec.label_selector!r}{minus}")
    return candidates


def evictable_pods(core: client.CoreV1Api, node: str) -> list:
    """What `kubectl drain` evicts: every pod but DaemonSet pods and mirror (static) pods."""
    pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return [p for p in pods
            if MIRROR_ANNOTATION not in (p.metadata.annotations or {})
            and not any(o.kind == "DaemonSet" for o in (p.metadata.owner_references or []))]


def _tolerates(pod, taint) -> bool:
    for t in pod.spec.tolerations or []:
        if t.effect and t.effect != taint.effect:
            continue
        if t.operator == "Exists":
            if not t.key or t.key == taint.key:
                return True
        elif t.key == taint.key and (t.value or "") == (taint.value or ""):
            return True
    return False


def guard_protected_pods(core: client.CoreV1Api, action: str, nodes: list[str], spec: NodeSpec,
                         ctx: ScenarioContext) -> None:
    """A drain evicts the node's pods, and so does a NoExecute taint (those not tolerating it):
    pods of a protected namespace refuse the action, as a scenario aimed at that namespace is."""
    for node in nodes:
        if action == "node_drain_scenario":
            pods = evictable_pods(core, node)
        elif action == "node_taint_scenario" and spec.taint.effect == "NoExecute":
            pods = [p for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                    if not _tolerates(p, spec.taint)]
        else:
            return
        for namespace in sorted({p.metadata.namespace for p in pods}):
            ctx.guard_namespace(namespace)


# ---- actions --------------------------------------------------------------------------------


def cordon(core: client.CoreV1Api, node: str, ctx: ScenarioContext) -> Path | None:
    previous = bool(core.read_node(node).spec.unschedulable)
    path = ctx.set_rollback_callable(
        restore_node_schedulable,
        RollbackContent(resource_identifier=node, data={"unschedulable": previous}),
        verb="restore", kind="Node")
    core.patch_node(node, {"spec": {"unschedulable": True}})
    ctx.audit("cordon_node", node=node, previous_unschedulable=previous)
    return path


def drain(core: client.CoreV1Api, node: str, spec: NodeSpec, ctx: ScenarioContext) -> Path | None:
    path = cordon(core, node, ctx)
    pending = {(p.metadata.namespace, p.metadata.name): p.metadata.uid for p in evictable_pods(core, node)}
    uids = set(pending.values())
    ctx.log(f"evicting {len(pending)} pod(s) from {node}")
    deadline = time.monotonic() + spec.timeout
    delay = 0.2
    while pending:
        for namespace, name in list(pending):
            result = _evict(core, namespace, name)
            if result == "evicted":
                ctx.audit("evict_pod", node=node, namespace=namespace, pod=name)
            if result != "blocked":
                del pending[(namespace, name)]
        left_s = deadline - time.monotonic()
        if pending and left_s <= 0:
            stuck = ", ".join(f"{ns}/{n}" for ns, n in pending)
            raise ScenarioFailed(f"drain of {node}: a PodDisruptionBudget kept {stuck} from being evicted "
                                 f"within {spec.timeout:g}s")
        if pending:
            ctx.sleep(min(delay, left_s))
            delay = min(delay * 2, 5.0)
    # An eviction only starts a graceful deletion: the drain is done when the pods are gone.
    left: list[str] = []

    def gone() -> bool:
        left[:] = [f"{p.metadata.namespace}/{p.metadata.name}" for p in evictable_pods(core, node)
                   if p.metadata.uid in uids]
        return not left

    if not ctx.wait_until(gone, max(0.0, deadline - time.monotonic()), interval=0.5):
        raise ScenarioFailed(f"drain of {node}: pods still terminating after {spec.timeout:g}s: {', '.join(left)}")
    return path


def _evict(core: client.CoreV1Api, namespace: str, name: str) -> str:
    """evicted | gone | blocked (a PodDisruptionBudget refuses for now: 429)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
    try:
        core.create_namespaced_pod_eviction(name, namespace, body)
    except ApiException as exc:
        if exc.status == 429:
            return "blocked"
        if exc.status == 404:
            return "gone"
        raise
    return "evicted"


def taint(core: client.CoreV1Api, node: str, spec: NodeSpec, ctx: ScenarioContext) -> Path | None:
    current = core.read_node(node).spec.taints or []
    previous = [ctx.api_client.sanitize_for_serialization(t) for t in current]
    path = ctx.set_rollback_callable(
        restore_node_taints, RollbackContent(resource_identifier=node, data={"taints": previous}),
        verb="restore", kind="Node")
    new = {"key": spec.taint.key, "effect": spec.taint.effect}
    if spec.taint.value is not None:
        new["value"] = spec.taint.value
    # The API refuses two taints with the same key and effect: ours takes that one's place.
    taints = [t for t in previous if (t.get("key"), t.get("effect")) != (new["key"], new["effect"])] + [new]
    core.patch_node(node, [{"op": "add", "path": "/spec/taints", "value": taints}])
    ctx.audit("taint_node", node=node, taint=str(spec.taint))
    return path


# ---- the plugin -----------------------------------------------------------------------------


@register
class NodeActionsPlugin(ScenarioPlugin):
    scenario_type = "node_scenarios"
    short_name = "node"
    undo_functions = (restore_node_schedulable, restore_node_taints)
    parse_data = staticmethod(parse_node)

    @staticmethod
    def describe(spec: NodeSpec) -> str:
        target = spec.label_selector or ",".join(spec.node_names) or "any node"
        actions = ",".join(a.removesuffix("_scenario") for a in spec.actions)
        return f"{actions} {spec.instance_count} node(s) of {target} for {spec.duration:g}s"

    def run(self, spec: NodeSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        core = client.CoreV1Api(ctx.api_client)
        done: list[dict] = []
        for action in spec.actions:
            nodes = select_nodes(core, spec)
            if not nodes:
                raise ScenarioFailed("every named node is excluded by exclude_label")
            guard_protected_pods(core, action, nodes, spec, ctx)
            ctx.log(f"{action}: {', '.join(nodes)}")
            # parallel: all nodes disrupted at once; serial: one node after the other.
            groups = [nodes] if spec.parallel else [[n] for n in nodes]
            for run in range(spec.runs):
                for group in groups:
                    ctx.check_stop()
                    if ctx.dry_run:
                        self._describe(core, action, group, ctx)
                        continue
                    paths = [self._apply(core, action, node, spec, ctx) for node in group]
                    ctx.log(f"{action} on {', '.join(group)}: holding {spec.duration:g}s (run {run + 1}/{spec.runs})")
                    ctx.sleep(spec.duration)
                    for path in reversed(paths):
                        ctx.restore(path)
                    done.extend({"action": action, "node": n, "run": run + 1} for n in group)
        if ctx.dry_run:
            return Outcome("passed", "dry run: nothing changed")
        return Outcome("passed", f"{len(done)} node change(s) made and restored", {"changes": done})

    def preview(self, spec: NodeSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        core = client.CoreV1Api(ctx.api_client)
        nodes = node_candidates(core, spec)
        if not nodes:
            raise ScenarioFailed("every named node is excluded by exclude_label")
        pick = "" if spec.node_names else f", {spec.instance_count} picked at random"
        found = [targets("nodes", nodes, f"{', '.join(a.removesuffix('_scenario') for a in spec.actions)} "
                                         f"for {spec.duration:g}s, then restored{pick}")]
        for action in spec.actions:
            guard_protected_pods(core, action, nodes, spec, ctx)
            if action == "node_drain_scenario":
                pods = [p for n in nodes for p in evictable_pods(core, n)]
                found.append(targets("pods", [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods],
                                     "evicted (PDBs respected)", [p.metadata.namespace for p in pods]))
        return found

    @staticmethod
    def _apply(core, action: str, node: str, spec: NodeSpec, ctx: ScenarioContext) -> Path | None:
        if action == "node_cordon_scenario":
            return cordon(core, node, ctx)
        if action == "node_drain_scenario":
            return drain(core, node, spec, ctx)
        return taint(core, node, spec, ctx)

    @staticmethod
    def _describe(core, action: str, nodes: list[str], ctx: ScenarioContext) -> None:
        for node in nodes:
            extra = ""
            if action == "node_drain_scenario":
                pods = [f"{p.metadata.namespace}/{p.metadata.name}" for p in evictable_pods(core, node)]
                extra = f"; would evict: {', '.join(pods) or 'no pods'}"
            ctx.log(f"dry run: {action} on {node}{extra}")
