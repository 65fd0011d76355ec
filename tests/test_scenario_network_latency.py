"""network_chaos_ng_scenarios' latency and loss on the real node, measured from inside a pod:
the round-trip time of ICMP echoes from one pod to another rises by the configured latency while
the scenario holds and is back after; the configured loss share of echoes is lost. This machine's
kernel has no tc netem, so the delay is netem-queue's (NFQUEUE rules in the target's namespace);
on a kernel with netem the same tests measure krkn's netem leaf. The machine's links, qdiscs and
rule sets stay as they were; kill -9 of the runner then `execute-rollback` deletes the rules and
the pod; after each test no rule, ifb device, chaos pod or netem-queue process of a run remains.

Tolerances (stated once): the median RTT rises by at least 90% of the latency and at most the
latency plus 40 ms (the exec and the queue's scheduling add a little, never less than the delay);
"back" is a median within 20 ms of the one before. Loss: within 12 points of the configured share
over 300 echoes (the binomial spread at 30% is 2.6 points: over four of them)."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import wait_for
from guardhelpers import LEASE, UNDO_WAYS, journal_ns, undo_killed_run  # noqa: F401 (a fixture)
from runhelpers import Run, pending, write_config
from test_real_node import _server_and_client, real_node  # noqa: F401
from test_scenario_app_outage import changes, run_scenario
from test_scenario_network_chaos_ng import (NG, _host_server, chaos_entry, chaos_pods, entry, holding,  # noqa: F401
                                            machine_net, machine_view, nothing_left_on_the_node, pod_netns,
                                            realnode_ip)
from krkn_tui.localcluster import realnode
from krkn_tui.scenarios.netchaos import NETEM_PROBE, queue_args, queue_rules
from krkn_tui.scenarios.network_chaos_ng import parse_network_chaos_ng

RISE_MIN, RISE_SLACK_MS, BACK_MS, LOSS_POINTS = 0.9, 40.0, 20.0, 12.0


def kernel_has_netem() -> bool:
    """The chaos pod's probe, run here (the real node runs this machine's kernel)."""
    return subprocess.run(NETEM_PROBE, capture_output=True).returncode == 0


def queue_processes() -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"netem-queue"):
                out.append(pid)
        except OSError:
            pass
    return out


@pytest.fixture(autouse=True)
def no_queue_program_left(request):
    yield
    if "real_node" in request.fixturenames:
        assert wait_for(lambda: not queue_processes(), timeout=60, what="every netem-queue ended")


def mangle_rules(netns: str) -> list[str]:
    out = subprocess.run(["nsenter", f"--net={netns}", "iptables-save", "-t", "mangle"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith("-A ")]


def nft_ruleset(netns: str) -> str:
    return subprocess.run(["nsenter", f"--net={netns}", "nft", "list", "ruleset"], capture_output=True, text=True,
                          check=True).stdout


def ping(kubectl, kubeconfig, namespace: str, ip: str, count: int, interval: float = 0.05) -> tuple[list[float], int]:
    """ICMP echoes from inside the client pod (busybox's ping): the RTTs in ms and the number sent."""
    r = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "exec", "client", "--", "ping",
                        "-c", str(count), "-i", str(interval), "-W", "3", ip], capture_output=True, text=True,
                       timeout=count * interval + 60)
    sent = re.search(r"(\d+) packets transmitted", r.stdout)
    assert sent, r.stdout + r.stderr
    return [float(t) for t in re.findall(r"time=([\d.]+) ms", r.stdout)], int(sent.group(1))


def median_rtt(kubectl, kubeconfig, namespace: str, ip: str, count: int = 20) -> float:
    rtts, _ = ping(kubectl, kubeconfig, namespace, ip, count)
    assert len(rtts) >= count // 2, rtts
    return statistics.median(rtts)


def assert_rise(before: float, during: float, latency_ms: float) -> None:
    rise = during - before
    print(f"median before {before:.2f} ms, during {during:.2f} ms (rise {rise:.2f} ms for {latency_ms:g} ms)")
    assert RISE_MIN * latency_ms <= rise <= latency_ms + RISE_SLACK_MS, (before, during, latency_ms)


def mechanism() -> str:
    return "netem" if kernel_has_netem() else "nfqueue"


