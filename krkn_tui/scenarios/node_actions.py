"""node_scenarios through the API only: cordon, drain and taint nodes.

krkn's cloud actions (stop, reboot, kubelet ...) are refused by the spec parser. Each change is
registered as a version file first and undone at the end of its hold by executing that file.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from ..rollback import RollbackContent
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import NodeSpec, parse_node

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
                pods = [f"{p.metadata.namespace}/{p.metadata.name}" for n in nodes for p in evictable_pods(core, n)]
                found.append(targets("pods", pods, "evicted (PDBs respected)"))
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
