"""network_chaos_ng_scenarios: `node_network_filter` and `pod_network_filter` drop a node's or a
pod's traffic for ports and protocols, ingress and/or egress, and `node_network_chaos` and
`pod_network_chaos` shape its egress (bandwidth; latency and loss by netem), for `test_duration`
seconds, as krkn's network_chaos_ng does: a privileged pod of krkn's network-chaos image on the
target's node (hostNetwork and hostPID for a node, hostPID for a pod) inserts iptables DROP rules
at the top of INPUT (`-i <interface>`) and OUTPUT, or builds krkn's tc tree (htb root 100:, class
100:1 at `bandwidth`, netem leaf 101:), in the node's network namespace or, through
`nsenter --net`, in the target pod's.

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
  pod.
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
# The chaos pod's undo is the hog pod's: delete it at once, already gone counts as done.
from .specs import Taint, check_namespace, check_selector, section_entries, taint_from_string

DEFAULT_IMAGE = "quay.io/krkn-chaos/krkn-network-chaos:latest"
FILTER_IDS = ("node_network_filter", "pod_network_filter")
SHAPING_IDS = ("node_network_chaos", "pod_network_chaos")
RUN_IDS = FILTER_IDS + SHAPING_IDS
# krkn's other network_chaos_ng modules, refused with the reason.
OTHER_IDS = {
    "node_interface_down": "an interface set down",
    "vmi_network_chaos": "KubeVirt virtual machine instances",
    "vmi_network_filter": "KubeVirt virtual machine instances",
}
PROTOCOLS = ("tcp", "udp")
_BASE_KEYS = ("id", "image", "wait_duration", "test_duration", "label_selector", "service_account", "taints",
              "namespace", "instance_count", "execution", "ingress", "egress", "target", "interfaces")
_FILTER_KEYS = _BASE_KEYS + ("ports", "protocols")
_SHAPING_KEYS = _BASE_KEYS + ("latency", "loss", "bandwidth", "force")
_LATENCY_RE = re.compile(r"(\d+)(us|ms|s)\Z")  # krkn's NetworkChaosConfig.validate
_BANDWIDTH_RE = re.compile(r"(\d+)(bit|kbit|mbit|gbit|tbit)\Z")
ROOT_HANDLE, CLASS_ID, NETEM_HANDLE = "100:", "100:1", "101:"  # krkn's tc tree
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
_IFACE_RE = re.compile(r"[A-Za-z0-9_.@:-]{1,15}\Z")
_IMAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*\Z")
START_TIMEOUT = 120.0


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
    # krkn's older types: nodes by name (each with its own interfaces, ingress_node_scenarios'
    # node_interface_name), and the chaos pod bound by nodeName as krkn's Job is (taints aside)
    nodes: tuple[str, ...] = ()
    node_interfaces: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pin_node: bool = False
    file: Path | None = None
    field: str = ""

    @property
    def on_node(self) -> bool:
        return self.id.startswith("node_")

    @property
    def needs_netem(self) -> bool:
        return bool(self.latency or self.loss)


QUEUE_PROGRAM = "/usr/bin/netem-queue"  # in the network-chaos image (localcluster/images/cmd/netem-queue)
# krkn's tc tree and its netem leaf; or, where the kernel has no netem, NFQUEUE rules to netem-queue.
NETEM, NFQUEUE = "netem", "nfqueue"


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
    sec.reject_unknown(_SHAPING_KEYS if shaping else _FILTER_KEYS)
    extra = _shaping(sec) if shaping else {}
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
        if not _IFACE_RE.match(name):
            raise sec.error(join_field("interfaces", i), f"not an interface name: {name!r}")
    image = sec.string("image", DEFAULT_IMAGE)
    if not _IMAGE_RE.match(image):
        raise sec.error("image", f"not an image reference: {image!r}")
    selector, target = check_selector(sec, "label_selector"), _name(sec, "target")
    if selector is None and target is None:
        raise sec.error("target", "needs label_selector or target (krkn's rule)")
    ingress, egress = sec.boolean("ingress", False), sec.boolean("egress", True)
    if not ingress and not egress:
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


def tc_commands(spec: FilterSpec, dev: str, netem: bool = True) -> list[list[str]]:
    """krkn's egress tree (get_build_tc_tree_commands): an htb root 100: with one class at
    `bandwidth` (krkn's 1gbit when unset) and, for latency or loss, a netem leaf 101: (krkn adds
    the leaf always; without latency and loss it would delay nothing, so it is left out; without
    netem in the kernel, `netem` is False and netem-queue delays instead)."""
    rate = spec.bandwidth or "1gbit"
    out = [["tc", "qdisc", "add", "dev", dev, "root", "handle", ROOT_HANDLE, "htb", "default", "1"],
           ["tc", "class", "add", "dev", dev, "parent", ROOT_HANDLE, "classid", CLASS_ID, "htb", "rate", rate]]
    if spec.needs_netem and netem:
        out.append(["tc", "qdisc", "add", "dev", dev, "parent", CLASS_ID, "handle", NETEM_HANDLE, "netem",
                    "delay", spec.latency or "0ms", "loss", f"{spec.loss or 0}%"])
    return out


def ingress_commands(spec: FilterSpec, dev: str, ifb: str, netem: bool = True) -> list[list[str]]:
    """krkn's get_ingress_shaping_commands: `dev`'s ingress redirected to an ifb device shaped by
    the same tree. krkn's catch-all classifier is matchall; this kernel has u32 (CONFIG_NET_CLS_
    MATCHALL is not set), and `u32 match u32 0 0` matches every packet as well. The ifb device is
    the run's own (krkn reuses ifb0, which another run or tool may hold)."""
    return [["ip", "link", "add", ifb, "type", "ifb"], ["ip", "link", "set", ifb, "up"],
            ["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
            ["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match",
             "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ifb],
            *tc_commands(spec, ifb, netem)]


# netem in a network namespace made for the probe alone: it goes with the probe's process
# (tc by its path: busybox's unshare would run its own tc applet first).
NETEM_PROBE = ["unshare", "-n", "/usr/sbin/tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]
NETEM_UNKNOWN = "qdisc kind is unknown"  # tc's words for a kernel without the qdisc


def queue_args(spec: FilterSpec, queue: int) -> list[str]:
    """netem-queue's command line for the spec's latency and loss (krkn's units are Go's)."""
    return [QUEUE_PROGRAM, "-queue", str(queue), "-delay", spec.latency or "0s", "-loss", spec.loss or "0"]


def queue_rules(spec: FilterSpec, interface: str, tag: str, queue: int) -> list[tuple[str, list[str]]]:
    """(chain, rule) pairs of the mangle table sending the interface's egress (POSTROUTING, where
    netem on the root would delay it, forwarded packets too) and ingress (PREROUTING, where the
    ifb redirect would) to `queue`; --queue-bypass lets packets through while no program holds it."""
    target = ["-m", "comment", "--comment", tag, "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]
    return [(chain, [flag, interface, *target]) for chain, flag, on in
            (("POSTROUTING", "-o", spec.egress), ("PREROUTING", "-i", spec.ingress)) if on]


# ---- the undo, written into the version files ----------------------------------------------


def delete_network_rule(content, api_client):
    """Rollback: delete exactly the recorded iptables rule (by its content) or tc root qdisc (by
    its device and handle) in the recorded network namespace, by exec in the chaos pod; one
    already gone (or a pod's namespace gone with its pod) is done. It carries its own exec: a
    version file imports nothing of krkn-tui."""
    import re

    import yaml
    from kubernetes import client
    from kubernetes.stream import stream

    data = content.data
    core = client.CoreV1Api(api_client)
    # Each (command showing it, text present when it is there, command deleting it), in order.
    steps: list[tuple[list[str], str, list[str]]]
    dev = str(data.get("dev"))
    if data.get("tool") in ("tc", "tc-ingress") and not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", dev):
        raise RuntimeError(f"refusing a recorded interface name: {dev!r}")
    if data.get("tool") == "tc":
        if data["handle"] != "100:":
            raise RuntimeError(f"refusing a recorded qdisc that is not krkn-tui's: handle {data['handle']!r}")
        steps = [(["tc", "qdisc", "show", "dev", dev, "root"], "qdisc htb 100: root",
                  ["tc", "qdisc", "del", "dev", dev, "root", "handle", "100:"])]
        what = f"tc qdisc 100: on {dev}"
    elif data.get("tool") == "tc-ingress":
        ifb = str(data["ifb"])
        if not re.fullmatch(r"kifb[0-9a-f]{6}", ifb):
            raise RuntimeError(f"refusing a recorded ifb device that is not krkn-tui's: {ifb!r}")
        steps = [(["tc", "qdisc", "show", "dev", dev, "ingress"], "qdisc ingress ffff:",
                  ["tc", "qdisc", "del", "dev", dev, "ingress"]),
                 (["ip", "-o", "link", "show"], f" {ifb}:", ["ip", "link", "del", ifb])]
        what = f"the ingress redirect of {dev} to {ifb}"
    elif data.get("table") == "mangle":  # netem-queue's NFQUEUE rule
        chain, rule = data["chain"], [str(a) for a in data["rule"]]
        if chain not in ("PREROUTING", "POSTROUTING") or rule[-5:-2] != ["-j", "NFQUEUE", "--queue-num"] or \
                rule[-1] != "--queue-bypass" or any(a.startswith("-") and a not in (
                    "-i", "-o", "-m", "--comment", "-j", "--queue-num", "--queue-bypass") for a in rule):
            raise RuntimeError(f"refusing a recorded rule that is not one of krkn-tui's NFQUEUE rules: {chain} {rule}")
        steps = [(["iptables", "-t", "mangle", "-C", chain] + rule, "",
                  ["iptables", "-t", "mangle", "-D", chain] + rule)]
        what = f"iptables -t mangle {chain} {' '.join(rule)}"
    else:
        chain, rule = data["chain"], [str(a) for a in data["rule"]]
        if chain not in ("INPUT", "OUTPUT") or rule[-2:] != ["-j", "DROP"] or any(a.startswith("-") and a not in (
                "-i", "-p", "--dport", "-m", "--state", "--comment", "-j") for a in rule):
            raise RuntimeError(f"refusing a recorded rule that is not one of krkn-tui's DROP rules: {chain} {rule}")
        steps = [(["iptables", "-C", chain] + rule, "", ["iptables", "-D", chain] + rule)]
        what = f"iptables {chain} {' '.join(rule)}"

    def run(argv):
        resp = stream(core.connect_get_namespaced_pod_exec, data["pod"], content.namespace,
                      container=data["container"], command=argv, stdin=False, stdout=True, stderr=True,
                      tty=False, _preload_content=False)
        try:
            resp.run_forever(timeout=60)
            out, err = resp.read_stdout() or "", resp.read_stderr() or ""
            status = yaml.safe_load(resp.read_channel(3) or "null")
        finally:
            resp.close()
        ok = isinstance(status, dict) and status.get("status") == "Success"
        return ok, out, " ".join((err or out).split()) or str(status)

    try:
        core.read_namespaced_pod(data["pod"], content.namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise RuntimeError(f"chaos pod {content.namespace}/{data['pod']} is gone: {what} "
                               f"may still be in place on node {data['node']}") from None
        raise
    prefix = []
    if data.get("pod_uid"):  # the target pod's namespace, found again by its UID
        uid = data["pod_uid"]
        if not re.fullmatch(r"[0-9a-f-]{36}", uid):
            raise RuntimeError(f"not a pod UID: {uid!r}")
        ok, out, why = run(["sh", "-c", f"grep -l -e pod{uid} -e pod{uid.replace('-', '_')} /proc/[0-9]*/cgroup "
                                        "2>/dev/null | head -n 1"])
        pid = out.strip().split("/")[2] if out.strip().count("/") >= 3 else ""
        if not pid.isdigit():
            return  # no process of that pod on the node: its network namespace, and the rule, are gone
        prefix = ["nsenter", "--target", pid, "--net", "--"]
    for check, present, delete in steps:
        ok, out, _ = run(prefix + check)
        if not ok or present not in out:
            continue  # not there (deleted already)
        ok, _, why = run(prefix + delete)
        if not ok:
            raise RuntimeError(f"deleting {what} on node {data['node']}: {why}")
    # The mangle table and base chain iptables made for the rule, once nothing else is in them.
    made = [m for m in data.get("creates") or [] if m in ("table", "chain")] if data.get("table") == "mangle" else []
    for kind, name in (("chain", [data.get("chain")]), ("table", [])):
        if kind not in made:
            continue
        ok, out, _ = run(prefix + ["nft", "list", kind, "ip", "mangle", *name])
        inner = [line.strip() for line in out.splitlines()[1:-1] if line.strip()]  # within "table ip mangle {"
        empty = all(line.startswith(("chain ", "type ", "}")) for line in inner) if kind == "chain" else not inner
        if ok and empty:
            ok, _, why = run(prefix + ["nft", "delete", kind, "ip", "mangle", *name])
            if not ok:
                raise RuntimeError(f"deleting the empty {kind} ip mangle {' '.join(name)} on node {data['node']}: {why}")


# ---- running it ----------------------------------------------------------------------------


@dataclass
class Target:
    name: str  # node name, or pod name
    node: str
    pod_uid: str | None = None  # a pod target's


def chaos_pod(name: str, container: str, spec: FilterSpec, node: str, run_uuid: str) -> dict:
    """krkn's network-chaos.j2, as it renders it."""
    pod_spec: dict = {
        "hostPID": True,
        **({"nodeName": node} if spec.pin_node else {"nodeSelector": {"kubernetes.io/hostname": node}}),
        "terminationGracePeriodSeconds": 0,  # krkn leaves the default; the undo deletes at once anyway
        "containers": [{"name": container, "imagePullPolicy": "Always", "image": spec.image,
                        "securityContext": {"privileged": True}}],
    }
    if spec.on_node:
        pod_spec["hostNetwork"] = True
    if spec.service_account:
        pod_spec["serviceAccountName"] = spec.service_account
    if spec.taints:
        pod_spec["tolerations"] = [
            {"key": t.key, "effect": t.effect,
             **({"operator": "Equal", "value": t.value} if t.value is not None else {"operator": "Exists"})}
            for t in spec.taints]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": spec.namespace,
                         "labels": {"app": "krkn-network-chaos", "krkn-tui/run": run_uuid}},
            "spec": pod_spec}


def _ready_nodes(core, selector: str | None) -> list[str]:
    nodes = core.list_node(label_selector=selector or None).items
    return sorted(n.metadata.name for n in nodes
                  if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []))


def find_targets(core, spec: FilterSpec) -> list[Target]:
    """krkn's get_node_targets / get_pod_targets, then `instance_count` of them at random."""
    if spec.nodes:
        ready = _ready_nodes(core, None)
        for name in spec.nodes:
            if name not in ready:
                raise ScenarioFailed(f"node {name} not found or not Ready")
        return [Target(n, n) for n in spec.nodes]  # krkn's node_name list: all of them
    if spec.on_node:
        names = _ready_nodes(core, spec.label_selector)
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


def _internal_ips(core, node: str) -> list[str]:
    return [a.address for a in core.read_node(node).status.addresses or [] if a.type == "InternalIP"]


def _exec(ctx: ScenarioContext, namespace: str, pod: str, container: str, argv: list[str]):
    from ..kube.podexec import exec_in_pod

    return exec_in_pod(ctx.api_client, namespace, pod, container, argv)


@register
class NetworkChaosNgPlugin(ScenarioPlugin):
    scenario_type = "network_chaos_ng_scenarios"
    short_name = "network filter"
    undo_functions = (delete_hog_pod, delete_network_rule)
    # iptables runs in the chaos pod, so the guard (no pods/exec) leaves the rules to the operator,
    # and the pod too: deleting it first would leave the rules with nothing to delete them from.
    undo_needs_exec = (delete_hog_pod, delete_network_rule)
    parse_data = staticmethod(parse_network_chaos_ng)

    @staticmethod
    def describe(spec: FilterSpec) -> str:
        where = f"{spec.label_selector!r}" if spec.label_selector else spec.target or ",".join(spec.nodes)
        what = ",".join(map(str, spec.ports)) or "all ports"
        ways = "/".join(w for w, on in (("ingress", spec.ingress), ("egress", spec.egress)) if on)
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
        tag = f"krkn-tui:{ctx.rollback.run_uuid[:8]}"
        pods: list[tuple[str, Path | None]] = []
        rule_versions: list[Path | None] = []
        for t in found:
            ctx.check_stop()
            pod, container = self._start_pod(ctx, core, spec, t, pods)
            prefix = self._netns_prefix(ctx, spec, t, pod, container)
            node_ips = _internal_ips(core, t.node) if spec.on_node else []
            where = {"pod": pod, "container": container, "node": t.node, "pod_uid": t.pod_uid}
            mechanism = self._mechanism(ctx, spec, t, pod, container) if spec.needs_netem else NETEM
            queue = self._start_queue(ctx, spec, t, pod, container, prefix) if mechanism == NFQUEUE else 0
            if spec.needs_netem:
                details.setdefault("mechanism", {})[t.name] = mechanism

            def change(data: dict, kind: str, argvs: list[list[str]], said: str) -> None:
                ctx.check_stop()
                rule_versions.append(ctx.set_rollback_callable(
                    delete_network_rule, RollbackContent(resource_identifier=pod, namespace=spec.namespace,
                                                         data={**where, **data}), verb="delete", kind=kind))
                for argv in argvs:
                    r = _exec(ctx, spec.namespace, pod, container, prefix + argv)
                    ctx.audit(argv[0], node=t.node, target=t.name, command=" ".join(argv),
                              exit_code=r.code)
                    if not r.ok:
                        raise ScenarioFailed(f"{' '.join(argv[:3])} on {t.name}: {r.why()}", details)
                details["rules"].append({"target": t.name, "rule": said})

            ifaces = dict(spec.node_interfaces).get(t.name, spec.interfaces)
            for iface in ifaces or (self._default_interface(ctx, spec, pod, container, prefix, node_ips),):
                if spec.id in SHAPING_IDS:
                    netem = mechanism == NETEM
                    # htb for bandwidth, and netem's leaf where the kernel has it (krkn's tree)
                    tree = netem or spec.bandwidth is not None
                    if spec.egress and tree:
                        self._check_qdisc(ctx, spec, t, pod, container, prefix, iface, "root")
                        cmds = tc_commands(spec, iface, netem)
                        change({"tool": "tc", "dev": iface, "handle": ROOT_HANDLE, "mechanism": mechanism},
                               "tc qdisc", cmds, "; ".join(" ".join(c) for c in cmds))
                    if spec.ingress and tree:
                        self._check_qdisc(ctx, spec, t, pod, container, prefix, iface, "ingress")
                        ifb = f"kifb{secrets.token_hex(3)}"
                        cmds = ingress_commands(spec, iface, ifb, netem)
                        change({"tool": "tc-ingress", "dev": iface, "ifb": ifb, "mechanism": mechanism},
                               "tc ingress redirect", cmds, "; ".join(" ".join(c) for c in cmds))
                    for chain, rule in queue_rules(spec, iface, tag, queue) if not netem else ():
                        made = self._nft_made(ctx, spec, pod, container, prefix, chain)
                        change({"table": "mangle", "chain": chain, "rule": rule, "mechanism": mechanism,
                                "program": queue_args(spec, queue), "creates": made}, "iptables NFQUEUE rule",
                               [["iptables", "-t", "mangle", "-I", chain, "1", *rule]],
                               f"-t mangle {chain} {' '.join(rule)}")
                    continue
                for chain, rule in rules(spec, iface, tag):
                    change({"chain": chain, "rule": rule}, "iptables rule", [["iptables", "-I", chain, "1", *rule]],
                           f"{chain} {' '.join(rule)}")
        ctx.log(f"{len(details['rules'])} changes in place; holding {spec.test_duration}s", 0.2)
        ctx.sleep(spec.test_duration)
        for version in reversed(rule_versions):
            ctx.restore(version)
        for _, version in pods:
            ctx.restore(version)
        ctx.sleep(spec.wait_duration)
        return Outcome("passed", f"{spec.id}: {len(details['rules'])} changes on {len(found)} target(s) for "
                                 f"{spec.test_duration}s", details)

    @staticmethod
    def _mechanism(ctx, spec: FilterSpec, t: Target, pod: str, container: str) -> str:
        """netem where the node's kernel has it, else nfqueue: probed in a network namespace made
        for the probe (qdisc kinds are the kernel's; the namespace and its qdisc go with it)."""
        r = _exec(ctx, spec.namespace, pod, container, NETEM_PROBE)
        if r.ok:
            return NETEM
        if NETEM_UNKNOWN in r.stderr + r.stdout:
            ctx.log(f"node {t.node}: the kernel has no tc netem; latency and loss through NFQUEUE (netem-queue)", 0.1)
            return NFQUEUE
        raise ScenarioFailed(f"probing tc netem on node {t.node}: {r.why()}")

    @staticmethod
    def _nft_made(ctx, spec: FilterSpec, pod: str, container: str, prefix: list[str], chain: str) -> list[str]:
        """What inserting into mangle `chain` creates besides the rule (iptables-nft makes the table
        and the base chain on first use): recorded, so the undo removes them once empty."""
        if _exec(ctx, spec.namespace, pod, container, prefix + ["nft", "list", "chain", "ip", "mangle", chain]).ok:
            return []
        return ["chain"] if _exec(ctx, spec.namespace, pod, container,
                                  prefix + ["nft", "list", "table", "ip", "mangle"]).ok else ["table", "chain"]

    @staticmethod
    def _start_queue(ctx, spec: FilterSpec, t: Target, pod: str, container: str, prefix: list[str]) -> int:
        """netem-queue in the target's network namespace, in the background of the chaos pod (it
        ends with the pod); waits until it holds its queue, before any rule sends packets there."""
        import shlex

        queue = 1024 + secrets.randbelow(64000)
        log = f"/tmp/netem-queue-{queue}.log"
        argv = prefix + queue_args(spec, queue)
        r = _exec(ctx, spec.namespace, pod, container,
                  ["sh", "-c", f"{shlex.join(argv)} >{log} 2>&1 </dev/null &"])
        ctx.audit("netem-queue", node=t.node, target=t.name, command=" ".join(argv), exit_code=r.code)
        said: list[str] = []

        def bound() -> bool:
            out = _exec(ctx, spec.namespace, pod, container, ["cat", log]).stdout
            said[:] = [out.strip()]
            if "netem-queue:" in out:  # its error line: it has ended
                raise ScenarioFailed(f"netem-queue on {t.name}: {' '.join(out.split())}")
            return f"bound queue {queue}" in out

        if not r.ok or not ctx.wait_until(bound, 30, interval=0.2):
            raise ScenarioFailed(f"netem-queue did not start on {t.name}: {r.why() if not r.ok else said}")
        return queue

    @staticmethod
    def _check_qdisc(ctx, spec: FilterSpec, t: Target, pod: str, container: str, prefix: list[str],
                     iface: str, where: str) -> None:
        """krkn's node_qdisc_is_simple: another tool's htb, netem or clsact at the root (or any
        ingress qdisc) is not replaced (krkn goes on with `force`; here `force` does not let one be
        taken over, because the undo deletes it)."""
        r = _exec(ctx, spec.namespace, pod, container, prefix + ["tc", "qdisc", "show", "dev", iface, where])
        lines = [line.lower() for line in r.stdout.splitlines() if line.strip()]
        taken = lines if where == "ingress" else [
            line for line in lines if len(lines) != 1 or any(k in line for k in ("htb", "netem", "clsact", "tbf"))]
        if not r.ok or taken:
            raise ScenarioFailed(f"{iface} of {t.name} already has a {where} qdisc of its own "
                                 f"({'; '.join(lines) or r.why()}): not replacing it")

    def _start_pod(self, ctx, core, spec: FilterSpec, t: Target, pods: list) -> tuple[str, str]:
        kind = "node" if spec.on_node else "pod"
        name = f"{kind}-{'chaos' if spec.id in SHAPING_IDS else 'filter'}-{secrets.token_hex(3)}"
        container = "fedora" if spec.on_node else f"fedora-container-{secrets.token_hex(3)}"
        pods.append((name, ctx.set_rollback_callable(
            delete_hog_pod, RollbackContent(resource_identifier=name, namespace=spec.namespace),
            verb="delete", kind="Pod")))
        core.create_namespaced_pod(spec.namespace, chaos_pod(name, container, spec, t.node, ctx.rollback.run_uuid))
        ctx.audit("create_pod", namespace=spec.namespace, name=name, node=t.node)

        def running():
            p = core.read_namespaced_pod(name, spec.namespace)
            if p.status.phase in ("Failed", "Succeeded"):
                raise ScenarioFailed(f"chaos pod {spec.namespace}/{name} ended ({p.status.phase})")
            return p.status.phase == "Running"

        if not ctx.wait_until(running, START_TIMEOUT, interval=0.5):
            raise ScenarioFailed(f"chaos pod {spec.namespace}/{name} not running after {START_TIMEOUT:g}s on {t.node}")
        return name, container

    @staticmethod
    def _netns_prefix(ctx, spec: FilterSpec, t: Target, pod: str, container: str) -> list[str]:
        """nsenter into the target pod's network namespace (by its UID in the node's cgroups)."""
        if spec.on_node:
            return []
        uid = t.pod_uid or ""
        if not re.fullmatch(r"[0-9a-f-]{36}", uid):
            raise ScenarioFailed(f"pod {spec.namespace}/{t.name} has no usable UID: {uid!r}")
        r = _exec(ctx, spec.namespace, pod, container,
                  ["sh", "-c", f"grep -l -e pod{uid} -e pod{uid.replace('-', '_')} /proc/[0-9]*/cgroup 2>/dev/null"])
        pids = [line.split("/")[2] for line in r.stdout.split() if line.count("/") >= 3]
        if not pids:
            raise ScenarioFailed(f"no process of pod {spec.namespace}/{t.name} found on node {t.node}")
        return ["nsenter", "--target", pids[0], "--net", "--"]

    @staticmethod
    def _default_interface(ctx, spec: FilterSpec, pod: str, container: str, prefix: list[str],
                           node_ips: list[str]) -> str:
        """The default route's interface (krkn's); a node without a default route (the local
        cluster's real node) has its InternalIP's interface instead."""
        r = _exec(ctx, spec.namespace, pod, container, prefix + ["ip", "-o", "route", "show", "default"])
        words = r.stdout.split()
        iface = words[words.index("dev") + 1] if "dev" in words[:-1] else ""
        if r.ok and not iface and node_ips:
            addrs = _exec(ctx, spec.namespace, pod, container, prefix + ["ip", "-o", "-4", "addr", "show"])
            for line in addrs.stdout.splitlines():
                fields = line.split()
                if len(fields) > 3 and fields[2] == "inet" and fields[3].split("/")[0] in node_ips:
                    iface = fields[1]
        if not r.ok or not _IFACE_RE.match(iface):
            raise ScenarioFailed(f"no default route's interface in {'the node' if spec.on_node else 'the pod'}"
                                 f" ({r.why() if not r.ok else r.stdout.strip() or 'no default route'}); "
                                 "name `interfaces`")
        return iface


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
        if not _IFACE_RE.match(name):
            raise sec.error(join_field("interfaces", i), f"not an interface name: {name!r}")
    base = dict(id="node_network_chaos", image=_image(sec), test_duration=sec.integer("duration", 300, minimum=0),
                label_selector=None if names else check_selector(sec, "label_selector") or
                "node-role.kubernetes.io/master",
                instance_count=sec.integer("instance_count", 1, minimum=1), ingress=False, egress=True,
                interfaces=interfaces, nodes=_node_names(sec, "node_name", names.split(",")) if names else (),
                pin_node=True, file=Path(file), field=sec.path)
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
                if not _IFACE_RE.match(name):
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
                    nodes=tuple(n for n, _ in by_node), node_interfaces=tuple(by_node), pin_node=True,
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
