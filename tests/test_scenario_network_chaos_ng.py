"""network_chaos_ng_scenarios' port filters on the real node: a TCP connection to the filtered
port fails while the rules are in place and succeeds after; kill -9 of the runner then
`execute-rollback` deletes exactly the rules the run inserted (another tool's rule stays); the
machine's links, mounts, iptables and nft rule sets are the same before, during and after."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import wait_for
from guardhelpers import LEASE, UNDO_WAYS, journal_ns, undo_killed_run  # noqa: F401 (a fixture)
from runhelpers import Run, pending, write_config
from test_real_node import _apply, _machine_snapshot, _pod, _server_and_client, _wait_ready, real_node  # noqa: F401
from test_scenario_app_outage import changes, run_scenario, version_files
from krkn_tui.errors import UserError
from krkn_tui.events import Step
from krkn_tui.localcluster import realnode
from krkn_tui.scenarios.network_chaos_ng import parse_network_chaos_ng, rules

NG = "network_chaos_ng_scenarios"
TOLERATE = [f"{realnode.TAINT_KEY}:NoSchedule"]  # krkn's taints field: the chaos pod's tolerations


def entry(kind: str, namespace: str, **fields) -> dict:
    return {"id": kind, "image": "quay.io/krkn-chaos/krkn-network-chaos:latest", "wait_duration": 0,
            "test_duration": 60, "label_selector": "", "service_account": "", "taints": TOLERATE,
            "namespace": namespace, "instance_count": 1, "execution": "parallel", "ingress": True, "egress": False,
            "target": "", "interfaces": [], "protocols": ["tcp"], **fields}


def chain_rules(netns: str) -> list[str]:
    """The INPUT and OUTPUT rules of the filter table in a network namespace (kube-proxy's and
    kube-router's own chains change with every Service; their jumps from these two do not)."""
    out = subprocess.run(["nsenter", f"--net={netns}", "iptables-save", "-t", "filter"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if re.match(r"-A (INPUT|OUTPUT) ", line)]


def pod_netns(uid: str) -> str:
    """The network namespace of the pod with this UID, through one of its processes on the machine."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"pod{uid}" in Path(f"/proc/{pid}/cgroup").read_text():
                return f"/proc/{pid}/ns/net"
        except OSError:
            pass
    raise AssertionError(f"no process of pod {uid}")


def machine_view(node: dict) -> dict:
    """test_real_node's snapshot of the machine and its qdiscs, less what other clusters' private
    nodes (other tests running beside this one) add and remove meanwhile: their veths, mounts and
    block devices."""
    other = re.compile(r"\bkt[0-9a-f]{6}(h|br)\b|^/tmp/|/node/block\.img\b")

    def keep(line: str) -> bool:
        return not other.search(line) or node["host_if"] in line

    qdiscs = subprocess.run(["tc", "qdisc", "show"], capture_output=True, text=True).stdout.splitlines()
    return {k: [x for x in v if keep(x)] if isinstance(v, list) else v
            for k, v in {**_machine_snapshot(), "qdiscs": qdiscs}.items()}


def machine_net(node: dict) -> dict:
    """machine_view's network part (links, addresses, iptables, nft, qdiscs): the mounts change
    with other clusters' pods beside the test."""
    return {k: v for k, v in machine_view(node).items() if k != "mounts"}


def chaos_pods(core, namespace: str) -> list[str]:
    return [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector="app=krkn-network-chaos").items]


@pytest.fixture(autouse=True)
def nothing_left_on_the_node(request):
    """After each test: no rule of krkn-tui and no ifb device of a run in the real node's network
    namespace (the pods' namespaces go with their pods, the chaos pods are checked by each test)."""
    yield
    if "real_node" not in request.fixturenames:
        return
    netns = request.getfixturevalue("real_node")["netns"]
    rules = subprocess.run(["nsenter", f"--net={netns}", "iptables-save"], capture_output=True, text=True).stdout
    links = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "krkn-tui:" not in rules and "kifb" not in links


def holding(on_hold):
    """An engine event hook calling `on_hold()` once the rules are in place."""
    seen = []

    def on_event(event, engine):
        if isinstance(event, Step) and "holding" in event.message:
            seen.append(on_hold())
    return on_event, seen


@pytest.mark.cluster
def test_pod_filter_drops_the_service_port_during_and_not_after(tmp_path, api_client, kubectl, kubeconfig,
                                                                namespace, real_node):
    core = client.CoreV1Api(api_client)
    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the connection before the filter")
    server = core.read_namespaced_pod("server", namespace)
    netns = pod_netns(server.metadata.uid)
    before, machine = chain_rules(netns), machine_view(real_node)

    def during():
        blocked = wait_for(lambda: not connects(), timeout=30, interval=0.5, what="the filter to drop the connection")
        added = [r for r in chain_rules(netns) if r not in before]
        return blocked, added, machine_view(real_node) == machine, chain_rules(real_node["netns"])

    on_event, seen = holding(during)
    node_before = chain_rules(real_node["netns"])
    spec = [entry("pod_network_filter", namespace, label_selector="app=web", ports=[8080], test_duration=5)]
    _, result, events = run_scenario(tmp_path, api_client, NG, spec, on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(blocked, added, machine_same, node_during)] = seen
    assert blocked is True and machine_same and node_during == node_before  # the pod's namespace only
    assert len(added) == 1 and "-i eth0 -p tcp -m tcp --dport 8080" in added[0] and added[0].endswith("-j DROP")
    assert wait_for(connects, timeout=30, what="the connection back after the rollback")
    assert chain_rules(netns) == before and machine_view(real_node) == machine
    assert [c["action"] for c in changes(events)] == ["create_pod", "iptables"]
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


def _host_server(kubectl, kubeconfig, namespace: str, size_kib: int = 0) -> tuple[int, callable]:
    """An HTTP server in the real node's own network namespace (a hostNetwork pod) on a free high
    port; returns the port and a check that the machine reaches it over the node's veth."""
    port = random.SystemRandom().randrange(20000, 30000)
    pod = _pod("hostweb", namespace, ["sh", "-c", f"mkdir -p /tmp/www && echo pong > /tmp/www/ping && "
                                                  f"dd if=/dev/zero of=/tmp/www/big bs=1024 count={size_kib} && "
                                                  f"exec httpd -f -p {port} -h /tmp/www"])
    pod["spec"]["hostNetwork"] = True
    _apply(kubectl, kubeconfig, pod)
    _wait_ready(kubectl, kubeconfig, namespace, "hostweb")
    node_ip = realnode_ip(kubectl, kubeconfig)

    def connects(path: str = "/ping") -> bool | int:
        """For /ping, whether it answers; for another path, the bytes read."""
        try:
            with socket.create_connection((node_ip, port), timeout=2 if path == "/ping" else 30) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                if path == "/ping":
                    return b"pong" in s.recv(4096)
                return sum(iter(lambda: len(s.recv(65536)), 0))
        except OSError:
            return False
    return port, connects


def realnode_ip(kubectl, kubeconfig) -> str:
    out = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "get", "node", realnode.NODE_NAME, "-o",
                          "jsonpath={.status.addresses[?(@.type=='InternalIP')].address}"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0]


