"""network_chaos_ng_scenarios: `node_network_filter` and `pod_network_filter` drop a node's or a
pod's traffic for ports and protocols, ingress and/or egress, and `node_network_chaos` and
`pod_network_chaos` shape its egress (bandwidth; latency and loss by netem), for `test_duration`
seconds, as krkn's network_chaos_ng does: a privileged pod of krkn's network-chaos image on the
target's node (hostNetwork and hostPID for a node, hostPID for a pod) inserts iptables DROP rules
at the top of INPUT (`-i <interface>`) and OUTPUT, or builds krkn's tc tree (htb root 100:, class
100:1 at `bandwidth`, netem leaf 101:), in the node's network namespace or, through
`nsenter --net`, in the target pod's. `node_interface_down` sets a node's interfaces down for
`test_duration` (krkn's timer in the chaos pod sets them up again: no exec reaches a node whose
interface is down), then waits for the node to be Ready and `recovery_time`.

krkn's older node types run here too, as node_network_chaos: `network_chaos_scenarios` (egress
netem from a privileged Job; serial is one parameter at a time) and `ingress_node_scenarios` (its
native `network_chaos` step: ingress through ifb devices), read in their own formats below.

krkn's scenario files are read as krkn reads them (a list of entries with `id`; targets by
`label_selector`, else `target`; `instance_count` of them at random; `execution` serial or
parallel; `taints` as tolerations of the chaos pod, `key=value:Effect`; no `ports` filters every
port; `protocols` tcp and udp by default).

Differences from krkn, on purpose:
- Each rule carries a comment naming the run (`-m comment --comment krkn-tui:<run>`), and it is
  recorded in its own version file, exactly as applied, before it is inserted; the undo deletes
  that rule by its content (`iptables -D <chain> <rule>`), never "rule 1 of the chain" as krkn
  does, so a rule another tool inserted meanwhile stays. The chaos pod has its own version file,
  written before it is created; a runner killed mid-run is undone by `execute-rollback`.
- The interface (no `interfaces` given) is the default route's in the target's own namespace;
  krkn reads it from its chaos pod's namespace, which for a pod target is not the pod's.
- A pod target's network namespace is found by its pod UID in the node's /proc/*/cgroup (krkn-lib
  asks the container runtime); after a container restart the pod's namespace is the same.
- Targets run one after the other whatever `execution` says: the rules of all targets are in
  place together for `test_duration`, which is what parallel means for the traffic.
- Shaping: the netem leaf only for latency or loss (krkn adds one delaying nothing otherwise);
  ingress goes through the run's own ifb device (krkn reuses ifb0) with a u32 catch-all (krkn's
  matchall is not in this kernel); another tool's root or ingress qdisc on the interface is never
  replaced (the undo deletes root 100:, or the ingress qdisc and the ifb device, recorded before
  they are added).
- Latency and loss where the node's kernel has no netem (CONFIG_NET_SCH_NETEM not set; probed
  before any change by adding a netem qdisc in a throwaway network namespace, `unshare -n`, which
  leaves nothing behind: qdisc kinds are the kernel's, not a namespace's): the image's
  netem-queue program holds an NFQUEUE in the target's namespace and gives each packet its
  verdict after the delay, or drops it at the loss share; iptables rules in the mangle table send
  the interface's egress (POSTROUTING `-o`) and ingress (PREROUTING `-i`) to it with
  `--queue-bypass`, so traffic flows on if the program dies. Bandwidth keeps htb (the tree without
  the netem leaf). Each rule's version file names the mechanism; the program ends with the chaos
  pod (netchaos.py).
- node_interface_down records each interface's global addresses and main-table routes before
  setting it down (going down drops its routes and IPv6 global addresses; krkn only sets it up
  again): the node's timer and the undo add back what is missing. The undo first annotates the
  chaos pod (`krkn-tui.io/interfaces-up`); the timer reads the pod's annotations (a downward API
  file) every second and sets the interfaces up at once when it shows, so a stop need not wait
  out `test_duration` where the node's kubelet still reaches the API server (krkn's pod has no
  such file: its timer always runs out). The undo then waits for the node to answer and for the
  timer, once started, to end (its marker files), so the pod's deletion next cannot cut it between
  down and up, and a killed runner is completed by `execute-rollback`; an interface already down
  is refused.
- Bad input is one line at load time, naming the field: an unknown id, a placeholder such as
  krkn's `<node_name>`, a port outside 1-65535, a protocol other than tcp/udp.
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..rollback import RollbackContent
from ..yamlio import Section, describe, expect_list, join_field
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import delete_hog_pod
from .netchaos import (ANNOTATIONS_FILE, IFACE_RE, UP_ANNOTATION, ChaosPod, Target, delete_network_rule, internal_ips,
                       ready_nodes)
from .specs import Taint, check_namespace, check_selector, section_entries, taint_from_string
from .trap_undo import stop_chaos_pod

DEFAULT_IMAGE = "quay.io/krkn-chaos/krkn-network-chaos:latest"
FILTER_IDS = ("node_network_filter", "pod_network_filter")
SHAPING_IDS = ("node_network_chaos", "pod_network_chaos")
DOWN_ID = "node_interface_down"
RUN_IDS = FILTER_IDS + SHAPING_IDS + (DOWN_ID,)
# krkn's other network_chaos_ng modules, refused with the reason.
OTHER_IDS = {
    "vmi_network_chaos": "KubeVirt virtual machine instances",
    "vmi_network_filter": "KubeVirt virtual machine instances",
}
PROTOCOLS = ("tcp", "udp")
_BASE_KEYS = ("id", "image", "wait_duration", "test_duration", "label_selector", "service_account", "taints",
              "namespace", "instance_count", "execution", "ingress", "egress", "target", "interfaces")
_FILTER_KEYS = _BASE_KEYS + ("ports", "protocols")
_SHAPING_KEYS = _BASE_KEYS + ("latency", "loss", "bandwidth", "force")
_DOWN_KEYS = _BASE_KEYS + ("recovery_time",)
_LATENCY_RE = re.compile(r"(\d+)(us|ms|s)\Z")  # krkn's NetworkChaosConfig.validate
_BANDWIDTH_RE = re.compile(r"(\d+)(bit|kbit|mbit|gbit|tbit)\Z")
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
_IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*\Z")


@dataclass(frozen=True, kw_only=True)
class FilterSpec:
    id: str  # node_network_filter | pod_network_filter
    image: str = DEFAULT_IMAGE
    wait_duration: int = 0
    test_duration: int = 60
    label_selector: str | None = None
    service_account: str | None = None
    taints: tuple[Taint, ...] = ()
    namespace: str = "default"
    instance_count: int = 1
    execution: str = "parallel"
    ingress: bool = False
    egress: bool = True
    target: str | None = None
    interfaces: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    protocols: tuple[str, ...] = PROTOCOLS
    latency: str | None = None  # the shaping ids'
    loss: str | None = None
    bandwidth: str | None = None
    force: bool = False
    recovery_time: int = 0  # node_interface_down's: seconds after the interfaces are up again
    # krkn's older types: nodes by name (each with its own interfaces, ingress_node_scenarios'
    # node_interface_name), and the chaos pod bound by nodeName as krkn's Job is (taints aside)
    nodes: tuple[str, ...] = ()
    node_interfaces: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pin_by_name: bool = False
    file: Path | None = None
    field: str = ""

    @property
    def on_node(self) -> bool:
        return self.id.startswith("node_")

    @property
    def needs_netem(self) -> bool:
        return bool(self.latency or self.loss)


def _name(sec: Section, key: str) -> str | None:
    value = sec.string(key)
    if value is not None and not _NAME_RE.match(value):
        raise sec.error(key, f"not a valid object name: {value!r}")
    return value


def _list(sec: Section, key: str) -> list:
    value = sec.raw(key, blank_is_absent=False)
    return [] if value is None else expect_list(value, sec.file, sec.field(key))


def _shaping(sec: Section) -> dict:
    """krkn's latency, loss and bandwidth checks."""
    out = {}
    for key, pattern, form in (("latency", _LATENCY_RE, "a number followed by us, ms or s"),
                               ("bandwidth", _BANDWIDTH_RE, "a number followed by bit, kbit, mbit, gbit or tbit")):
        value = sec.raw(key)
        if value is not None and not (isinstance(value, str) and pattern.match(value)):
            raise sec.error(key, f"expected {form}, got {describe(value)}")
        out[key] = value
    loss = sec.raw("loss")  # krkn's files write `loss: 10` (an integer) and its docs "10"
    if isinstance(loss, int) and not isinstance(loss, bool):
        loss = str(loss)
    if loss is not None and not (isinstance(loss, str) and loss.isdigit() and int(loss) <= 100):
        raise sec.error("loss", f"expected a percentage 0-100 without %, got {describe(loss)}")
    out["loss"] = loss if loss != "0" else None
    if not any(out.values()):
        raise sec.error(None, "needs latency, loss or bandwidth")
    return {**out, "force": sec.boolean("force", False)}


