"""SYN flood: krkn's `syn_flood_scenarios`. `number-of-pods` attacker pods per target Service
send TCP SYNs to its port for `duration` seconds; the pods are deleted after.

The pods are krkn-lib's `deploy_syn_flood`: `syn-flood-<10>`, host network (dnsPolicy
ClusterFirstWithHostNet), `restartPolicy: Never`, one privileged container `syn-flood` of
`image` with env TARGET, DURATION, TARGET_PORT, PACKET_SIZE and WINDOW_SIZE, and krkn-lib's node
affinity from `attacker-nodes`. The targets: `target-service`, or every Service labelled
`target-service-label`, in `namespace`.

Differences from krkn, on purpose:
- One rollback step (delete every attacker pod of the spec) is on disk before the first pod is
  created; krkn registers one per target after creating its pods.
- TARGET is the Service's cluster IP, not its name: the flood reaches only the Service checked
  here (krkn's pods resolve the name through the cluster's DNS, which the local cluster has not).
- Each target is checked before any change: it exists, has a cluster IP, and a port
  `target-port` (krkn floods whatever the name resolves to).
- krkn's parser requires both `target-service` and `target-service-label` to be present (one of
  them empty); here the one left out may be absent.
- The scenario waits for the pods to end (krkn counts a Pending pod as finished), reports what
  each sent (from its log), and fails when one failed.
- On the local cluster the pods go to the real node (krkn_pods.local_placement), on the pod
  network: the node's own network has no route to Service addresses (no default route, so that
  nothing leaves the machine), the pod network's goes through the node's Service rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import (await_running, delete_pods, finish, local_placement, node_affinity,
                        parse_attacker_nodes, pod_log, random_suffix, wait_gone)
from .specs import LABEL_KEY_RE, check_namespace, check_selector
from ..rollback import RollbackContent
from ..yamlio import Section

_KEYS = ("packet-size", "window-size", "duration", "namespace", "target-service", "target-port",
         "target-service-label", "number-of-pods", "image", "attacker-nodes")
FINISH_MARGIN = 60.0  # seconds past `duration` for the attackers to end


@dataclass(frozen=True, kw_only=True)
class SynFloodSpec:
    namespace: str
    target_service: str | None
    target_service_label: str | None
    target_port: int
    duration: int
    packet_size: int
    window_size: int
    number_of_pods: int
    image: str
    attacker_nodes: dict = field(default_factory=dict, hash=False)
    file: Path | None = None
    field: str = ""

    @property
    def id(self) -> str | None:
        return self.target_service or self.target_service_label


def parse_syn_flood(data: Any, file: str | Path) -> list[SynFloodSpec]:
    sec = Section(data, file, what="a mapping with target-service and target-port")
    sec.reject_unknown(_KEYS)
    service, label = sec.string("target-service"), check_selector(sec, "target-service-label")
    if service is None and label is None:
        raise sec.error("target-service", "set target-service or target-service-label (krkn's rule)")
    if service is not None and label is not None:
        raise sec.error("target-service-label", "set target-service or target-service-label, not both (krkn's rule)")
    if service is not None and not LABEL_KEY_RE.match(service):
        raise sec.error("target-service", f"not a valid Service name: {service!r}")
    image = sec.string("image", required=True)
    if any(c.isspace() for c in image):
        raise sec.error("image", f"not an image reference: {image!r}")
    return [SynFloodSpec(
        namespace=check_namespace(sec, "namespace"), target_service=service, target_service_label=label,
        target_port=sec.integer("target-port", minimum=1, maximum=65535),
        duration=sec.integer("duration", minimum=1),
        packet_size=sec.integer("packet-size", minimum=0, maximum=65000),
        window_size=sec.integer("window-size", minimum=0, maximum=65535),
        number_of_pods=sec.integer("number-of-pods", minimum=1, maximum=100),
        image=image, attacker_nodes=parse_attacker_nodes(sec), file=Path(file), field="")]


# ---- running it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FloodTarget:
    name: str
    address: str  # the Service's cluster IP


def flood_targets(core, spec: SynFloodSpec) -> list[FloodTarget]:
    """The target Services, checked: each exists, has a cluster IP and a port `target-port`."""
    from kubernetes import client

    if spec.target_service:
        try:
            services = [core.read_namespaced_service(spec.target_service, spec.namespace)]
        except client.ApiException as exc:
            if exc.status == 404:
                raise ScenarioFailed(f"target-service: Service {spec.target_service!r} not found in namespace "
                                     f"{spec.namespace}") from None
            raise
    else:
        services = core.list_namespaced_service(spec.namespace, label_selector=spec.target_service_label).items
        if not services:
            raise ScenarioFailed(f"target-service-label: no Service in {spec.namespace} matches "
                                 f"{spec.target_service_label!r}")
    out = []
    for svc in sorted(services, key=lambda s: s.metadata.name):
        where = f"Service {spec.namespace}/{svc.metadata.name}"
        if not svc.spec.cluster_ip or svc.spec.cluster_ip == "None":
            raise ScenarioFailed(f"target-service: {where} is headless (no cluster IP to aim at)")
        ports = [p.port for p in svc.spec.ports or [] if (p.protocol or "TCP") == "TCP"]
        if spec.target_port not in ports:
            raise ScenarioFailed(f"target-port: {where} has no TCP port {spec.target_port} "
                                 f"(its ports: {', '.join(map(str, ports)) or 'none'})")
        out.append(FloodTarget(svc.metadata.name, svc.spec.cluster_ip))
    return out


def attacker_pod(spec: SynFloodSpec, name: str, target: FloodTarget, placement: dict, run_uuid: str) -> dict:
    """krkn-lib's syn_flood_pod.j2, field by field, plus the placement and krkn-tui's run label."""
    pod_spec: dict = {
        **node_affinity(spec.attacker_nodes), **placement,
        # krkn-lib's host network, except on the local cluster's real node: its network has no
        # route to Service addresses (no default route, so nothing leaves this machine).
        **({} if placement else {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}),
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,  # krkn-lib leaves the default; the rollback deletes at once anyway
        "containers": [{
            "name": "syn-flood", "image": spec.image, "securityContext": {"privileged": True},
            "env": [{"name": k, "value": str(v)} for k, v in (
                ("TARGET", target.address), ("DURATION", spec.duration), ("TARGET_PORT", spec.target_port),
                ("PACKET_SIZE", spec.packet_size), ("WINDOW_SIZE", spec.window_size))]}],
    }
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": spec.namespace,
                         "labels": {"krkn-tui/run": run_uuid, "krkn-tui/syn-flood-target": target.name}},
            "spec": pod_spec}


@register
class SynFloodPlugin(ScenarioPlugin):
    scenario_type = "syn_flood_scenarios"
    short_name = "syn flood"
    undo_functions = (delete_pods,)
    parse_data = staticmethod(parse_syn_flood)

    @staticmethod
    def describe(spec: SynFloodSpec) -> str:
        target = spec.target_service or f"Services {spec.target_service_label}"
        return (f"SYN flood {target}:{spec.target_port} (ns {spec.namespace}) from {spec.number_of_pods} pod(s) "
                f"each for {spec.duration}s")

    def preview(self, spec: SynFloodSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.namespace)
        found = flood_targets(client.CoreV1Api(ctx.api_client), spec)
        return [targets("services", [f"{spec.namespace}/{t.name}" for t in found],
                        f"SYN flood on port {spec.target_port} for {spec.duration}s"),
                targets("pods", [f"{spec.namespace}/syn-flood-… ×{spec.number_of_pods * len(found)}"],
                        "attackers created, deleted after", [spec.namespace])]

    def run(self, spec: SynFloodSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.namespace)
        core = client.CoreV1Api(ctx.api_client)
        found = flood_targets(core, spec)
        pods = {f"syn-flood-{random_suffix(10)}": t for t in found for _ in range(spec.number_of_pods)}
        details: dict[str, Any] = {"targets": {t.name: f"{t.address}:{spec.target_port}" for t in found},
                                   "pods": sorted(pods)}
        ctx.log(f"{len(pods)} attacker pods against {', '.join(details['targets'].values())} for {spec.duration}s", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would start {len(pods)} SYN flood pods", {**details, "dry_run": True})
        version = ctx.set_rollback_callable(
            delete_pods, RollbackContent(resource_identifier=",".join(sorted(pods)), namespace=spec.namespace,
                                         data={"pods": sorted(pods)}),
            verb="delete", kind="attacker pods")
        placement = local_placement(core)
        for name, target in pods.items():
            ctx.check_stop()
            core.create_namespaced_pod(spec.namespace, attacker_pod(spec, name, target, placement, ctx.rollback.run_uuid))
            ctx.audit("create_pod", namespace=spec.namespace, name=name, target=target.name)
        await_running(ctx, core, spec.namespace, list(pods), "SYN flood pods")
        ctx.log(f"flooding for {spec.duration}s", 0.2)
        phases = finish(ctx, core, spec.namespace, list(pods), spec.duration + FINISH_MARGIN, "SYN flood pods")
        details["sent"] = {n: _last_line(pod_log(core, spec.namespace, n)) for n in sorted(pods)}
        ctx.restore(version)
        wait_gone(ctx, core, spec.namespace, list(pods), "SYN flood pods")
        failed = sorted(n for n, p in phases.items() if p != "Succeeded")
        if failed:
            raise ScenarioFailed(f"SYN flood pods ended {', '.join(f'{n} ({phases[n]})' for n in failed)}: "
                                 f"{details['sent'][failed[0]] or 'no log'}", details)
        return Outcome("passed", f"{len(pods)} SYN flood pods ran {spec.duration}s against "
                                 f"{', '.join(sorted(details['targets']))}", details)


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