@pytest.mark.cluster
@pytest.mark.parametrize("undo", UNDO_WAYS)
def test_node_filter_then_kill_9_and_its_undo_deletes_exactly_its_rules(tmp_path, api_client, kubectl, kubeconfig,
                                                                       namespace, real_node, journal_ns, undo):
    """execute-rollback from the version files; or the guard from the journal, with no pods/exec:
    it deletes the chaos pod, whose TERM trap deletes the rule by its content."""
    core = client.CoreV1Api(api_client)
    port, connects = _host_server(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the machine reaching the node's port before the filter")
    netns, machine = real_node["netns"], machine_net(real_node)
    before = chain_rules(netns)
    other = ["-p", "tcp", "--dport", str(port + 1), "-m", "comment", "--comment", "another-tool", "-j", "DROP"]
    versions = tmp_path / "versions"
    spec = [entry("node_network_filter", namespace, target=realnode.NODE_NAME, ports=[port], test_duration=300)]
    run = Run(write_config(tmp_path, [(NG, spec)], versions=versions, cluster_journal_namespace=journal_ns, **LEASE),
              kubeconfig)
    try:
        run.wait_for(r"holding 300s", timeout=120)
        assert wait_for(lambda: not connects(), timeout=30, interval=0.5, what="the filter to drop the connection")
        ours = [r for r in chain_rules(netns) if r not in before]
        assert len(ours) == 1 and f"-A INPUT -i eth0 -p tcp -m tcp --dport {port}" in ours[0]
        assert machine_net(real_node) == machine  # the node's namespace, not the machine's
        # Another tool inserts a rule above ours meanwhile: krkn's "delete rule 1" would take it.
        subprocess.run(["nsenter", f"--net={netns}", "iptables", "-I", "INPUT", "1", *other], check=True)
        run.proc.kill()
        run.finish()
        assert not connects() and len(pending(versions)) == 2  # the pod and the rule, still in force
        started = time.monotonic()
        undo_killed_run(undo, run, versions, api_client, journal_ns, kubeconfig, tmp_path)
        assert wait_for(connects, timeout=30, what=f"the connection back after {undo}")
        print(f"{undo}: port reachable {time.monotonic() - started:.1f}s after it started")
        after = chain_rules(netns)
        assert [r for r in after if r not in before] == [f"-A INPUT -p tcp -m tcp --dport {port + 1} -m comment "
                                                         "--comment another-tool -j DROP"]
        assert [r for r in before if r not in after] == []
        assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    finally:
        subprocess.run(["nsenter", f"--net={netns}", "iptables", "-D", "INPUT", *other], capture_output=True)
        if run.proc.poll() is None:
            run.proc.kill()
    assert chain_rules(netns) == before and machine_net(real_node) == machine


def test_rules_are_krkns_plus_the_runs_comment():
    [spec] = parse_network_chaos_ng([entry("node_network_filter", "ns", target="n", ports=[53, 80], egress=True,
                                           protocols=["tcp", "udp", "tcp"])], "f.yml")
    made = rules(spec, "eth0", "krkn-tui:abc")
    assert len(made) == 8 and spec.protocols == ("tcp", "udp")
    assert made[0] == ("OUTPUT", ["-p", "tcp", "--dport", "53", "-m", "state", "--state", "NEW,RELATED,ESTABLISHED",
                                  "-m", "comment", "--comment", "krkn-tui:abc", "-j", "DROP"])
    assert made[2][0] == "INPUT" and made[2][1][:2] == ["-i", "eth0"]
    [every] = parse_network_chaos_ng([entry("pod_network_filter", "ns", target="p", protocols=[])], "f.yml")
    assert [r[1][:3] for r in rules(every, "eth0", "t")] == [["-i", "eth0", "-p"]] * 2  # no ports: every port


@pytest.mark.parametrize("field, value, where, message", [
    ("id", "vmi_network_chaos", "id", "is not run by krkn-tui"),
    ("latency", "10 ms", "latency", "expected a number followed by us, ms or s"),
    ("bandwidth", "1mbps", "bandwidth", "expected a number followed by bit"),
    ("loss", "5%", "loss", "without %"),
    ("id", "nope", "id", "unknown value 'nope'"),
    ("ports", [0], "ports[0]", "expected a port 1-65535"),
    ("ports", ["80"], "ports[0]", "expected a port 1-65535"),
    ("protocols", ["icmp"], "protocols[0]", "unknown protocol"),
    ("target", "<node_name>", "target", "not a valid object name"),
    ("label_selector", "<node_selector>", "label_selector", "not a valid label selector"),
    ("execution", "both", "execution", "unknown value 'both'"),
    ("test_duration", 1.5, "test_duration", "expected an integer"),
    ("taints", ["bad"], "taints[0]", "expected a taint like"),
    ("interfaces", ["eth0; reboot"], "interfaces[0]", "not an interface name"),
])
def test_bad_fields_are_one_line_naming_the_field(field, value, where, message):
    shaping = field in ("latency", "bandwidth", "loss")
    base = {"target": "n", **({"latency": "10ms", "protocols": None} if shaping else {"ports": [80]})}
    data = [entry("node_network_chaos" if shaping else "node_network_filter", "ns", **{**base, field: value})]
    if shaping:
        del data[0]["protocols"]
    with pytest.raises(UserError) as err:
        parse_network_chaos_ng(data, "f.yml")
    assert err.value.field == f"[0].{where}" and message in err.value.message and "\n" not in str(err.value)


def test_neither_selector_nor_target_nor_direction_is_refused():
    with pytest.raises(UserError, match="needs label_selector or target"):
        parse_network_chaos_ng([entry("node_network_filter", "ns")], "f.yml")
    with pytest.raises(UserError, match="nothing to change"):
        parse_network_chaos_ng([entry("node_network_filter", "ns", target="n", ingress=False)], "f.yml")


@pytest.mark.cluster
def test_a_missing_target_fails_before_any_change(tmp_path, api_client, namespace):
    spec = [entry("pod_network_filter", namespace, target="nobody", ports=[80])]
    _, result, events = run_scenario(tmp_path, api_client, NG, spec)
    assert result.status == "failed" and "pod nobody not found" in result.scenarios[0].message
    assert changes(events) == [] and version_files(tmp_path / "versions") == []


def chaos_entry(namespace: str, **shape) -> dict:
    e = entry("pod_network_chaos", namespace, **{"label_selector": "app=web", "ingress": False, "egress": True,
                                                  **shape})
    del e["protocols"]
    return e


def tc(netns: str, *args: str) -> str:
    return subprocess.run(["nsenter", f"--net={netns}", "tc", *args], capture_output=True, text=True,
                          check=True).stdout


# Bandwidth, measured (stated once): a BW_KIB transfer timed where it is received, from the
# connect to the server's close. During a fault at RATE it runs at most BW_OVER x RATE (htb counts
# each frame's headers, so the payload comes in a little under RATE; the 25% covers the burst htb
# lets through first and the timer's grain) and at least BW_UNDER x RATE (a shaped transfer, not a
# stalled one: a loaded machine may slow it, so the floor is low); before and after, over BW_FREE x
# RATE (unshaped, it runs at the veths' speed, hundreds of times RATE). 512 KiB at 1mbit take 4 s,
# so htb's burst (a few KiB) does not weigh.
BW_KIB, BW_OVER, BW_UNDER, BW_FREE = 512, 1.25, 0.5, 4.0
_TIMED_FETCH = """
import socket, sys, time
start = time.monotonic()
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60) as s:
    s.sendall(f"GET {sys.argv[3]} HTTP/1.0\\r\\n\\r\\n".encode())
    got = sum(iter(lambda: len(s.recv(65536)), 0))
print(got, time.monotonic() - start)
"""


def fetch_kbit(ip: str, port: int, path: str = "/big", netns: str | None = None) -> float:
    """The rate of an HTTP fetch of `path` in kbit/s, timed by the fetching process: in the
    network namespace `netns` (a pod's), or the machine's."""
    import sys

    argv = [sys.executable, "-c", _TIMED_FETCH, ip, str(port), path]
    r = subprocess.run(["nsenter", f"--net={netns}", *argv] if netns else argv, capture_output=True, text=True,
                       timeout=120)
    got, seconds = r.stdout.split() if r.returncode == 0 else (0, 0)
    assert int(got) > BW_KIB * 1024, r.stdout + r.stderr
    return int(got) * 8 / 1000 / max(float(seconds), 1e-3)


def assert_rate(before: float, during: float, after: float, limit_kbit: float) -> None:
    print(f"{BW_KIB} KiB at {limit_kbit:g} kbit/s: before {before:.0f}, during {during:.0f} "
          f"({during / limit_kbit:.2f}x the limit), after {after:.0f} kbit/s")
    assert BW_UNDER * limit_kbit <= during <= BW_OVER * limit_kbit, (during, limit_kbit)
    assert before > BW_FREE * limit_kbit and after > BW_FREE * limit_kbit, (before, after, limit_kbit)


@pytest.mark.cluster
@pytest.mark.parametrize("way", ["egress", "ingress"])
def test_pod_bandwidth_shapes_the_transfer_then_its_qdiscs_are_deleted(tmp_path, api_client, kubectl, kubeconfig,
                                                                      namespace, real_node, way):
    """The htb class at 1mbit: the client's fetch of 512 KiB runs at 1 Mbit/s (BW_* tolerances)
    during, many times faster before and after, and the class's overlimits rise: on the server's
    egress, or on the client's ingress through krkn's ifb redirect; after the run the interface's
    qdiscs and the namespace's links are as before."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "exec", "server", "--", "dd",
                    "if=/dev/zero", "of=/tmp/www/big", "bs=1024", f"count={BW_KIB}"], check=True, capture_output=True)
    ip = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "get", "service", "server", "-o",
                         "jsonpath={.spec.clusterIP}"], capture_output=True, text=True, check=True).stdout.strip()
    shaped_pod = "server" if way == "egress" else "client"
    netns = pod_netns(core.read_namespaced_pod(shaped_pod, namespace).metadata.uid)
    client_netns = pod_netns(core.read_namespaced_pod("client", namespace).metadata.uid)
    links = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True).stdout

    def state():
        return tc(netns, "qdisc", "show"), [line.split(":")[1] for line in subprocess.run(
            ["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()]
    before, machine = state(), machine_view(real_node)
    assert "eth0" in links

    def fetch() -> float:  # through the Service, timed in the client's namespace
        return fetch_kbit(ip, 80, netns=client_netns)

    def shaped_dev() -> str:
        if way == "egress":
            return "eth0"
        out = subprocess.run(["nsenter", f"--net={netns}", "ip", "-o", "link", "show", "type", "ifb"],
                             capture_output=True, text=True).stdout
        return out.split(":")[1].strip()

    def during():
        dev = shaped_dev()
        classes = tc(netns, "-s", "class", "show", "dev", dev)
        rate = fetch()
        after_fetch = tc(netns, "-s", "class", "show", "dev", dev)
        overlimits = [int(m) for m in re.findall(r"overlimits (\d+)", after_fetch)]
        return "class htb 100:1 root" in classes and "rate 1Mbit" in classes, rate, overlimits, \
            machine_view(real_node) == machine

    rate_before = fetch()
    on_event, seen = holding(during)
    spec = chaos_entry(namespace, bandwidth="1mbit", test_duration=1, ingress=way == "ingress",
                       egress=way == "egress", label_selector="app=web" if way == "egress" else "app=client")
    _, result, events = run_scenario(tmp_path, api_client, NG, [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(shaped, rate, overlimits, machine_same)] = seen
    assert shaped and overlimits and max(overlimits) > 0 and machine_same
    assert_rate(rate_before, rate, fetch(), 1000)
    assert state() == before and machine_view(real_node) == machine
    tools = ["tc", "tc"] if way == "egress" else ["ip", "ip", "tc", "tc", "tc", "tc"]
    assert [c["action"] for c in changes(events)] == ["create_pod", *tools]
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
def test_a_stop_mid_hold_deletes_the_rules_and_the_pod(tmp_path, api_client, kubectl, kubeconfig, namespace, real_node):
    """The stop a signal or the console's E-STOP makes: the run's rollback deletes the rules
    (newest first), then the chaos pod; the connection is back."""
    core = client.CoreV1Api(api_client)
    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the connection before the filter")
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    before = chain_rules(netns)

    def on_event(event, engine):
        if isinstance(event, Step) and "holding" in event.message:
            engine.stop.set()

    spec = [entry("pod_network_filter", namespace, label_selector="app=web", ports=[8080, 8081], test_duration=600)]
    _, result, _ = run_scenario(tmp_path, api_client, NG, spec, on_event=on_event)
    assert result.status == "interrupted"
    assert [step.status for step in result.rollback] == ["executed"] * 3  # two rules, then the pod
    assert chain_rules(netns) == before
    assert wait_for(connects, timeout=30, what="the connection back after the stop")
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
def test_node_bandwidth_shapes_the_nodes_egress_and_not_the_machines(tmp_path, api_client, kubectl, kubeconfig,
                                                                     namespace, real_node):
    """node_network_chaos on the real node's interface: the machine's fetch of 512 KiB from a port
    in the node's namespace runs at 2 Mbit/s (BW_* tolerances) during, many times faster before
    and after, the htb class's overlimits rise; the machine's own qdiscs (its end of the node's
    veth among them), links and rule sets stay as they were."""
    core = client.CoreV1Api(api_client)
    port, answers = _host_server(kubectl, kubeconfig, namespace, size_kib=BW_KIB)
    assert wait_for(answers, timeout=30, what="the machine reaching the node's port")
    netns, machine = real_node["netns"], machine_view(real_node)
    node_ip = realnode_ip(kubectl, kubeconfig)
    before = tc(netns, "qdisc", "show", "dev", "eth0")  # pods' veths come and go with other tests

    def during():
        classes = tc(netns, "-s", "class", "show", "dev", "eth0")
        rate = fetch_kbit(node_ip, port)
        overlimits = [int(m) for m in re.findall(r"overlimits (\d+)", tc(netns, "-s", "class", "show", "dev", "eth0"))]
        return "class htb 100:1 root" in classes and "rate 2Mbit" in classes, rate, overlimits, \
            machine_view(real_node) == machine

    rate_before = fetch_kbit(node_ip, port)
    on_event, seen = holding(during)
    spec = entry("node_network_chaos", namespace, target=realnode.NODE_NAME, bandwidth="2mbit", test_duration=1,
                 ingress=False, egress=True)
    del spec["protocols"]
    _, result, _ = run_scenario(tmp_path, api_client, NG, [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(shaped, rate, overlimits, machine_same)] = seen
    assert shaped and max(overlimits) > 0 and machine_same
    assert_rate(rate_before, rate, fetch_kbit(node_ip, port), 2000)
    assert tc(netns, "qdisc", "show", "dev", "eth0") == before and machine_view(real_node) == machine
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