@pytest.mark.cluster
@pytest.mark.parametrize("way", ["egress", "ingress"])
def test_pod_latency_rises_the_rtt_by_the_latency_and_is_back_after(tmp_path, api_client, kubectl, kubeconfig,
                                                                    namespace, real_node, way):
    """200 ms on the server's egress (the echo replies leave through it) or on the client's
    ingress (they arrive through it): the client's median RTT to the server pod rises by 200 ms."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    server_ip = core.read_namespaced_pod("server", namespace).status.pod_ip
    shaped = "server" if way == "egress" else "client"
    netns = pod_netns(core.read_namespaced_pod(shaped, namespace).metadata.uid)
    rules_before, machine, tables = mangle_rules(netns), machine_view(real_node), nft_ruleset(netns)
    before = median_rtt(kubectl, kubeconfig, namespace, server_ip)

    def during():
        return (median_rtt(kubectl, kubeconfig, namespace, server_ip),
                [r for r in mangle_rules(netns) if r not in rules_before], machine_view(real_node) == machine)

    on_event, seen = holding(during)
    spec = chaos_entry(namespace, latency="200ms", test_duration=1, ingress=way == "ingress", egress=way == "egress",
                       label_selector="app=web" if way == "egress" else "app=client")
    _, result, events = run_scenario(tmp_path, api_client, NG, [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(rtt, added, machine_same)] = seen
    assert_rise(before, rtt, 200.0)
    assert machine_same
    after = median_rtt(kubectl, kubeconfig, namespace, server_ip)
    assert abs(after - before) <= BACK_MS, (before, after)
    assert mangle_rules(netns) == rules_before and machine_view(real_node) == machine
    assert nft_ruleset(netns) == tables  # the mangle table iptables made for the rule is gone too
    if mechanism() == "nfqueue":
        chain, flag = ("POSTROUTING", "-o") if way == "egress" else ("PREROUTING", "-i")
        assert len(added) == 1 and added[0].startswith(f"-A {chain} {flag} eth0 ") and "--queue-bypass" in added[0]
        assert [c["action"] for c in changes(events)] == ["create_pod", "netem-queue", "iptables"]
        archived = [p.read_text() for p in tmp_path.glob("versions-archive/*/*.py*")]
        assert len(archived) == 2 and sum("nfqueue" in text and "--queue-bypass" in text for text in archived) == 1
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
def test_pod_loss_drops_the_configured_share_and_none_after(tmp_path, api_client, kubectl, kubeconfig, namespace,
                                                           real_node):
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    server_ip = core.read_namespaced_pod("server", namespace).status.pod_ip

    def lost(count: int) -> float:
        rtts, sent = ping(kubectl, kubeconfig, namespace, server_ip, count, interval=0.02)
        return 100.0 * (sent - len(rtts)) / sent

    assert lost(50) == 0
    on_event, seen = holding(lambda: lost(300))
    spec = chaos_entry(namespace, loss="30", test_duration=1)
    _, result, _ = run_scenario(tmp_path, api_client, NG, [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [share] = seen
    print(f"lost {share:.1f}% of 300 echoes at loss 30%")
    assert abs(share - 30.0) <= LOSS_POINTS, share
    assert lost(100) <= 1.0
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


def connect_ms(ip: str, port: int, count: int = 20) -> float:
    """The median time of a TCP connect from the machine (SYN out, SYN-ACK back)."""
    times = []
    for _ in range(count):
        start = time.monotonic()
        with socket.create_connection((ip, port), timeout=5):
            times.append((time.monotonic() - start) * 1000)
    return statistics.median(times)


@pytest.mark.cluster
def test_node_latency_delays_the_nodes_traffic_and_not_the_machines(tmp_path, api_client, kubectl, kubeconfig,
                                                                    namespace, real_node):
    """node_network_chaos latency on the real node's interface: a TCP connect from the machine to
    a pod listening in the node's namespace takes 150 ms longer (its SYN-ACK leaves through the
    node's eth0); the machine's links, qdiscs, iptables and nft rule sets are identical before,
    during and after; the node's mangle table is as before."""
    core = client.CoreV1Api(api_client)
    port, answers = _host_server(kubectl, kubeconfig, namespace)
    assert wait_for(answers, timeout=30, what="the machine reaching the node's port")
    node_ip, netns = realnode_ip(kubectl, kubeconfig), real_node["netns"]
    rules_before, machine = mangle_rules(netns), machine_view(real_node)
    before = connect_ms(node_ip, port)

    def during():
        return connect_ms(node_ip, port), machine_view(real_node) == machine, \
            [r for r in mangle_rules(netns) if r not in rules_before]

    on_event, seen = holding(during)
    spec = entry("node_network_chaos", namespace, target=realnode.NODE_NAME, latency="150ms", test_duration=1,
                 ingress=False, egress=True)
    del spec["protocols"]
    _, result, _ = run_scenario(tmp_path, api_client, NG, [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(rtt, machine_same, added)] = seen
    assert_rise(before, rtt, 150.0)
    assert machine_same and machine_view(real_node) == machine
    if mechanism() == "nfqueue":
        assert len(added) == 1 and added[0].startswith("-A POSTROUTING -o eth0 ")
    assert mangle_rules(netns) == rules_before
    assert abs(connect_ms(node_ip, port) - before) <= BACK_MS
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
@pytest.mark.parametrize("undo", UNDO_WAYS)
def test_kill_9_mid_latency_then_its_undo_leaves_no_rule_or_pod(tmp_path, api_client, kubectl, kubeconfig,
                                                                namespace, real_node, journal_ns, undo):
    """execute-rollback from the version files, or the guard (no pods/exec) from the journal:
    it deletes the chaos pod, whose TERM trap deletes the rule or qdisc."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    server_ip = core.read_namespaced_pod("server", namespace).status.pod_ip
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    rules_before, machine = mangle_rules(netns), machine_view(real_node)
    qdiscs_before = subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "show"], capture_output=True,
                                   text=True).stdout
    before = median_rtt(kubectl, kubeconfig, namespace, server_ip)
    versions = tmp_path / "versions"
    spec = chaos_entry(namespace, latency="200ms", test_duration=300)
    run = Run(write_config(tmp_path, [(NG, [spec])], versions=versions, cluster_journal_namespace=journal_ns,
                           **LEASE), kubeconfig)
    try:
        run.wait_for(r"holding 300s", timeout=120)
        assert_rise(before, median_rtt(kubectl, kubeconfig, namespace, server_ip), 200.0)
        run.proc.kill()
        run.finish()
        assert len(pending(versions)) == 2  # the chaos pod and the rule (or netem's qdisc)
        assert_rise(before, median_rtt(kubectl, kubeconfig, namespace, server_ip), 200.0)  # still in force
        undo_killed_run(undo, run, versions, api_client, journal_ns, kubeconfig, tmp_path)
        assert abs(median_rtt(kubectl, kubeconfig, namespace, server_ip) - before) <= BACK_MS
        assert mangle_rules(netns) == rules_before
        assert subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "show"], capture_output=True,
                              text=True).stdout == qdiscs_before
        assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert machine_view(real_node) == machine


def test_queue_rules_send_each_direction_to_the_runs_queue_with_bypass():
    [spec] = parse_network_chaos_ng([chaos_entry("ns", latency="50ms", loss=5, ingress=True, target="p",
                                                 label_selector="")], "f.yml")
    made = queue_rules(spec, "eth0", "krkn-tui:abc", 4242)
    tail = ["-m", "comment", "--comment", "krkn-tui:abc", "-j", "NFQUEUE", "--queue-num", "4242", "--queue-bypass"]
    assert made == [("POSTROUTING", ["-o", "eth0", *tail]), ("PREROUTING", ["-i", "eth0", *tail])]
    assert queue_args(spec, 4242)[1:] == ["-queue", "4242", "-delay", "50ms", "-loss", "5"]


# ---- krkn's older node types, run as node_network_chaos ----------------------------------------


def test_network_chaos_serial_is_one_spec_per_parameter_in_krkns_order():
    from krkn_tui.scenarios.network_chaos_ng import parse_network_chaos

    data = {"network_chaos": {"duration": 30, "node_name": "a,b", "label_selector": "<ignored when named>",
                              "interfaces": ["eth0"], "execution": "serial",
                              "egress": {"bandwidth": "10mbit", "loss": 0.02, "latency": "50ms"}}}
    specs = parse_network_chaos(data, "f.yml")
    assert [(s.latency, s.loss, s.bandwidth) for s in specs] == [("50ms", None, None), (None, "0.02", None),
                                                                  (None, None, "10mbit")]
    assert all(s.nodes == ("a", "b") and s.egress and not s.ingress and s.pin_by_name and s.test_duration == 30
               for s in specs)
    [parallel] = parse_network_chaos({"network_chaos": {**data["network_chaos"], "execution": "parallel"}}, "f.yml")
    assert (parallel.latency, parallel.loss, parallel.bandwidth) == ("50ms", "0.02", "10mbit")
    [default] = parse_network_chaos({"network_chaos": {}}, "f.yml")  # krkn's defaults
    assert (default.label_selector, default.bandwidth, default.test_duration, default.image) == (
        "node-role.kubernetes.io/master", "100mbit", 300, "quay.io/krkn-chaos/krkn:tools")


def test_ingress_node_reads_krkns_native_step():
    from krkn_tui.scenarios.network_chaos_ng import parse_ingress_node

    data = [{"id": "network_chaos", "config": {"node_interface_name": {"n1": ["eth0", "eth1"]}, "kubeconfig_path": "x",
                                               "execution_type": "serial", "test_duration": 20,
                                               "network_params": {"latency": "50ms", "loss": "0.02"}}}]
    specs = parse_ingress_node(data, "f.yml")
    assert [(s.latency, s.loss) for s in specs] == [("50ms", None), (None, "0.02")]
    assert all(s.ingress and not s.egress and s.node_interfaces == (("n1", ("eth0", "eth1")),) and s.nodes == ("n1",)
               and s.wait_duration == 30 for s in specs)
    with pytest.raises(Exception, match="pod_network_scenarios"):
        parse_ingress_node([{"id": "pod_egress_shaping", "config": {}}], "f.yml")


def old_type_file(kind: str, latency: str, duration: int = 1) -> object:
    if kind == "network_chaos_scenarios":
        return {"network_chaos": {"duration": duration, "node_name": realnode.NODE_NAME, "execution": "parallel",
                                  "egress": {"latency": latency}}}
    return [{"id": "network_chaos", "config": {"node_interface_name": {realnode.NODE_NAME: ["eth0"]},
                                               "execution_type": "parallel", "network_params": {"latency": latency},
                                               "test_duration": duration, "wait_duration": 1}}]


@pytest.mark.cluster
@pytest.mark.parametrize("kind", ["network_chaos_scenarios", "ingress_node_scenarios"])
def test_krkns_older_node_types_delay_the_nodes_traffic_and_not_the_machines(tmp_path, api_client, kubectl,
                                                                            kubeconfig, namespace, real_node, kind):
    """network_chaos_scenarios on the node's egress (its SYN-ACKs leave late), ingress_node_scenarios
    on its ingress (the machine's SYNs arrive late): a TCP connect from the machine to a port in
    the node's namespace takes 150 ms longer during, as before after; the machine's links, qdiscs
    and rule sets are identical throughout; the node's qdiscs and mangle rules as before."""
    core = client.CoreV1Api(api_client)
    port, answers = _host_server(kubectl, kubeconfig, namespace)
    assert wait_for(answers, timeout=30, what="the machine reaching the node's port")
    node_ip, netns = realnode_ip(kubectl, kubeconfig), real_node["netns"]
    rules_before, machine = mangle_rules(netns), machine_view(real_node)
    qdiscs = subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "show", "dev", "eth0"], capture_output=True,
                            text=True).stdout
    before = connect_ms(node_ip, port)
    on_event, seen = holding(lambda: (connect_ms(node_ip, port), machine_view(real_node) == machine))
    _, result, events = run_scenario(tmp_path, api_client, kind, old_type_file(kind, "150ms"), on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(rtt, machine_same)] = seen
    assert_rise(before, rtt, 150.0)
    assert machine_same and machine_view(real_node) == machine
    assert mangle_rules(netns) == rules_before
    assert subprocess.run(["nsenter", f"--net={netns}", "tc", "qdisc", "show", "dev", "eth0"], capture_output=True,
                          text=True).stdout == qdiscs
    assert abs(connect_ms(node_ip, port) - before) <= BACK_MS
    # the chaos pod went to the node by name (krkn's Job), in krkn's namespace for it
    assert [c["action"] for c in changes(events)][0] == "create_pod"
    assert wait_for(lambda: not chaos_pods(core, "default"), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
def test_the_blast_radius_names_the_nodes_and_interfaces(api_client, tmp_path):
    from krkn_tui.config import load_config
    from krkn_tui.engine import plan
    from krkn_tui.scenarios.preview import preview_plan

    node = sorted(n.metadata.name for n in client.CoreV1Api(api_client).list_node(label_selector="type=kwok").items)[0]
    older = {"network_chaos": {"duration": 5, "node_name": node, "interfaces": ["eth0"], "execution": "serial",
                               "egress": {"latency": "50ms", "bandwidth": "10mbit"}}}
    ingress = [{"id": "network_chaos", "config": {"node_interface_name": {node: ["eth1"]},
                                                  "network_params": {"loss": "2"}}}]
    missing = {"network_chaos": {"node_name": "no-such-node", "egress": {"latency": "50ms"}}}
    cfg = load_config(write_config(tmp_path, [("network_chaos_scenarios", older), ("ingress_node_scenarios", ingress),
                                              ("network_chaos_scenarios", missing)]))
    got = preview_plan(plan(cfg), api_client, cfg)
    latency, bandwidth, lossy, nowhere = got
    assert latency.ok and bandwidth.ok and lossy.ok
    [nodes] = latency.targets
    assert nodes.names == (node,) and "eth0" in nodes.action and "NFQUEUE" in nodes.action
    assert "a tc qdisc" in bandwidth.targets[0].action  # serial: bandwidth alone, htb
    assert lossy.targets[0].names == (node,) and f"{node}: eth1" in lossy.targets[0].action
    assert nowhere.problem == "node no-such-node not found or not Ready"


@pytest.mark.cluster
def test_network_chaos_serial_applies_one_parameter_after_the_other(tmp_path, api_client, kubectl, kubeconfig,
                                                                   namespace, real_node):
    """krkn's serial execution: latency alone for `duration` (the machine's connects to the node
    are 150 ms slower, no htb class), then bandwidth alone (the htb class at 5mbit, connects as
    fast as before); the node's qdiscs and mangle rules as before after each."""
    core = client.CoreV1Api(api_client)
    port, answers = _host_server(kubectl, kubeconfig, namespace)
    assert wait_for(answers, timeout=30, what="the machine reaching the node's port")
    node_ip, netns = realnode_ip(kubectl, kubeconfig), real_node["netns"]
    rules_before = mangle_rules(netns)

    def classes() -> str:
        return subprocess.run(["nsenter", f"--net={netns}", "tc", "class", "show", "dev", "eth0"], capture_output=True,
                              text=True).stdout

    before, classes_before = connect_ms(node_ip, port), classes()
    on_event, seen = holding(lambda: (connect_ms(node_ip, port), classes()))
    data = {"network_chaos": {"duration": 1, "node_name": realnode.NODE_NAME, "execution": "serial",
                              "egress": {"latency": "150ms", "bandwidth": "5mbit"}}}
    _, result, _ = run_scenario(tmp_path, api_client, "network_chaos_scenarios", data, on_event=on_event)
    assert result.status == "passed", [s.message for s in result.scenarios]
    [(slow, no_class), (fast, htb)] = seen
    assert_rise(before, slow, 150.0)
    assert "rate 5Mbit" not in no_class and "class htb 100:1 root" in htb and "rate 5Mbit" in htb
    assert abs(fast - before) <= BACK_MS
    assert classes() == classes_before and mangle_rules(netns) == rules_before
    assert wait_for(lambda: not chaos_pods(core, "default"), timeout=60, what="the chaos pods gone")


@pytest.mark.cluster
def test_pod_network_scenarios_latency_rises_the_rtt_through_the_same_path(tmp_path, api_client, kubectl, kubeconfig,
                                                                           namespace, real_node):
    """krkn's pod_egress_shaping with `latency`: the server pod's replies are delayed by 200 ms
    (netem, or netem-queue's NFQUEUE rule where the kernel has no netem), then nothing is left."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    server_ip = core.read_namespaced_pod("server", namespace).status.pod_ip
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    rules_before, machine, tables = mangle_rules(netns), machine_net(real_node), nft_ruleset(netns)
    before = median_rtt(kubectl, kubeconfig, namespace, server_ip)
    on_event, seen = holding(lambda: median_rtt(kubectl, kubeconfig, namespace, server_ip))
    spec = {"id": "pod_egress_shaping", "config": {"namespace": namespace, "label_selector": "app=web",
                                                   "network_params": {"latency": "200ms"}, "test_duration": 1}}
    _, result, events = run_scenario(tmp_path, api_client, "pod_network_scenarios", [spec], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [rtt] = seen
    assert_rise(before, rtt, 200.0)
    assert abs(median_rtt(kubectl, kubeconfig, namespace, server_ip) - before) <= BACK_MS
    assert mangle_rules(netns) == rules_before and nft_ruleset(netns) == tables
    assert machine_net(real_node) == machine
    if mechanism() == "nfqueue":
        assert [c["action"] for c in changes(events)] == ["create_pod", "netem-queue", "iptables"]
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
