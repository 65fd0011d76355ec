"""network_chaos_ng_scenarios: `node_network_filter` and `pod_network_filter` drop a node's or a
pod's traffic for ports and protocols, ingress and/or egress, and `node_network_chaos` and
`pod_network_chaos` shape its egress (bandwidth; latency and loss by netem), for `test_duration`
seconds, as krkn's network_chaos_ng does: a privileged pod of krkn's network-chaos image on the
target's node (hostNetwork and hostPID for a node, hostPID for a pod) inserts iptables DROP rules
at the top of INPUT (`-i <interface>`) and OUTPUT, or builds krkn's tc tree (htb root 100:, class
100:1 at `bandwidth`, netem leaf 101:), in the node's network namespace or, through
`nsenter --net`, in the target pod's.

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
  latency or loss on a node of the local cluster whose kernel lacks CONFIG_NET_SCH_NETEM is
  refused before any change, in one line naming the option; ingress goes through the run's own
  ifb device (krkn reuses ifb0) with a u32 catch-all (krkn's matchall is not in this kernel);
  another tool's root or ingress qdisc on the interface is never replaced (the undo deletes root
  100:, or the ingress qdisc and the ifb device, recorded before they are added).
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


def tc_commands(spec: FilterSpec, dev: str) -> list[list[str]]:
    """krkn's egress tree (get_build_tc_tree_commands): an htb root 100: with one class at
    `bandwidth` (krkn's 1gbit when unset) and, for latency or loss, a netem leaf 101: (krkn adds
    the leaf always; without latency and loss it would delay nothing, so it is left out)."""
    rate = spec.bandwidth or "1gbit"
    out = [["tc", "qdisc", "add", "dev", dev, "root", "handle", ROOT_HANDLE, "htb", "default", "1"],
           ["tc", "class", "add", "dev", dev, "parent", ROOT_HANDLE, "classid", CLASS_ID, "htb", "rate", rate]]
    if spec.needs_netem:
        out.append(["tc", "qdisc", "add", "dev", dev, "parent", CLASS_ID, "handle", NETEM_HANDLE, "netem",
                    "delay", spec.latency or "0ms", "loss", f"{spec.loss or 0}%"])
    return out


def ingress_commands(spec: FilterSpec, dev: str, ifb: str) -> list[list[str]]:
    """krkn's get_ingress_shaping_commands: `dev`'s ingress redirected to an ifb device shaped by
    the same tree. krkn's catch-all classifier is matchall; this kernel has u32 (CONFIG_NET_CLS_
    MATCHALL is not set), and `u32 match u32 0 0` matches every packet as well. The ifb device is
    the run's own (krkn reuses ifb0, which another run or tool may hold)."""
    return [["ip", "link", "add", ifb, "type", "ifb"], ["ip", "link", "set", ifb, "up"],
            ["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
            ["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match",
             "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ifb],
            *tc_commands(spec, ifb)]


NETEM_OPTION = "CONFIG_NET_SCH_NETEM"


def netem_missing(node, config_gz: Path = Path("/proc/config.gz")) -> str | None:
    """Why netem cannot run on `node`, when that is known before any change: a node of the local
    cluster (labelled krkn-tui.io/node-kind) runs this machine's kernel, whose build options are
    readable here. Elsewhere None: krkn's tc command says so itself."""
    import gzip
    import os

    labels = node.metadata.labels or {}
    kernel = getattr(node.status.node_info, "kernel_version", None) if node.status else None
    if "krkn-tui.io/node-kind" not in labels or kernel != os.uname().release:
        return None
    try:
        config = gzip.decompress(config_gz.read_bytes()).decode(errors="replace").splitlines()
    except OSError:
        return None
    if f"# {NETEM_OPTION} is not set" in config or not any(line.startswith(f"{NETEM_OPTION}=") for line in config):
        return (f"tc netem (latency, loss) cannot run on node {node.metadata.name}: its kernel {kernel} has "
                f"{NETEM_OPTION} not set ({config_gz})")
    return None


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
        "nodeSelector": {"kubernetes.io/hostname": node},
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
        where = f"{spec.label_selector!r}" if spec.label_selector else spec.target
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
        ifaces = ", ".join(spec.interfaces) or "the default route's interface"
        out = [targets("nodes", sorted({t.node for t in found}),
                       f"a privileged chaos pod each; {'a tc qdisc' if spec.id in SHAPING_IDS else 'iptables rules'} "
                       f"on {ifaces} for {spec.test_duration}s")]
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
        if spec.needs_netem:  # refused before any change where the node's kernel is known to lack it
            for node in sorted({t.node for t in found}):
                why = netem_missing(core.read_node(node))
                if why:
                    raise ScenarioFailed(why, details)
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

            for iface in spec.interfaces or (self._default_interface(ctx, spec, pod, container, prefix, node_ips),):
                if spec.id in SHAPING_IDS:
                    if spec.egress:
                        self._check_qdisc(ctx, spec, t, pod, container, prefix, iface, "root")
                        cmds = tc_commands(spec, iface)
                        change({"tool": "tc", "dev": iface, "handle": ROOT_HANDLE}, "tc qdisc", cmds,
                               "; ".join(" ".join(c) for c in cmds))
                    if spec.ingress:
                        self._check_qdisc(ctx, spec, t, pod, container, prefix, iface, "ingress")
                        ifb = f"kifb{secrets.token_hex(3)}"
                        cmds = ingress_commands(spec, iface, ifb)
                        change({"tool": "tc-ingress", "dev": iface, "ifb": ifb}, "tc ingress redirect", cmds,
                               "; ".join(" ".join(c) for c in cmds))
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
