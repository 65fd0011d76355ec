"""What the pods krkn-tui creates for krkn's pod-based scenarios share (the web service of
service_hijacking, the attackers of syn_flood and http_load): where they run, krkn-lib's node
affinity for `attacker-nodes`, their removal, and waiting for them to run.

Placement: on the local cluster (a node labelled krkn-tui.io/node-kind=real), these pods get a
nodeSelector for its real node and a toleration of its taint. Its other nodes are kwok's, which
run no container: a web service or an attacker there would be a pod on paper only. Elsewhere the
pods are placed as krkn places them (its affinity, no tolerations)."""

from __future__ import annotations

import secrets
import string
from typing import Any

from .base import ScenarioContext, ScenarioFailed
from ..yamlio import Section, describe

LOCAL_NODE_LABEL = "krkn-tui.io/node-kind"
START_TIMEOUT = 120.0  # seconds for the pods to run
GONE_TIMEOUT = 60.0


def random_suffix(length: int) -> str:
    """krkn-lib's get_random_string: lowercase letters and digits."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def local_placement(core) -> dict[str, Any]:
    """The pod spec fields that put a pod on the local cluster's real node; {} on other clusters."""
    nodes = core.list_node(label_selector=f"{LOCAL_NODE_LABEL}=real").items
    if not nodes:
        return {}
    taints = nodes[0].spec.taints or []
    return {"nodeSelector": {LOCAL_NODE_LABEL: "real"},
            "tolerations": [{"key": t.key, "operator": "Exists", "effect": t.effect} for t in taints]}


def parse_attacker_nodes(sec: Section, key: str = "attacker-nodes") -> dict[str, tuple[str, ...]]:
    """krkn's `attacker-nodes`: {label: [values]} ({} or absent: any node). krkn checks only that
    it is a mapping of lists; a label or value Kubernetes would refuse is refused here too."""
    from .specs import LABEL_KEY_RE, LABEL_VALUE_RE

    raw = sec.data.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise sec.error(key, f"expected a mapping of node labels to lists of values, got {describe(raw)}")
    out = {}
    for label, values in raw.items():
        where = f"{key}.{label}"
        if not isinstance(label, str) or not LABEL_KEY_RE.match(label):
            raise sec.error(where, f"not a valid node label: {label!r}")
        values = [] if values is None else values
        if not isinstance(values, list) or not all(isinstance(v, str) and LABEL_VALUE_RE.match(v) for v in values):
            raise sec.error(where, f"expected a list of label values, got {describe(values)}")
        out[label] = tuple(values)
    return out


def node_affinity(attacker_nodes: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """krkn-lib's affinity: one nodeSelectorTerm per label (any of them), `In` its values; a label
    with no values: `Exists` (krkn-lib's http_load template; its syn_flood one writes an empty
    `In`, which the API server refuses)."""
    if not attacker_nodes:
        return {}
    terms = [{"matchExpressions": [{"key": k, "operator": "In", "values": list(v)} if v else
                                   {"key": k, "operator": "Exists"}]} for k, v in attacker_nodes.items()]
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms}}}}


def delete_pods(content, api_client):
    """Rollback: delete the recorded pods at once; one already gone counts as done."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    for name in content.data["pods"]:
        try:
            core.delete_namespaced_pod(name, content.namespace, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def await_running(ctx: ScenarioContext, core, namespace: str, names: list[str], what: str,
                  ready: bool = False) -> None:
    """Wait until every pod runs (and is Ready with `ready`); ScenarioFailed when one fails or
    the wait ends, naming the pods and their phase."""

    def phases() -> dict[str, str]:
        out = {}
        for name in names:
            try:
                pod = core.read_namespaced_pod(name, namespace)
            except Exception:  # noqa: BLE001 - a pod not there yet is "missing"
                out[name] = "missing"
                continue
            phase = pod.status.phase or "Pending"
            if ready and phase == "Running" and not any(
                    c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                phase = "Running, not Ready"
            waiting = [s.state.waiting.reason for s in pod.status.container_statuses or []
                       if s.state and s.state.waiting and s.state.waiting.reason]
            out[name] = f"{phase}: {waiting[0]}" if waiting else phase
        return out

    def started() -> bool:
        now = phases()
        failed = [n for n, p in now.items() if p == "Failed"]
        if failed:
            raise ScenarioFailed(f"{what} failed: {', '.join(failed)}")
        return all(p in ("Running", "Succeeded") for p in now.values())  # "Running: <reason>" is not

    if not ctx.wait_until(started, START_TIMEOUT, interval=0.3):
        late = ", ".join(f"{n} ({p})" for n, p in phases().items() if p not in ("Running", "Succeeded"))
        raise ScenarioFailed(f"{what} not running after {START_TIMEOUT:g}s: {late}")


def pod_log(core, namespace: str, name: str) -> str:
    """The pod's log, or "" when it cannot be read (a kwok node has none)."""
    try:
        return core.read_namespaced_pod_log(name, namespace, _request_timeout=(5, 30)) or ""
    except Exception:  # noqa: BLE001 - the figures are best effort; the scenario's outcome is not
        return ""


def delete_hog_pod(content, api_client):
    """Rollback: delete the hog pod at once; already gone counts as done."""
    from kubernetes import client

    try:
        client.CoreV1Api(api_client).delete_namespaced_pod(
            content.resource_identifier, content.namespace, grace_period_seconds=0)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def finish(ctx: ScenarioContext, core, namespace: str, names: list[str], timeout: float, what: str) -> dict[str, str]:
    """Wait for the pods to end; their phases. ScenarioFailed when one is still running after `timeout`."""

    def phases() -> dict[str, str]:
        found = {p.metadata.name: p.status.phase for p in core.list_namespaced_pod(namespace).items}
        return {n: found.get(n, "missing") for n in names}

    if not ctx.wait_until(lambda: all(p in ("Succeeded", "Failed", "missing") for p in phases().values()),
                          timeout, interval=0.5):
        raise ScenarioFailed(f"{what} still running {timeout:g}s after they started: "
                             f"{', '.join(n for n, p in phases().items() if p == 'Running')}")
    return phases()


def wait_gone(ctx: ScenarioContext, core, namespace: str, names: list[str], what: str) -> None:
    def left() -> list[str]:
        return sorted(p.metadata.name for p in core.list_namespaced_pod(namespace).items if p.metadata.name in names)

    if not ctx.wait_until(lambda: not left(), GONE_TIMEOUT):
        raise ScenarioFailed(f"{what} still present {GONE_TIMEOUT:g}s after deletion: {', '.join(left())}")