def parse_filter_entry(sec: Section) -> FilterSpec:
    kind = sec.string("id", required=True)
    if kind in OTHER_IDS:
        raise sec.error("id", f"{kind} ({OTHER_IDS[kind]}) is not run by krkn-tui; it runs {', '.join(RUN_IDS)}")
    if kind not in RUN_IDS:
        raise sec.error("id", f"unknown value {kind!r}; expected one of: {', '.join(RUN_IDS)}")
    shaping = kind in SHAPING_IDS
    sec.reject_unknown(_SHAPING_KEYS if shaping else _DOWN_KEYS if kind == DOWN_ID else _FILTER_KEYS)
    extra = _shaping(sec) if shaping else {}
    if kind == DOWN_ID:  # krkn's InterfaceDownConfig: ingress and egress mean nothing to it
        extra = {"recovery_time": sec.integer("recovery_time", 0, minimum=0)}
    ports = []
    for i, port in enumerate(_list(sec, "ports")):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise sec.error(join_field("ports", i), f"expected a port 1-65535, got {describe(port)}")
        ports.append(port)
    protocols = []
    for i, proto in enumerate(_list(sec, "protocols") or list(PROTOCOLS)):
        if proto not in PROTOCOLS:  # krkn: only tcp and udp
            raise sec.error(join_field("protocols", i), f"unknown protocol {describe(proto)}; expected tcp or udp")
        if proto not in protocols:
            protocols.append(proto)
    interfaces = sec.string_list("interfaces")
    for i, name in enumerate(interfaces):
        if not IFACE_RE.match(name):
            raise sec.error(join_field("interfaces", i), f"not an interface name: {name!r}")
    image = sec.string("image", DEFAULT_IMAGE)
    if not _IMAGE_RE.match(image):
        raise sec.error("image", f"not an image reference: {image!r}")
    selector, target = check_selector(sec, "label_selector"), _name(sec, "target")
    if selector is None and target is None:
        raise sec.error("target", "needs label_selector or target (krkn's rule)")
    ingress, egress = sec.boolean("ingress", False), sec.boolean("egress", True)
    if not ingress and not egress and kind != DOWN_ID:
        raise sec.error("egress", "ingress and egress are both false: nothing to change")
    taints = _list(sec, "taints")
    return FilterSpec(
        id=kind, image=image,
        wait_duration=sec.integer("wait_duration", 0, minimum=0),
        test_duration=sec.integer("test_duration", 60, minimum=0),
        label_selector=selector, service_account=_name(sec, "service_account"),
        taints=tuple(taint_from_string(t, sec.file, join_field(sec.field("taints"), i)) for i, t in enumerate(taints)),
        namespace=check_namespace(sec, "namespace", "default"),
        instance_count=sec.integer("instance_count", 1, minimum=0),
        execution=sec.choice("execution", ("serial", "parallel"), "parallel"),
        ingress=ingress, egress=egress, target=target, interfaces=interfaces,
        ports=tuple(ports), protocols=tuple(protocols), file=Path(sec.file), field=sec.path, **extra)


