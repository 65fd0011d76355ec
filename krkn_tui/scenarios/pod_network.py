"""pod_network_scenarios: krkn's `pod_network_outage` (drop a pod's traffic, ingress and/or
egress, for all ports or the listed ones) and `pod_egress_shaping` / `pod_ingress_shaping`
(shape a pod's traffic), for `test_duration` seconds, on the pods chosen by `pod_name` or
`label_selector` (less `exclude_label`), `instance_count` of them at random.

krkn does this with OVS flows on OpenShift's bridge (br0 or br-int, from a privileged Job on the
pod's node): drop flows matching the pod's IP (`nw_dst` ingress, `nw_src` egress) and, with
ports, `tp_dst` for tcp and udp; netem on the pod's OVS port (egress) or on an ifb fed by it
(ingress). This cluster's CNI is a Linux bridge with a veth per pod, no OVS; the same effect is
made in the pod's own network namespace, by a privileged pod of krkn's network-chaos image on its
node (network_chaos_ng's chaos pod, `nsenter --net` into the pod's namespace):
- outage: iptables DROP rules on the pod's interface, INPUT `-i` for ingress and OUTPUT `-o` for
  egress, `-p tcp`/`-p udp --dport <port>` per listed port, or every packet without ports, each
  with `--comment krkn-tui:<run>`;
- shaping: krkn's tc tree (network_chaos_ng's, netchaos.py) on the pod interface's egress, or on
  its ingress through the run's own ifb device: htb at `bandwidth`, a netem leaf for `latency`
  and `loss`; where the kernel has no netem, latency and loss go through netem-queue's NFQUEUE
  rules as network_chaos_ng's do. krkn's "egress" netem sits on the node's end
  of the pod's link (what the pod receives); here egress is what the pod sends, ingress what it
  receives.

Differences from krkn, on purpose:
- Each rule and qdisc is recorded in its own version file, exactly as applied, before it is
  applied; the undo deletes that rule (by its content) or qdisc and nothing else (krkn's flows are
  deleted by the Job's own shell after `test_duration`, and nothing removes them if it dies).
- The chaos pod is krkn's network-chaos image (`image` overrides it; krkn's default
  `quay.io/krkn-chaos/krkn:tools` holds ovs-ofctl, which this CNI has no use for), in the target
  pods' namespace, pinned by `nodeName` as krkn's Job is.
- `execution_type` as krkn's: parallel, all of `network_params` at once; serial, one parameter
  after the other in krkn's order (latency, loss, bandwidth) on all the target pods, each held
  for `test_duration` and undone (a chaos pod of its own, as krkn's Job per parameter) before the
  next. krkn sleeps `test_duration` again after each; here the next follows at once.
- krkn waits 30 s inside its Job before the first flow; here the rules go in once the chaos pod
  runs. `wait_duration` is read and, as in krkn, not waited.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..statuses import ScenarioStatus
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import delete_hog_pod
from .netchaos import ChaosPod, Target, delete_network_rule
from .specs import Taint, check_namespace, check_selector, section_entries
from .trap_undo import stop_chaos_pod
from ..yamlio import Section, describe, join_field

OUTAGE_ID = "pod_network_outage"
SHAPING_IDS = ("pod_egress_shaping", "pod_ingress_shaping")
IDS = (OUTAGE_ID,) + SHAPING_IDS
SHAPING_PARAMS = ("latency", "loss", "bandwidth")  # krkn's order, which serial follows
DEFAULT_IMAGE = "quay.io/krkn-chaos/krkn-network-chaos:latest"
_COMMON = ("namespace", "image", "kubeconfig_path", "pod_name", "label_selector", "exclude_label", "kraken_config",
           "test_duration", "wait_duration", "instance_count")
_OUTAGE_KEYS = _COMMON + ("direction", "ingress_ports", "egress_ports")
_SHAPING_KEYS = _COMMON + ("network_params", "execution_type")
_BANDWIDTH_RE = re.compile(r"(\d+)(bit|kbit|mbit|gbit|tbit)\Z")
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
_IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*\Z")
_LATENCY_RE = re.compile(r"(\d+)(us|ms|s)\Z")
_LOSS_RE = re.compile(r"(\d+(\.\d+)?)%?\Z")  # krkn's '0.02%': netem's percentage


@dataclass(frozen=True, kw_only=True)
class PodNetworkSpec:
    id: str  # pod_network_outage | pod_egress_shaping | pod_ingress_shaping
    namespace: str
    image: str = DEFAULT_IMAGE
    pod_name: str | None = None
    label_selector: str | None = None
    exclude_label: str | None = None
    test_duration: int = 120
    wait_duration: int = 300
    instance_count: int = 1
    direction: tuple[str, ...] = ("ingress", "egress")
    ingress_ports: tuple[int, ...] = ()
    egress_ports: tuple[int, ...] = ()
    bandwidth: str | None = None
    latency: str | None = None
    loss: str | None = None  # a percentage, without %
    execution_type: str = "parallel"
    file: Path | None = None
    field: str = ""
    # What the shared chaos pod reads (netchaos.ChaosSpec): a pod target, pinned by nodeName.
    service_account: str | None = None
    taints: tuple[Taint, ...] = ()
    on_node: bool = False
    pin_by_name: bool = True

    @property
    def ways(self) -> tuple[str, ...]:
        if self.id == OUTAGE_ID:
            return self.direction
        return ("egress",) if self.id == "pod_egress_shaping" else ("ingress",)

    @property
    def ingress(self) -> bool:  # the shaped directions (netchaos.ShapeSpec)
        return "ingress" in self.ways

    @property
    def egress(self) -> bool:
        return "egress" in self.ways


def _ports(cfg: Section, key: str) -> tuple[int, ...]:
    value = cfg.raw(key, blank_is_absent=False)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise cfg.error(key, f"expected a list of ports, got {describe(value)}")
    for i, port in enumerate(value):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise cfg.error(join_field(key, i), f"expected a port 1-65535, got {describe(port)}")
    return tuple(dict.fromkeys(value))


def parse_entry(entry: Section) -> PodNetworkSpec:
    entry.reject_unknown(("id", "config"))
    kind = entry.string("id", required=True)
    if kind == "network_chaos":  # krkn's plugin runner takes any of its steps under this type
        raise entry.error("id", "network_chaos (krkn's ingress shaping of node interfaces) is not run under "
                                "pod_network_scenarios by krkn-tui: list the file under ingress_node_scenarios")
    if kind not in IDS:
        raise entry.error("id", f"unknown value {kind!r}; expected one of: {', '.join(IDS)}")
    cfg = entry.required_section("config")
    cfg.reject_unknown(_OUTAGE_KEYS if kind == OUTAGE_ID else _SHAPING_KEYS)
    namespace = check_namespace(cfg, "namespace")
    pod_name = cfg.string("pod_name")
    if pod_name is not None and not _NAME_RE.match(pod_name):
        raise cfg.error("pod_name", f"not a valid pod name: {pod_name!r}")
    selector = check_selector(cfg, "label_selector")
    if pod_name is None and selector is None:
        raise cfg.error(None, "needs pod_name or label_selector (krkn's rule)")
    image = cfg.string("image", DEFAULT_IMAGE)
    if not _IMAGE_RE.match(image):
        raise cfg.error("image", f"not an image reference: {image!r}")
    extra: dict[str, Any] = {}
    if kind == OUTAGE_ID:
        direction = cfg.string_list("direction", ("ingress", "egress"))
        for i, way in enumerate(direction):
            if way not in ("ingress", "egress"):
                raise cfg.error(join_field("direction", i), f"unknown direction {way!r}; expected ingress or egress")
        if not direction:
            raise cfg.error("direction", "lists no direction: nothing to drop")
        extra = {"direction": tuple(dict.fromkeys(direction)), "ingress_ports": _ports(cfg, "ingress_ports"),
                 "egress_ports": _ports(cfg, "egress_ports")}
    else:
        params = cfg.required_section("network_params")
        params.reject_unknown(("latency", "loss", "bandwidth"))
        shaping: dict[str, str] = {}
        for key, pattern, form in (("latency", _LATENCY_RE, "a number followed by us, ms or s"),
                                   ("loss", _LOSS_RE, "a percentage 0-100, such as '0.02%'"),
                                   ("bandwidth", _BANDWIDTH_RE, "a number followed by bit, kbit, mbit, gbit or tbit")):
            value = params.raw(key)
            if value is None:
                continue
            if key == "loss" and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = f"{value:g}"
            match = pattern.match(value) if isinstance(value, str) else None
            if not match or (key == "loss" and float(match.group(1)) > 100):
                raise params.error(key, f"expected {form}, got {describe(value)}")
            shaping[key] = match.group(1) if key == "loss" else value
        if not shaping:
            raise params.error(None, "needs latency, loss or bandwidth")
        extra = {**shaping,
                 "execution_type": cfg.choice("execution_type", ("serial", "parallel"), "parallel")}
    return PodNetworkSpec(
        id=kind, namespace=namespace, image=image, pod_name=pod_name, label_selector=selector,
        exclude_label=check_selector(cfg, "exclude_label"),
        test_duration=cfg.integer("test_duration", 90 if kind in SHAPING_IDS else 120, minimum=1),
        wait_duration=cfg.integer("wait_duration", 300, minimum=1),
        instance_count=cfg.integer("instance_count", 1, minimum=1),
        file=Path(entry.file), field=entry.path, **extra)


def parse_pod_network(data: Any, file: str | Path) -> list[PodNetworkSpec]:
    return [parse_entry(sec) for sec in section_entries(data, file, "", "pod network entries (- id: ..., config: ...)")]


def outage_rules(spec: PodNetworkSpec, interface: str, tag: str) -> list[tuple[str, list[str]]]:
    """(chain, rule) per direction as krkn's flows: ingress drops what reaches the pod (INPUT on
    its interface), egress what leaves it (OUTPUT); with ports, tcp and udp to each port."""
    out = []
    for way in spec.direction:
        chain, flag = ("INPUT", "-i") if way == "ingress" else ("OUTPUT", "-o")
        ports = spec.ingress_ports if way == "ingress" else spec.egress_ports
        matches = [["-p", proto, "--dport", str(port)] for port in ports for proto in ("tcp", "udp")] or [[]]
        out += [(chain, [flag, interface, *m, "-m", "comment", "--comment", tag, "-j", "DROP"]) for m in matches]
    return out


def find_pods(core, spec: PodNetworkSpec) -> list[Target]:
    """krkn's get_test_pods: the pods matching label_selector (less exclude_label), or pod_name
    among them; then `instance_count` of them at random. Only running ones, on a network of their own."""
    pods = core.list_namespaced_pod(spec.namespace, label_selector=spec.label_selector or None).items
    if spec.exclude_label:
        excluded = {p.metadata.name for p in core.list_namespaced_pod(spec.namespace,
                                                                      label_selector=spec.exclude_label).items}
        pods = [p for p in pods if p.metadata.name not in excluded]
    if spec.pod_name:
        pods = [p for p in pods if p.metadata.name == spec.pod_name]
        if not pods:
            raise ScenarioFailed(f"pod {spec.pod_name} not found in namespace {spec.namespace}")
    pods = [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
    if any(p.spec.host_network for p in pods):
        raise ScenarioFailed(f"pod {next(p for p in pods if p.spec.host_network).metadata.name} uses the node's "
                             "network: its traffic is the node's")
    if not pods:
        raise ScenarioFailed(f"no running pod {spec.pod_name or repr(spec.label_selector)} in {spec.namespace}")
    if len(pods) > spec.instance_count:
        pods = random.SystemRandom().sample(pods, spec.instance_count)
    return [Target(p.metadata.name, p.spec.node_name, p.metadata.uid) for p in pods]


def serial_phases(spec: PodNetworkSpec) -> list[PodNetworkSpec]:
    """krkn's serial execution_type: one parameter at a time, in its order (latency, loss,
    bandwidth), on all the target pods; parallel is all of them at once."""
    alone = dict.fromkeys(SHAPING_PARAMS)
    return [replace(spec, **{**alone, key: getattr(spec, key)}) for key in SHAPING_PARAMS if getattr(spec, key)]


def shaping_words(spec: PodNetworkSpec) -> str:
    return ", ".join(f"{k} {v}" for k, v in (("latency", spec.latency), ("loss", spec.loss and f"{spec.loss}%"),
                                             ("bandwidth", spec.bandwidth)) if v)


@register
class PodNetworkPlugin(ScenarioPlugin):
    scenario_type = "pod_network_scenarios"
    short_name = "pod network"
    undo_functions = (delete_hog_pod, delete_network_rule)
    # Both exec in (or delete) the chaos pod: the guard stops the pod instead, whose TERM trap
    # deletes the rules (trap_undo.py).
    undo_needs_exec = (delete_hog_pod, delete_network_rule)
    guard_undo = {delete_hog_pod: stop_chaos_pod, delete_network_rule: stop_chaos_pod}
    parse_data = staticmethod(parse_pod_network)

    @staticmethod
    def describe(spec: PodNetworkSpec) -> str:
        who = spec.pod_name or repr(spec.label_selector)
        if spec.id == OUTAGE_ID:
            ports = {w: ",".join(map(str, spec.ingress_ports if w == "ingress" else spec.egress_ports)) or "all ports"
                     for w in spec.direction}
            what = ", ".join(f"{w} {p}" for w, p in ports.items())
            return f"{spec.id}: drop {what} of {who} in {spec.namespace} for {spec.test_duration}s"
        serial = " one at a time" if spec.execution_type == "serial" and len(serial_phases(spec)) > 1 else ""
        return (f"{spec.id}: {shaping_words(spec)}{serial} on {spec.ways[0]} of {who} in {spec.namespace} "
                f"for {spec.test_duration}s")

    def preview(self, spec: PodNetworkSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.namespace)
        found = find_pods(client.CoreV1Api(ctx.api_client), spec)
        action = "traffic dropped" if spec.id == OUTAGE_ID else f"{spec.ways[0]} shaped"
        return [targets("nodes", sorted({t.node for t in found}), "a privileged chaos pod each"),
                targets("pods", [f"{spec.namespace}/{t.name}" for t in found],
                        f"{action} on its interface ({'/'.join(spec.ways)}) for {spec.test_duration}s",
                        [spec.namespace])]

    def run(self, spec: PodNetworkSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.namespace)
        core = client.CoreV1Api(ctx.api_client)
        found = find_pods(core, spec)
        ctx.log(f"{spec.id} on {', '.join(t.name for t in found)}", 0.05)
        details: dict[str, Any] = {"id": spec.id, "targets": [t.name for t in found], "rules": []}
        if ctx.dry_run:
            return Outcome(ScenarioStatus.PASSED, f"dry run: would change {len(found)} pod(s)", {**details, "dry_run": True})
        tag = f"krkn-tui:{ctx.rollback.run_uuid[:8]}"
        phases = serial_phases(spec) if spec.id in SHAPING_IDS and spec.execution_type == "serial" else [spec]
        for phase in phases:  # each one applied, held and undone before the next
            pods: list[ChaosPod] = []
            done = len(details["rules"])
            for t in found:
                ctx.check_stop()
                pods.append(cp := ChaosPod.start(ctx, core, phase, t, "outage" if spec.id == OUTAGE_ID else "shaping"))
                iface = cp.default_interface([])
                if spec.id == OUTAGE_ID:
                    for chain, rule in outage_rules(spec, iface, tag):
                        cp.change({"chain": chain, "rule": rule}, "iptables rule",
                                  [["iptables", "-I", chain, "1", *rule]], details)
                else:
                    if mechanism := cp.prepare_shaping(phase):
                        details.setdefault("mechanism", {})[t.name] = mechanism
                    cp.shape_all(phase, iface, tag, details)
            what = f"{shaping_words(phase)}: " if len(phases) > 1 else ""
            ctx.log(f"{what}{len(details['rules']) - done} changes in place; holding {spec.test_duration}s", 0.2)
            ctx.sleep(spec.test_duration)
            for cp in reversed(pods):
                cp.undo()
        serial = f", {len(phases)} parameters one after another" if len(phases) > 1 else ""
        return Outcome(ScenarioStatus.PASSED, f"{spec.id}: {len(details['rules'])} changes on {len(found)} pod(s) for "
                                              f"{spec.test_duration}s{serial}", details)
