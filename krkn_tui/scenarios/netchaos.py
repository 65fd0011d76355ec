"""What the network chaos types share (network_chaos_ng's filters, shaping and interfaces set
down; pod_network_scenarios' outage and shaping): krkn's privileged chaos pod on the target's
node (krkn's network-chaos.j2), the target's network namespace (the node's, or a pod's through
`nsenter --net`, found by its UID in the node's cgroups), krkn's htb tree and ifb redirect, each
change recorded in a version file exactly as applied before it is applied, and the undo that
deletes it by its content. Latency and loss where the node's kernel has no netem (probed in a
throwaway network namespace) go through the image's netem-queue program, fed by mangle-table
NFQUEUE rules with --queue-bypass."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..rollback import RollbackContent
from .base import ScenarioContext, ScenarioFailed
from .krkn_pods import delete_hog_pod
# The chaos pod's undo is the hog pod's: delete it at once, already gone counts as done.
from .specs import Taint
from .trap_undo import HOLD_GRACE, POD, add_argv, hold_command, network_script

ROOT_HANDLE, CLASS_ID = "100:", "100:1"  # krkn's tc tree
NETEM_HANDLE = "101:"  # krkn's netem leaf, under CLASS_ID
IFACE_RE = re.compile(r"[A-Za-z0-9_.@:-]{1,15}\Z")
START_TIMEOUT = 120.0

QUEUE_PROGRAM = "/usr/bin/netem-queue"  # in the network-chaos image (localcluster/images/cmd/netem-queue)
# krkn's tc tree and its netem leaf; or, where the kernel has no netem, NFQUEUE rules to netem-queue.
NETEM, NFQUEUE = "netem", "nfqueue"
# netem in a network namespace made for the probe alone: it goes with the probe's process
# (tc by its path: busybox's unshare would run its own tc applet first).
NETEM_PROBE = ["unshare", "-n", "/usr/sbin/tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]
NETEM_UNKNOWN = "qdisc kind is unknown"  # tc's words for a kernel without the qdisc
# Where a chaos pod reads its own annotations (node_interface_down's timer: the undo's
# krkn-tui.io/interfaces-up asks it to set the interfaces up before its time).
ANNOTATIONS_FILE = "/etc/krkn-tui-pod/annotations"
UP_ANNOTATION = "krkn-tui.io/interfaces-up"  # written literally in delete_network_rule (a version file's code)


class ChaosSpec(Protocol):
    """What the chaos pod is built from (a network_chaos_ng or pod_network_scenarios entry)."""
    @property
    def namespace(self) -> str: ...

    @property
    def image(self) -> str: ...

    @property
    def service_account(self) -> str | None: ...

    @property
    def taints(self) -> tuple[Taint, ...]: ...

    @property
    def on_node(self) -> bool: ...


def htb_commands(dev: str, rate: str) -> list[list[str]]:
    """krkn's egress tree (get_build_tc_tree_commands): an htb root 100: with one class at `rate`;
    a leaf goes under CLASS_ID."""
    return [["tc", "qdisc", "add", "dev", dev, "root", "handle", ROOT_HANDLE, "htb", "default", "1"],
            ["tc", "class", "add", "dev", dev, "parent", ROOT_HANDLE, "classid", CLASS_ID, "htb", "rate", rate]]


def ifb_redirect_commands(dev: str, ifb: str) -> list[list[str]]:
    """krkn's get_ingress_shaping_commands: `dev`'s ingress redirected to an ifb device, which
    the caller shapes. krkn's catch-all classifier is matchall; this kernel has u32 (CONFIG_NET_CLS_
    MATCHALL is not set), and `u32 match u32 0 0` matches every packet as well. The ifb device is
    the run's own (krkn reuses ifb0, which another run or tool may hold)."""
    return [["ip", "link", "add", ifb, "type", "ifb"], ["ip", "link", "set", ifb, "up"],
            ["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
            ["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "prio", "1", "u32", "match",
             "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", ifb]]


class ShapeSpec(Protocol):
    """What the shaping is built from (loss: a percentage without %)."""
    @property
    def bandwidth(self) -> str | None: ...

    @property
    def latency(self) -> str | None: ...

    @property
    def loss(self) -> str | None: ...

    @property
    def ingress(self) -> bool: ...

    @property
    def egress(self) -> bool: ...


def tree_commands(spec: ShapeSpec, dev: str, netem: bool = True) -> list[list[str]]:
    """krkn's tree (get_build_tc_tree_commands): htb at `bandwidth` (krkn's 1gbit when unset)
    and, for latency or loss, a netem leaf 101: (krkn adds the leaf always; without latency and
    loss it would delay nothing, so it is left out; without netem in the kernel, `netem` is False
    and netem-queue delays instead)."""
    out = htb_commands(dev, spec.bandwidth or "1gbit")
    if (spec.latency or spec.loss) and netem:
        out.append(["tc", "qdisc", "add", "dev", dev, "parent", CLASS_ID, "handle", NETEM_HANDLE, "netem",
                    "delay", spec.latency or "0ms", "loss", f"{spec.loss or 0}%"])
    return out


def queue_args(spec: ShapeSpec, queue: int) -> list[str]:
    """netem-queue's command line for the spec's latency and loss (krkn's units are Go's)."""
    return [QUEUE_PROGRAM, "-queue", str(queue), "-delay", spec.latency or "0s", "-loss", spec.loss or "0"]


def queue_rules(spec: ShapeSpec, interface: str, tag: str, queue: int) -> list[tuple[str, list[str]]]:
    """(chain, rule) pairs of the mangle table sending the interface's egress (POSTROUTING, where
    netem on the root would delay it, forwarded packets too) and ingress (PREROUTING, where the
    ifb redirect would) to `queue`; --queue-bypass lets packets through while no program holds it."""
    target = ["-m", "comment", "--comment", tag, "-j", "NFQUEUE", "--queue-num", str(queue), "--queue-bypass"]
    return [(chain, [flag, interface, *target]) for chain, flag, on in
            (("POSTROUTING", "-o", spec.egress), ("PREROUTING", "-i", spec.ingress)) if on]


# ---- the undo, written into the version files ----------------------------------------------


def delete_network_rule(content, api_client):
    """Rollback: delete exactly the recorded iptables rule (by its content; a mangle NFQUEUE rule
    also the mangle table and chain iptables made for it, once empty) or tc root qdisc (by its
    device and handle) in the recorded network namespace, by exec in the chaos pod; one
    already gone (or a pod's namespace gone with its pod) is done. For interfaces set down
    (node_interface_down): once the node answers again (its own timer sets them up after the
    test duration; until then no exec reaches it), set each up and add back its recorded
    addresses and routes (`ip link set down` drops the routes through it and its IPv6 global
    addresses); one already there is done. Once done, its copy in the chaos pod's own undo list
    (`hold`, trap_undo.py) goes, so the pod's TERM trap finds nothing left. It carries its own
    exec: a version file imports nothing of krkn-tui."""
    import re
    import time

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
    elif data.get("tool") == "link":
        # Each recorded interface: set up, then its addresses, then its routes (direct ones first).
        token = re.compile(r"[A-Za-z0-9_.:/]+")
        links: list[list[str]] = []
        for item in data["interfaces"]:
            dev = str(item["dev"])
            if not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", dev):
                raise RuntimeError(f"refusing a recorded interface name: {dev!r}")
            links.append(["ip", "link", "set", dev, "up"])
            for addr in item["addrs"]:  # the address, then its flags kept (nodad, noprefixroute)
                words = str(addr).split()
                if not words or not all(token.fullmatch(w) for w in words) or \
                        not set(words[1:]) <= {"nodad", "noprefixroute"}:
                    raise RuntimeError(f"refusing a recorded address: {addr!r}")
                links.append(["ip", "addr", "add", *words, "dev", dev])
            for family, route in item["routes"]:
                words = str(route).split()
                if family not in ("-4", "-6") or not words or not all(token.fullmatch(w) for w in words):
                    raise RuntimeError(f"refusing a recorded route: {family} {route!r}")
                links.append(["ip", family, "route", "add", *words, "dev", dev])
        what = f"interface(s) {', '.join(str(i['dev']) for i in data['interfaces'])}"
        timer = str(data.get("timer") or "")  # its marker files (files written before have none)
        if timer and not re.fullmatch(r"/tmp/krkn-tui-iface-[0-9a-f]{6}", timer):
            raise RuntimeError(f"refusing a recorded timer: {timer!r}")
    else:
        chain, rule = data["chain"], [str(a) for a in data["rule"]]
        if chain not in ("INPUT", "OUTPUT") or rule[-2:] != ["-j", "DROP"] or any(a.startswith("-") and a not in (
                "-i", "-o", "-p", "--dport", "-m", "--state", "--comment", "-j") for a in rule):
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

    def forget():  # the pod's own copy of this undo (trap_undo.py): done, so its trap skips it
        if re.fullmatch(r"[0-9]{4}", str(data.get("hold"))):
            run(["rm", "-f", f"/tmp/krkn-tui-undo/{data['hold']}"])

    try:
        core.read_namespaced_pod(data["pod"], content.namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise RuntimeError(f"chaos pod {content.namespace}/{data['pod']} is gone: {what} "
                               f"may still be in place on node {data['node']}") from None
        raise
    if data.get("tool") == "link":
        # The node's timer also sets them up once this annotation shows in the pod's annotations
        # file (its kubelet keeps that current while it reaches the API server; a stop need not
        # wait out the test duration). A node cut off from the API server keeps to its timer.
        core.patch_namespaced_pod(data["pod"], content.namespace,
                                  {"metadata": {"annotations": {"krkn-tui.io/interfaces-up": "now"}}})
        deadline, why = time.monotonic() + min(float(data.get("wait", 300)), 3600.0), ""
        # The node is out of reach until its interfaces are up again; and its timer, once started,
        # is let run to its end (deleting the pod next must not cut it between down and up).
        ready = (["sh", "-c", f"test ! -e {timer}.started || test -e {timer}.done"] if timer
                 else ["ip", "-o", "link", "show"])
        while True:
            try:
                ok, _, why = run(ready)
                if ok:
                    break
            except Exception as exc:  # the API server cannot reach the kubelet: retry
                why = " ".join(str(exc).split())[:200]
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {data['node']} not reachable through its chaos pod: {what} "
                                   f"may still be down ({why})")
            time.sleep(2)
        for argv in links:
            ok, out, why = run(argv)
            # An address or route already there is done (ip says so in two ways).
            if not ok and "File exists" not in why and "already assigned" not in why:
                raise RuntimeError(f"{' '.join(argv)} on node {data['node']}: {why}")
        for item in data["interfaces"]:
            ok, out, why = run(["ip", "-o", "link", "show", "dev", item["dev"]])
            flags = out.split("<", 1)[1].split(">", 1)[0].split(",") if ok and "<" in out else []
            if "UP" not in flags:
                raise RuntimeError(f"interface {item['dev']} of node {data['node']} is not up: {why or out.strip()}")
        forget()
        return
    prefix = []
    if data.get("pod_uid"):  # the target pod's namespace, found again by its UID
        uid = data["pod_uid"]
        if not re.fullmatch(r"[0-9a-f-]{36}", uid):
            raise RuntimeError(f"not a pod UID: {uid!r}")
        ok, out, why = run(["sh", "-c", f"grep -l -e pod{uid} -e pod{uid.replace('-', '_')} /proc/[0-9]*/cgroup "
                                        "2>/dev/null | head -n 1"])
        pid = out.strip().split("/")[2] if out.strip().count("/") >= 3 else ""
        if not pid.isdigit():
            forget()
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
    forget()


@dataclass
class Target:
    name: str  # node name, or pod name
    node: str
    pod_uid: str | None = None  # a pod target's


def chaos_pod(name: str, container: str, spec: ChaosSpec, node: str, run_uuid: str,
              annotations: bool = False) -> dict:
    """krkn's network-chaos.j2, as it renders it; its command is the dead man's switch (trap_undo.py:
    on TERM it undoes what its undo list holds); with `annotations`, the pod's own annotations in
    a file (ANNOTATIONS_FILE, the downward API) for a timer in it to read."""
    pod_spec: dict = {
        "hostPID": True,
        # krkn's pod_network Job names its node (no scheduling, so no taint keeps it off).
        **({"nodeName": node} if getattr(spec, "pin_by_name", False) else
           {"nodeSelector": {"kubernetes.io/hostname": node}}),
        "terminationGracePeriodSeconds": HOLD_GRACE,  # for its trap (the run's undo deletes it at once)
        "containers": [{"name": container, "imagePullPolicy": "Always", "image": spec.image,
                        "command": hold_command(), "securityContext": {"privileged": True}}],
    }
    if spec.on_node:
        pod_spec["hostNetwork"] = True
    if annotations:
        pod_spec["volumes"] = [{"name": "podinfo", "downwardAPI": {"items": [
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}]
        pod_spec["containers"][0]["volumeMounts"] = [{"name": "podinfo", "mountPath": ANNOTATIONS_FILE.rsplit("/", 1)[0],
                                                      "readOnly": True}]
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


def ready_nodes(core, selector: str | None) -> list[str]:
    nodes = core.list_node(label_selector=selector or None).items
    return sorted(n.metadata.name for n in nodes
                  if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []))


def internal_ips(core, node: str) -> list[str]:
    return [a.address for a in core.read_node(node).status.addresses or [] if a.type == "InternalIP"]


@dataclass
class ChaosPod:
    """A chaos pod on a target's node, and the changes made through it: each recorded in its own
    version file before it is applied (`versions`, to undo newest first, then `version`, the pod's)."""
    ctx: ScenarioContext
    spec: ChaosSpec
    target: Target
    name: str
    container: str
    version: Path | None
    prefix: list[str] = field(default_factory=list)  # nsenter into the target pod's namespace
    mech: str | None = None  # latency and loss through NETEM or NFQUEUE (prepare_shaping)
    queue_num: int = 0  # netem-queue's, with NFQUEUE
    versions: list[Path | None] = field(default_factory=list)

    @classmethod
    def start(cls, ctx: ScenarioContext, core, spec: ChaosSpec, t: Target, role: str,
              annotations: bool = False) -> ChaosPod:
        """Create it (its version file first) and wait for it to run; `role` names it as krkn does
        (node-filter-, pod-chaos-, node-iface-down-...); `annotations`: see chaos_pod."""
        name = f"{'node' if spec.on_node else 'pod'}-{role}-{secrets.token_hex(3)}"
        container = "fedora" if spec.on_node else f"fedora-container-{secrets.token_hex(3)}"
        version = ctx.set_rollback_callable(
            delete_hog_pod, RollbackContent(resource_identifier=name, namespace=spec.namespace, data={"hold": POD}),
            verb="delete", kind="Pod")
        core.create_namespaced_pod(spec.namespace, chaos_pod(name, container, spec, t.node, ctx.rollback.run_uuid,
                                                             annotations))
        ctx.audit("create_pod", namespace=spec.namespace, name=name, node=t.node)
        cp = cls(ctx, spec, t, name, container, version)

        def running():
            p = core.read_namespaced_pod(name, spec.namespace)
            if p.status.phase in ("Failed", "Succeeded"):
                raise ScenarioFailed(f"chaos pod {spec.namespace}/{name} ended ({p.status.phase})")
            return p.status.phase == "Running"

        if not ctx.wait_until(running, START_TIMEOUT, interval=0.5):
            raise ScenarioFailed(f"chaos pod {spec.namespace}/{name} not running after {START_TIMEOUT:g}s on {t.node}")
        if not spec.on_node:
            cp.prefix = cp._netns_prefix()
        return cp

    def exec(self, argv: list[str], netns: bool = True):
        """Run `argv` in the chaos pod, in the target's network namespace (unless not `netns`)."""
        from ..kube.podexec import exec_in_pod

        return exec_in_pod(self.ctx.api_client, self.spec.namespace, self.name, self.container,
                           (self.prefix if netns else []) + argv)

    def _netns_prefix(self) -> list[str]:
        """nsenter into the target pod's network namespace (by its UID in the node's cgroups)."""
        t, uid = self.target, self.target.pod_uid or ""
        if not re.fullmatch(r"[0-9a-f-]{36}", uid):
            raise ScenarioFailed(f"pod {self.spec.namespace}/{t.name} has no usable UID: {uid!r}")
        r = self.exec(["sh", "-c", f"grep -l -e pod{uid} -e pod{uid.replace('-', '_')} /proc/[0-9]*/cgroup 2>/dev/null"])
        pids = [line.split("/")[2] for line in r.stdout.split() if line.count("/") >= 3]
        if not pids:
            raise ScenarioFailed(f"no process of pod {self.spec.namespace}/{t.name} found on node {t.node}")
        return ["nsenter", "--target", pids[0], "--net", "--"]

    def default_interface(self, node_ips: list[str]) -> str:
        """The default route's interface (krkn's); a node without a default route (the local
        cluster's real node) has its InternalIP's interface instead."""
        r = self.exec(["ip", "-o", "route", "show", "default"])
        words = r.stdout.split()
        iface = words[words.index("dev") + 1] if "dev" in words[:-1] else ""
        if r.ok and not iface and node_ips:
            for line in self.exec(["ip", "-o", "-4", "addr", "show"]).stdout.splitlines():
                fields = line.split()
                if len(fields) > 3 and fields[2] == "inet" and fields[3].split("/")[0] in node_ips:
                    iface = fields[1]
        if not r.ok or not IFACE_RE.match(iface):
            raise ScenarioFailed(f"no default route's interface in {'the node' if self.spec.on_node else 'the pod'}"
                                 f" ({r.why() if not r.ok else r.stdout.strip() or 'no default route'}); "
                                 "name `interfaces`")
        return iface

    def check_qdisc(self, iface: str, where: str) -> None:
        """krkn's node_qdisc_is_simple: another tool's htb, netem or clsact at the root (or any
        ingress qdisc) is not replaced (krkn goes on with `force`; here `force` does not let one be
        taken over, because the undo deletes it)."""
        r = self.exec(["tc", "qdisc", "show", "dev", iface, where])
        lines = [line.lower() for line in r.stdout.splitlines() if line.strip()]
        taken = lines if where == "ingress" else [
            line for line in lines if len(lines) != 1 or any(k in line for k in ("htb", "netem", "clsact", "tbf"))]
        if not r.ok or taken:
            raise ScenarioFailed(f"{iface} of {self.target.name} already has a {where} qdisc of its own "
                                 f"({'; '.join(lines) or r.why()}): not replacing it")

    def change(self, data: dict, kind: str, argvs: list[list[str]], details: dict[str, Any]) -> None:
        """Record `data` (what delete_network_rule undoes) in a version file, then run `argvs`."""
        t = self.target
        self.ctx.check_stop()
        where = {"pod": self.name, "container": self.container, "node": t.node, "pod_uid": t.pod_uid,
                 "hold": self.next_hold()}
        self.versions.append(self.ctx.set_rollback_callable(
            delete_network_rule, RollbackContent(resource_identifier=self.name, namespace=self.spec.namespace,
                                                 data={**where, **data}), verb="delete", kind=kind))
        self.hold({**where, **data})
        for argv in argvs:
            r = self.exec(argv)
            self.ctx.audit(argv[0], node=t.node, target=t.name, command=" ".join(argv), exit_code=r.code)
            if not r.ok:
                raise ScenarioFailed(f"{' '.join(argv[:3])} on {t.name}: {r.why()}", details)
        details["rules"].append({"target": t.name, "rule": "; ".join(" ".join(c) for c in argvs)})

    def next_hold(self) -> str:
        """The id of the next change's undo in the pod's own list (after those recorded so far)."""
        return f"{len(self.versions) + 1:04d}"

    def hold(self, data: dict) -> None:
        """Add the undo of the change `data` records to the pod's own list (trap_undo.py), before
        the change: the pod's TERM trap undoes it when the guard deletes the pod."""
        r = self.exec(add_argv(data["hold"], network_script(data)), netns=False)
        if not r.ok:
            raise ScenarioFailed(f"adding an undo to the list of chaos pod {self.name}: {r.why()}")

    def shape(self, iface: str, way: str, tree: Callable[[str], list[list[str]]], details: dict[str, Any],
              mechanism: str | None = None) -> None:
        """krkn's tc tree (`tree(dev)`, rooted at 100:) on `iface`'s egress, or on its ingress
        through the run's own ifb device; `mechanism` (netem or nfqueue) is recorded with it."""
        said = {"mechanism": mechanism} if mechanism else {}
        if way == "egress":
            self.check_qdisc(iface, "root")
            self.change({"tool": "tc", "dev": iface, "handle": ROOT_HANDLE, **said}, "tc qdisc", tree(iface), details)
        else:
            self.check_qdisc(iface, "ingress")
            ifb = f"kifb{secrets.token_hex(3)}"
            self.change({"tool": "tc-ingress", "dev": iface, "ifb": ifb, **said}, "tc ingress redirect",
                        ifb_redirect_commands(iface, ifb) + tree(ifb), details)

    def prepare_shaping(self, spec: ShapeSpec) -> str | None:
        """For latency or loss: netem, or netem-queue started where the kernel has none (the
        mechanism, recorded with each change); None without them."""
        if spec.latency or spec.loss:
            self.mech = self.mechanism()
            if self.mech == NFQUEUE:
                self.queue_num = self.start_queue(spec)
        return self.mech

    def shape_all(self, spec: ShapeSpec, iface: str, tag: str, details: dict[str, Any]) -> None:
        """The spec's shaping on `iface`'s directions: krkn's tree (htb for bandwidth, and netem's
        leaf where the kernel has it), and netem-queue's NFQUEUE rules where it has not."""
        netem = self.mech != NFQUEUE
        for way in ("egress", "ingress") if netem or spec.bandwidth else ():
            if getattr(spec, way):
                self.shape(iface, way, lambda dev: tree_commands(spec, dev, netem), details, self.mech)
        if not netem:
            self.queue(spec, iface, tag, self.queue_num, details)

    def mechanism(self) -> str:
        """netem where the node's kernel has it, else nfqueue: probed in a network namespace made
        for the probe (qdisc kinds are the kernel's; the namespace and its qdisc go with it)."""
        r = self.exec(NETEM_PROBE, netns=False)
        if r.ok:
            return NETEM
        if NETEM_UNKNOWN in r.stderr + r.stdout:
            self.ctx.log(f"node {self.target.node}: the kernel has no tc netem; latency and loss through NFQUEUE "
                         "(netem-queue)", 0.1)
            return NFQUEUE
        raise ScenarioFailed(f"probing tc netem on node {self.target.node}: {r.why()}")

    def start_queue(self, spec: ShapeSpec) -> int:
        """netem-queue in the target's network namespace, in the background of the chaos pod (it
        ends with the pod); waits until it holds its queue, before any rule sends packets there."""
        import shlex

        t = self.target
        queue = 1024 + secrets.randbelow(64000)
        log = f"/tmp/netem-queue-{queue}.log"
        argv = self.prefix + queue_args(spec, queue)
        r = self.exec(["sh", "-c", f"{shlex.join(argv)} >{log} 2>&1 </dev/null &"], netns=False)
        self.ctx.audit("netem-queue", node=t.node, target=t.name, command=" ".join(argv), exit_code=r.code)
        said: list[str] = []

        def bound() -> bool:
            out = self.exec(["cat", log], netns=False).stdout
            said[:] = [out.strip()]
            if "netem-queue:" in out:  # its error line: it has ended
                raise ScenarioFailed(f"netem-queue on {t.name}: {' '.join(out.split())}")
            return f"bound queue {queue}" in out

        if not r.ok or not self.ctx.wait_until(bound, 30, interval=0.2):
            raise ScenarioFailed(f"netem-queue did not start on {t.name}: {r.why() if not r.ok else said}")
        return queue

    def nft_made(self, chain: str) -> list[str]:
        """What inserting into mangle `chain` creates besides the rule (iptables-nft makes the table
        and the base chain on first use): recorded, so the undo removes them once empty."""
        if self.exec(["nft", "list", "chain", "ip", "mangle", chain]).ok:
            return []
        return ["chain"] if self.exec(["nft", "list", "table", "ip", "mangle"]).ok else ["table", "chain"]

    def queue(self, spec: ShapeSpec, iface: str, tag: str, queue: int, details: dict[str, Any]) -> None:
        """The NFQUEUE rules sending `iface`'s shaped directions to netem-queue's `queue`, each
        recorded with what it creates and the program's command line."""
        for chain, rule in queue_rules(spec, iface, tag, queue):
            self.change({"table": "mangle", "chain": chain, "rule": rule, "mechanism": NFQUEUE,
                         "program": queue_args(spec, queue), "creates": self.nft_made(chain)},
                        "iptables NFQUEUE rule", [["iptables", "-t", "mangle", "-I", chain, "1", *rule]], details)

    def undo(self) -> None:
        """Undo its changes newest first, then delete it (each through its version file)."""
        for version in reversed(self.versions):
            self.ctx.restore(version)
        self.ctx.restore(self.version)