def parse_network_chaos_ng(data: Any, file: str | Path) -> list[FilterSpec]:
    return [parse_filter_entry(sec) for sec in section_entries(data, file, "", "network chaos entries")]


def rules(spec: FilterSpec, interface: str, tag: str) -> list[tuple[str, list[str]]]:
    """(chain, rule) pairs as krkn's generate_rules makes them, each tagged with `tag`; OUTPUT
    rules name no interface (krkn's)."""
    out = []
    ports = spec.ports or (None,)
    for port in ports:
        for chain, on in (("OUTPUT", spec.egress), ("INPUT", spec.ingress)):
            if not on:
                continue
            for proto in spec.protocols:
                rule = (["-i", interface] if chain == "INPUT" else []) + ["-p", proto]
                rule += ["--dport", str(port)] if port is not None else []
                out.append((chain, rule + ["-m", "state", "--state", "NEW,RELATED,ESTABLISHED",
                                           "-m", "comment", "--comment", tag, "-j", "DROP"]))
    return out


# ---- running it ----------------------------------------------------------------------------

_ROUTE_FLAGS = {"linkdown", "dead", "offload", "trap", "rt_offload", "rt_trap", "rt_offload_failed"}
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:/]+")


def interface_up_commands(record: list[dict]) -> list[list[str]]:
    """The node's own timer's commands (the undo builds the same from its file): each interface up,
    its addresses, then its routes."""
    out = []
    for item in record:
        out.append(["ip", "link", "set", item["dev"], "up"])
        out += [["ip", "addr", "add", *a.split(), "dev", item["dev"]] for a in item["addrs"]]
        out += [["ip", fam, "route", "add", *route.split(), "dev", item["dev"]] for fam, route in item["routes"]]
    return out


def find_targets(core, spec: FilterSpec) -> list[Target]:
    """krkn's get_node_targets / get_pod_targets, then `instance_count` of them at random."""
    if spec.nodes:
        ready = ready_nodes(core, None)
        for name in spec.nodes:
            if name not in ready:
                raise ScenarioFailed(f"node {name} not found or not Ready")
        return [Target(n, n) for n in spec.nodes]  # krkn's node_name list: all of them
    if spec.on_node:
        names = ready_nodes(core, spec.label_selector)
        if spec.label_selector is None and spec.target not in names:
            raise ScenarioFailed(f"node {spec.target} not found or not Ready")
        found = [Target(n, n) for n in (names if spec.label_selector else [spec.target])]
    else:
        if spec.label_selector:
            pods = core.list_namespaced_pod(spec.namespace, label_selector=spec.label_selector).items
        else:
            pods = [p for p in core.list_namespaced_pod(spec.namespace).items if p.metadata.name == spec.target]
            if not pods:
                raise ScenarioFailed(f"pod {spec.target} not found in namespace {spec.namespace}")
        pods = [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
        if any(p.spec.host_network for p in pods):
            raise ScenarioFailed(f"pod {next(p for p in pods if p.spec.host_network).metadata.name} uses the "
                                 "node's network: use node_network_filter")
        found = [Target(p.metadata.name, p.spec.node_name, p.metadata.uid) for p in pods]
    what = f"matching {spec.label_selector!r}" if spec.label_selector else spec.target
    if not found:
        raise ScenarioFailed(f"no {'Ready node' if spec.on_node else 'running pod'} {what}")
    if spec.instance_count and len(found) > spec.instance_count:
        found = random.SystemRandom().sample(found, spec.instance_count)
    return found


def core_pods(ctx: ScenarioContext, nodes: list[str]) -> list:
    """The pods running on these nodes (the blast radius of an interface set down)."""
    from kubernetes import client

    core = client.CoreV1Api(ctx.api_client)
    return [p for n in nodes for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={n}").items]


@register
class NetworkChaosNgPlugin(ScenarioPlugin):
    scenario_type = "network_chaos_ng_scenarios"
    short_name = "network filter"
    undo_functions = (delete_hog_pod, delete_network_rule)
    # iptables runs in the chaos pod, so the guard (no pods/exec) stops the pod instead: its TERM
    # trap deletes the rules (trap_undo.py). Deleting it any other way first would leave the rules
    # with nothing to delete them from.
    undo_needs_exec = (delete_hog_pod, delete_network_rule)
    guard_undo = {delete_hog_pod: stop_chaos_pod, delete_network_rule: stop_chaos_pod}
    parse_data = staticmethod(parse_network_chaos_ng)

    @staticmethod
    def describe(spec: FilterSpec) -> str:
        where = f"{spec.label_selector!r}" if spec.label_selector else spec.target or ",".join(spec.nodes)
        what = ",".join(map(str, spec.ports)) or "all ports"
        ways = "/".join(w for w, on in (("ingress", spec.ingress), ("egress", spec.egress)) if on)
        if spec.id == DOWN_ID:
            return (f"{spec.id}: {', '.join(spec.interfaces) or 'the default interface'} of {where} down for "
                    f"{spec.test_duration}s ({spec.execution})")
        if spec.id in SHAPING_IDS:
            shape = ", ".join(f"{k} {v}" for k, v in (("latency", spec.latency), ("loss", spec.loss and f"{spec.loss}%"),
                                                       ("bandwidth", spec.bandwidth)) if v)
            return f"{spec.id}: {shape} on {ways} of {where} for {spec.test_duration}s"
        return f"{spec.id}: drop {'/'.join(spec.protocols)} {what} {ways} of {where} for {spec.test_duration}s"

    def preview(self, spec: FilterSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.namespace)
        found = find_targets(client.CoreV1Api(ctx.api_client), spec)
        ifaces = ", ".join(spec.interfaces or [f"{n}: {','.join(i)}" for n, i in spec.node_interfaces]) or \
            "the default route's interface"
        if spec.id == DOWN_ID:  # everything on those nodes is cut off from the network meanwhile
            nodes = sorted({t.node for t in found})
            on_them = [f"{p.metadata.namespace}/{p.metadata.name}" for p in core_pods(ctx, nodes)]
            return [targets("nodes", nodes, f"a privileged chaos pod each; {ifaces} set down for "
                                            f"{spec.test_duration}s, then up"),
                    targets("interfaces", [f"{n}/{i}" for n in nodes for i in spec.interfaces or ("default",)],
                            "down, then up with its addresses and routes"),
                    targets("pods", on_them, "unreachable while the node's interface is down",
                            [name.split("/", 1)[0] for name in on_them])]
        change = "iptables rules"
        if spec.id in SHAPING_IDS:
            change = "a tc qdisc" if not spec.needs_netem else (
                "tc netem, or iptables NFQUEUE rules and netem-queue where the kernel has no netem"
                + (", and an htb qdisc" if spec.bandwidth else ""))
        out = [targets("nodes", sorted({t.node for t in found}),
                       f"a privileged chaos pod each; {change} on {ifaces} for {spec.test_duration}s")]
        if not spec.on_node:
            out.append(targets("pods", [f"{spec.namespace}/{t.name}" for t in found],
                               "traffic shaped" if spec.id in SHAPING_IDS else "traffic dropped", [spec.namespace]))
        return out

    def run(self, spec: FilterSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.namespace)
        core = client.CoreV1Api(ctx.api_client)
        found = find_targets(core, spec)
        ctx.log(f"{spec.id} on {', '.join(t.name for t in found)}", 0.05)
        details: dict[str, Any] = {"id": spec.id, "targets": [t.name for t in found], "rules": []}
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would change {len(found)} target(s)", {**details, "dry_run": True})
        if spec.id == DOWN_ID:
            return self._interfaces_down(ctx, core, spec, found, details)
        tag = f"krkn-tui:{ctx.rollback.run_uuid[:8]}"
        role = "chaos" if spec.id in SHAPING_IDS else "filter"
        pods: list[ChaosPod] = []
        for t in found:
            ctx.check_stop()
            pods.append(cp := ChaosPod.start(ctx, core, spec, t, role))
            node_ips = internal_ips(core, t.node) if spec.on_node else []
            if mechanism := cp.prepare_shaping(spec):
                details.setdefault("mechanism", {})[t.name] = mechanism
            ifaces = dict(spec.node_interfaces).get(t.name, spec.interfaces)
            for iface in ifaces or (cp.default_interface(node_ips),):
                if spec.id in SHAPING_IDS:
                    cp.shape_all(spec, iface, tag, details)
                    continue
                for chain, rule in rules(spec, iface, tag):
                    cp.change({"chain": chain, "rule": rule}, "iptables rule", [["iptables", "-I", chain, "1", *rule]],
                              details)
        ctx.log(f"{len(details['rules'])} changes in place; holding {spec.test_duration}s", 0.2)
        ctx.sleep(spec.test_duration)
        for cp in reversed(pods):
            cp.undo()
        ctx.sleep(spec.wait_duration)
        return Outcome("passed", f"{spec.id}: {len(details['rules'])} changes on {len(found)} target(s) for "
                                 f"{spec.test_duration}s", details)

    def _interfaces_down(self, ctx, core, spec: FilterSpec, found: list[Target], details: dict) -> Outcome:
        """krkn's node_interface_down: on each node, a timer in the chaos pod sets the interfaces
        down, and up again after `test_duration` (once down, no exec reaches the node: the timer
        is what brings it back, as in krkn); the run's undo then checks them up and adds back
        what going down dropped. `serial`: one node after the other; `parallel`: all at once."""
        batches = [[t] for t in found] if spec.execution == "serial" else [found]
        for batch in batches:
            pods: list[ChaosPod] = []
            for t in batch:
                ctx.check_stop()
                pods.append(cp := ChaosPod.start(ctx, core, spec, t, "iface-down", annotations=True))
                ifaces = spec.interfaces or (cp.default_interface(internal_ips(core, t.node)),)
                record = [interface_state(cp, dev) for dev in ifaces]
                marker = f"/tmp/krkn-tui-iface-{secrets.token_hex(3)}"  # .started, then .done by the timer
                link = {"tool": "link", "pod": cp.name, "container": cp.container, "node": t.node,
                        "interfaces": record, "wait": spec.test_duration + 300, "timer": marker,
                        "hold": cp.next_hold()}
                cp.versions.append(ctx.set_rollback_callable(delete_network_rule, RollbackContent(
                    resource_identifier=cp.name, namespace=spec.namespace, data=link), verb="set up", kind="interface"))
                cp.hold(link)  # the pod's trap sets them up too, if it is stopped before its timer ends
                downs = [["ip", "link", "set", dev, "down"] for dev in ifaces]
                ups = interface_up_commands(record)
                up, down = ("; ".join(" ".join(argv) for argv in cmds) for cmds in (ups, downs))
                # Detached, so the exec returns (and its answer gets out) before the link goes down.
                # iproute2's ip by its path: a busybox shell runs its own `ip` applet first, which
                # knows no `nodad`.
                down_sh, up_sh = ("; ".join(" ".join(['"$IP"', *argv[1:]]) for argv in cmds) for cmds in (downs, ups))
                # It waits out the test duration, or less once the undo's annotation shows.
                held = (f"end=$(($(date +%s) + {spec.test_duration})); while [ \"$(date +%s)\" -lt \"$end\" ] && "
                        f"! grep -qF {UP_ANNOTATION}= {ANNOTATIONS_FILE} 2>/dev/null; do sleep 1; done")
                timer = f"sleep 2; {down_sh}; {held}; {up_sh}"
                r = cp.exec(["sh", "-c", f"IP=$(for p in /usr/sbin/ip /sbin/ip /usr/bin/ip /bin/ip; do "
                                         f'[ -x "$p" ] && echo "$p" && break; done); '
                                         f": >{marker}.started; ({timer}; : >{marker}.done) >/dev/null 2>&1 </dev/null &"])
                said = f"{down}; after {spec.test_duration}s: {up}"
                ctx.audit("ip", node=t.node, target=t.name, command=said, exit_code=r.code)
                if not r.ok:
                    raise ScenarioFailed(f"setting {', '.join(ifaces)} of {t.name} down: {r.why()}", details)
                details["rules"].append({"target": t.name, "rule": said})
            ctx.log(f"{len(details['rules'])} interface changes in place; holding {spec.test_duration}s", 0.2)
            ctx.sleep(spec.test_duration + 2)
            for cp in pods:  # waits for its node to answer again, checks, completes
                ctx.restore(cp.versions[0])
            names = {t.node for t in batch}
            if not ctx.wait_until(lambda names=names: names <= set(ready_nodes(core, None)), 300.0, interval=2):
                raise ScenarioFailed(f"node(s) {', '.join(sorted(names))} not Ready within 300s after the "
                                     "interfaces came up", details)
            ctx.sleep(spec.recovery_time)
            for cp in pods:
                ctx.restore(cp.version)
        ctx.sleep(spec.wait_duration)
        return Outcome("passed", f"{spec.id}: {', '.join(spec.interfaces) or 'the default interface'} down on "
                                 f"{len(found)} node(s) for {spec.test_duration}s, up again", details)


def interface_state(cp: ChaosPod, dev: str) -> dict:
    """What `ip link set down` drops, read before: the interface's global addresses (IPv6 ones go)
    and its main-table routes (all go; the connected ones come back by themselves)."""
    def ip(*argv: str) -> str:
        r = cp.exec(["ip", "-o", *argv])
        if not r.ok:
            raise ScenarioFailed(f"ip -o {' '.join(argv)} on {cp.target.name}: {r.why()}")
        return r.stdout

    link = ip("link", "show", "dev", dev)
    if "UP" not in link.split("<", 1)[-1].split(">", 1)[0].split(","):
        raise ScenarioFailed(f"interface {dev} of node {cp.target.name} is already down: nothing to take down")
    addrs = [" ".join([w[w.index(fam) + 1], *(f for f in ("nodad", "noprefixroute") if f in w)])
             for line in ip("addr", "show", "dev", dev).splitlines()
             for fam in ("inet", "inet6") if (w := line.split()) and fam in w and "global" in w]
    routes = [[fam, " ".join(w for w in line.split() if w not in _ROUTE_FLAGS)]
              for fam in ("-4", "-6") for line in ip(fam, "route", "show", "dev", dev).splitlines() if line.strip()]
    routes.sort(key=lambda r: " via " in f" {r[1]} ")  # direct routes first: gateways need them
    for item in addrs + [r[1] for r in routes]:
        if not all(_TOKEN_RE.fullmatch(w) for w in item.split()):
            raise ScenarioFailed(f"interface {dev} of node {cp.target.name}: cannot restore {item!r} after")
    return {"dev": dev, "addrs": addrs, "routes": routes}


# ---- krkn's older node types: network_chaos_scenarios and ingress_node_scenarios ------------
# Both shape node interfaces with tc netem from a privileged Job; here they run as
# node_network_chaos does (the same chaos pod, bound to the node by nodeName as krkn's Job is,
# the same recorded rules and undo), so they share this module: one family, one runner.

OLD_PARAMS = ("latency", "loss", "bandwidth")  # krkn's order: serial runs one at a time in it
OLD_IMAGE = "quay.io/krkn-chaos/krkn:tools"  # krkn's default for both (built here from the network-chaos tree)
_LOSS_RE = re.compile(r"\d+(\.\d+)?\Z")


def _old_params(sec: Section) -> dict[str, str]:
    """latency, loss and bandwidth as krkn passes them to netem: loss is netem's percentage
    (krkn's files write 0.02 and '0.02'; netem reads 0.02%)."""
    sec.reject_unknown(OLD_PARAMS)
    out = {}
    for key in OLD_PARAMS:
        value = sec.raw(key)
        if value is None:
            continue
        if key == "loss" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = f"{value:g}"
        pattern, form = {"latency": (_LATENCY_RE, "a number followed by us, ms or s"),
                         "loss": (_LOSS_RE, "a percentage 0-100 without %"),
                         "bandwidth": (_BANDWIDTH_RE, "a number followed by bit, kbit, mbit, gbit or tbit")}[key]
        if not isinstance(value, str) or not pattern.match(value) or (key == "loss" and float(value) > 100):
            raise sec.error(key, f"expected {form}, got {describe(value)}")
        out[key] = value
    if not out:
        raise sec.error(None, "needs latency, loss or bandwidth")
    return out


def _old_specs(base: dict, params: dict[str, str], execution: str) -> list[FilterSpec]:
    """parallel: every parameter at once; serial: one spec per parameter, in krkn's order."""
    steps = [params] if execution == "parallel" else [{k: v} for k, v in params.items()]
    return [FilterSpec(**base, **{k: step.get(k) for k in OLD_PARAMS}) for step in steps]


def _node_names(sec: Section, key: str, value: list[str]) -> tuple[str, ...]:
    for name in value:
        if not _NAME_RE.match(name):
            raise sec.error(key, f"not a valid node name: {name!r}")
    return tuple(value)


def _image(sec: Section) -> str:
    image = sec.string("image", OLD_IMAGE)
    if not _IMAGE_RE.match(image):
        raise sec.error("image", f"not an image reference: {image!r}")
    return image


def parse_network_chaos(data: Any, file: str | Path) -> list[FilterSpec]:
    """krkn's network_chaos_scenarios file: `network_chaos:` with duration, node_name (comma
    separated) or label_selector (krkn's default: the masters) with instance_count, interfaces,
    execution (serial: each egress parameter alone in turn) and egress."""
    top = Section(data, file, what="a mapping with network_chaos")
    top.reject_unknown(("network_chaos",))
    sec = top.required_section("network_chaos")
    sec.reject_unknown(("duration", "node_name", "label_selector", "instance_count", "interfaces", "execution",
                        "egress", "image"))
    egress = sec.section("egress")
    params = _old_params(egress) if egress else {"bandwidth": "100mbit"}  # krkn's default
    names = sec.string("node_name")
    interfaces = sec.string_list("interfaces")
    for i, name in enumerate(interfaces):
        if not IFACE_RE.match(name):
            raise sec.error(join_field("interfaces", i), f"not an interface name: {name!r}")
    base = dict(id="node_network_chaos", image=_image(sec), test_duration=sec.integer("duration", 300, minimum=0),
                label_selector=None if names else check_selector(sec, "label_selector") or
                "node-role.kubernetes.io/master",
                instance_count=sec.integer("instance_count", 1, minimum=1), ingress=False, egress=True,
                interfaces=interfaces, nodes=_node_names(sec, "node_name", names.split(",")) if names else (),
                pin_by_name=True, file=Path(file), field=sec.path)
    return _old_specs(base, params, sec.choice("execution", ("serial", "parallel"), "serial"))


def parse_ingress_node(data: Any, file: str | Path) -> list[FilterSpec]:
    """krkn's ingress_node_scenarios file (its native plugin's format): a list of `id:
    network_chaos` entries whose `config` has node_interface_name ({node: [interfaces]}) or
    label_selector with instance_count, execution_type, network_params, test_duration,
    wait_duration. kubeconfig_path and kraken_config are krkn's own settings: the run's are used."""
    out = []
    for entry in section_entries(data, file, "", "ingress network chaos entries"):
        entry.reject_unknown(("id", "config"))
        kind = entry.string("id", required=True)
        if kind != "network_chaos":
            raise entry.error("id", f"unknown value {kind!r}: ingress_node_scenarios runs network_chaos "
                                    "(krkn's pod_network_scenarios steps are another type)")
        sec = entry.required_section("config")
        sec.reject_unknown(("node_interface_name", "label_selector", "instance_count", "execution_type",
                            "network_params", "test_duration", "wait_duration", "image"),
                           ignored=("kubeconfig_path", "kraken_config"))
        by_node: list[tuple[str, tuple[str, ...]]] = []
        mapping = sec.section("node_interface_name")
        for node in mapping.data if mapping else ():
            where = mapping.field(node) if mapping else ""
            if not isinstance(node, str) or not _NAME_RE.match(node):
                raise UserError(f"not a valid node name: {node!r}", file=file, field=where)
            ifaces = mapping.string_list(node) if mapping else ()
            for i, name in enumerate(ifaces):
                if not IFACE_RE.match(name):
                    raise UserError(f"not an interface name: {name!r}", file=file, field=join_field(where, i))
            by_node.append((node, ifaces))
        selector = None if by_node else check_selector(sec, "label_selector")
        if not by_node and selector is None:
            raise sec.error("label_selector", "needs node_interface_name or label_selector (krkn's rule)")
        params_sec = sec.required_section("network_params")
        base = dict(id="node_network_chaos", image=_image(sec), label_selector=selector,
                    test_duration=sec.integer("test_duration", 120, minimum=1),
                    wait_duration=sec.integer("wait_duration", 30, minimum=1),
                    instance_count=sec.integer("instance_count", 1, minimum=1), ingress=True, egress=False,
                    nodes=tuple(n for n, _ in by_node), node_interfaces=tuple(by_node), pin_by_name=True,
                    file=Path(file), field=sec.path)
        out += _old_specs(base, _old_params(params_sec), sec.choice("execution_type", ("serial", "parallel"),
                                                                     "parallel"))
    return out


@register
class NetworkChaosPlugin(NetworkChaosNgPlugin):
    scenario_type = "network_chaos_scenarios"
    short_name = "node egress netem"
    parse_data = staticmethod(parse_network_chaos)


@register
class IngressNodePlugin(NetworkChaosNgPlugin):
    scenario_type = "ingress_node_scenarios"
    short_name = "node ingress netem"
    parse_data = staticmethod(parse_ingress_node)
