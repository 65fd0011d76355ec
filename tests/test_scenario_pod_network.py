"""pod_network_scenarios on the real node (krkn's OVS flows made as iptables rules and htb in the
pod's own network namespace): a connection to the pod fails during the outage and succeeds after;
egress shaping holds the pod's transfer at the configured rate (measured; the htb class's counters
rise); serial execution applies one parameter after the other, each undone before the next; kill
-9 of the runner then `execute-rollback` leaves no rule, qdisc or chaos pod; the machine's links,
addresses, qdiscs and rule sets are unchanged throughout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import wait_for
from runhelpers import Run, krkn, pending, run_dirs, write_config
from test_real_node import _server_and_client, real_node  # noqa: F401
from test_scenario_app_outage import changes, run_scenario
from test_scenario_network_chaos_ng import (BW_KIB, assert_rate, chain_rules, chaos_pods, fetch_kbit, holding,
                                            machine_net, pod_netns, tc)
from test_scenario_network_latency import BACK_MS, assert_rise, mangle_rules, mechanism, median_rtt
from test_scenario_network_chaos_ng import nothing_left_on_the_node  # noqa: F401  (the leftover check, autouse)
from krkn_tui.errors import UserError
from krkn_tui.scenarios.pod_network import PodNetworkPlugin, outage_rules, parse_pod_network, serial_phases
from krkn_tui.yamlio import load_yaml_file

PN = "pod_network_scenarios"
KRKN_REPO = Path(__file__).parent / "data" / "krkn_repo" / "scenarios" / "openshift"


def outage(namespace: str, **config) -> dict:
    return {"id": "pod_network_outage", "config": {"namespace": namespace, "label_selector": "app=web",
                                                   "instance_count": 1, "test_duration": 5, **config}}


def shaping(namespace: str, way: str, **config) -> dict:
    return {"id": f"pod_{way}_shaping", "config": {"namespace": namespace, "label_selector": "app=web",
                                                   "network_params": {"bandwidth": "1mbit"}, "test_duration": 5,
                                                   **config}}


def state(netns: str) -> tuple:
    """A pod namespace's rules, qdiscs and links."""
    links = [line.split(":")[1].strip() for line in subprocess.run(
        ["nsenter", f"--net={netns}", "ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()]
    return chain_rules(netns), tc(netns, "qdisc", "show"), links


def test_krkns_outage_file_loads_and_its_rules_are_its_flows():
    [spec] = parse_pod_network(load_yaml_file(KRKN_REPO / "pod_network_outage.yml"), "f.yml")
    assert (spec.namespace, spec.direction, spec.ingress_ports, spec.label_selector) == (
        "krkn-demo", ("ingress",), (8080,), "app=frontend")
    assert outage_rules(spec, "eth0", "t") == [
        ("INPUT", ["-i", "eth0", "-p", proto, "--dport", "8080", "-m", "comment", "--comment", "t", "-j", "DROP"])
        for proto in ("tcp", "udp")]
    [both] = parse_pod_network([outage("ns", direction=["ingress", "egress"], egress_ports=[])], "f.yml")
    assert outage_rules(both, "eth0", "t") == [  # no ports: one rule per direction, every packet
        ("INPUT", ["-i", "eth0", "-m", "comment", "--comment", "t", "-j", "DROP"]),
        ("OUTPUT", ["-o", "eth0", "-m", "comment", "--comment", "t", "-j", "DROP"])]


@pytest.mark.parametrize("entry, field, message", [
    ({"id": "pod_network_outage", "config": {"namespace": "n"}}, "[0].config", "needs pod_name or label_selector"),
    ({"id": "pod_network_outage", "config": {"namespace": "n", "pod_name": "p", "direction": []}},
     "[0].config.direction", "lists no direction"),
    ({"id": "pod_egress_shaping", "config": {"namespace": "n", "pod_name": "p", "network_params": {"loss": "2 %"}}},
     "[0].config.network_params.loss", "expected a percentage 0-100"),
    ({"id": "pod_egress_shaping", "config": {"namespace": "n", "pod_name": "p", "network_params": {}}},
     "[0].config.network_params", "needs latency, loss or bandwidth"),
    ({"id": "pod_egress_shaping", "config": {"namespace": "n", "pod_name": "p", "network_params": {"bandwidth": "1mbps"}}},
     "[0].config.network_params.bandwidth", "expected a number followed by bit"),
    ({"id": "pod_egress_shaping", "config": {"namespace": "n", "pod_name": "p", "execution_type": "both",
                                             "network_params": {"bandwidth": "1mbit"}}},
     "[0].config.execution_type", "unknown value 'both'"),
    ({"id": "pod_network_chaos", "config": {}}, "[0].id", "unknown value 'pod_network_chaos'"),
    ({"id": "network_chaos", "config": {}}, "[0].id", "list the file under ingress_node_scenarios"),
    ({"id": "pod_network_outage", "config": {"namespace": "n", "pod_name": "<pod name>"}},
     "[0].config.pod_name", "not a valid pod name"),
    ({"id": "pod_network_outage", "config": {"namespace": "n", "pod_name": "p", "test_duration": 0}},
     "[0].config.test_duration", "must be at least 1"),
])
def test_bad_fields_are_one_line_naming_the_field(entry, field, message):
    with pytest.raises(UserError) as err:
        parse_pod_network([entry], "f.yml")
    assert err.value.field == field and message in err.value.message and "\n" not in str(err.value)


def test_krkns_shaping_files_are_refused_in_one_line_for_their_placeholders():
    for name in ("pod_egress_shaping.yml", "pod_ingress_shaping.yml"):
        with pytest.raises(UserError) as err:
            parse_pod_network(load_yaml_file(KRKN_REPO / name), name)
        assert err.value.field == "[0].config.namespace" and "'<namespace>'" in err.value.message


@pytest.mark.cluster
@pytest.mark.parametrize("way", ["ingress", "egress"])
def test_outage_cuts_the_pod_off_then_its_rules_are_deleted(tmp_path, api_client, kubectl, kubeconfig, namespace,
                                                            real_node, way):
    """ingress on the server's port 8080, or egress of every packet from the client: the client's
    request through the Service fails during and succeeds after."""
    core = client.CoreV1Api(api_client)
    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the connection before the outage")
    target = "server" if way == "ingress" else "client"
    netns = pod_netns(core.read_namespaced_pod(target, namespace).metadata.uid)
    before, machine = state(netns), machine_net(real_node)

    def during():
        cut = wait_for(lambda: not connects(), timeout=30, interval=0.5, what="the outage to cut the connection")
        return cut, [r for r in chain_rules(netns) if r not in before[0]], machine_net(real_node) == machine

    on_event, seen = holding(during)
    config = {"direction": ["ingress"], "ingress_ports": [8080]} if way == "ingress" else \
        {"direction": ["egress"], "label_selector": None, "pod_name": "client"}
    _, result, events = run_scenario(tmp_path, api_client, PN, [outage(namespace, **config)], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(cut, added, machine_same)] = seen
    assert cut is True and machine_same
    if way == "ingress":
        assert [re.sub(r"krkn-tui:\w+", "T", r) for r in added] == [
            f"-A INPUT -i eth0 -p {p} -m {p} --dport 8080 -m comment --comment \"T\" -j DROP" for p in ("udp", "tcp")]
    else:
        assert [re.sub(r"krkn-tui:\w+", "T", r) for r in added] == ['-A OUTPUT -o eth0 -m comment --comment "T" -j DROP']
    assert wait_for(connects, timeout=30, what="the connection back after the outage")
    assert state(netns) == before and machine_net(real_node) == machine
    assert [c["action"] for c in changes(events)] == ["create_pod"] + ["iptables"] * len(added)
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
def test_egress_shaping_holds_back_what_the_pod_sends(tmp_path, api_client, kubectl, kubeconfig, namespace,
                                                      real_node):
    """krkn's htb tree at 1mbit on the server's interface: the client's fetch of 512 KiB runs at
    1 Mbit/s during (the tolerances of test_scenario_network_chaos_ng's BW_*), many times that
    before and after, and the class's overlimits rise; after, the namespace's qdiscs and links are
    as before."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "exec", "server", "--", "dd",
                    "if=/dev/zero", "of=/tmp/www/big", "bs=1024", f"count={BW_KIB}"], check=True, capture_output=True)
    ip = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace, "get", "service", "server", "-o",
                         "jsonpath={.spec.clusterIP}"], capture_output=True, text=True, check=True).stdout.strip()
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    client_netns = pod_netns(core.read_namespaced_pod("client", namespace).metadata.uid)
    before, machine = state(netns), machine_net(real_node)

    def during():
        rate = fetch_kbit(ip, 80, netns=client_netns)
        classes = tc(netns, "-s", "class", "show", "dev", "eth0")
        return "class htb 100:1 root" in classes and "rate 1Mbit" in classes, rate, \
            [int(m) for m in re.findall(r"overlimits (\d+)", classes)], machine_net(real_node) == machine

    rate_before = fetch_kbit(ip, 80, netns=client_netns)
    on_event, seen = holding(during)
    _, result, events = run_scenario(tmp_path, api_client, PN, [shaping(namespace, "egress", test_duration=1)],
                                     on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(shaped, rate, overlimits, machine_same)] = seen
    assert shaped and max(overlimits) > 0 and machine_same
    assert_rate(rate_before, rate, fetch_kbit(ip, 80, netns=client_netns), 1000)
    assert state(netns) == before and machine_net(real_node) == machine
    assert [c["action"] for c in changes(events)] == ["create_pod", "tc", "tc"]
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


def test_serial_is_one_parameter_at_a_time_in_krkns_order():
    [spec] = parse_pod_network([shaping("ns", "egress", execution_type="serial",
                                        network_params={"bandwidth": "1mbit", "loss": "5%", "latency": "50ms"})], "f")
    assert [(p.latency, p.loss, p.bandwidth) for p in serial_phases(spec)] == [
        ("50ms", None, None), (None, "5", None), (None, None, "1mbit")]
    assert all(p.test_duration == spec.test_duration and p.label_selector == "app=web" for p in serial_phases(spec))
    assert PodNetworkPlugin.describe(spec).startswith("pod_egress_shaping: latency 50ms, loss 5%, bandwidth 1mbit one "
                                                      "at a time on egress")


@pytest.mark.cluster
def test_serial_shaping_applies_each_parameter_alone_and_undoes_it_before_the_next(tmp_path, api_client, kubectl,
                                                                                 kubeconfig, namespace, real_node):
    """krkn's execution_type serial on the server's egress: latency 200 ms alone (the client's RTT
    rises, no 1mbit class), held, undone; then bandwidth 1mbit alone (the htb class, the latency's
    rule gone and the RTT as before); each phase's chaos pod and change in version files before
    they are made, the first phase's executed (undone) before the second's are there."""
    core = client.CoreV1Api(api_client)
    _server_and_client(kubectl, kubeconfig, namespace)
    server_ip = core.read_namespaced_pod("server", namespace).status.pod_ip
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    before, machine, rules_before = state(netns), machine_net(real_node), mangle_rules(netns)
    versions = tmp_path / "versions"

    def during():
        return (median_rtt(kubectl, kubeconfig, namespace, server_ip), tc(netns, "class", "show", "dev", "eth0"),
                [r for r in mangle_rules(netns) if r not in rules_before], len(pending(versions)),
                len(list(versions.glob("*/*.py.executed"))))

    rtt_before = median_rtt(kubectl, kubeconfig, namespace, server_ip)
    on_event, seen = holding(during)
    entry = shaping(namespace, "egress", test_duration=1, execution_type="serial",
                    network_params={"bandwidth": "1mbit", "latency": "200ms"})
    _, result, events = run_scenario(tmp_path, api_client, PN, [entry], on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(slow, classes1, added1, pending1, executed1), (fast, classes2, added2, pending2, executed2)] = seen
    assert_rise(rtt_before, slow, 200.0)
    assert "rate 1Mbit" not in classes1 and "class htb 100:1 root" in classes2 and "rate 1Mbit" in classes2
    assert abs(fast - rtt_before) <= BACK_MS and added2 == []
    # a chaos pod and its change each, the first phase's executed before the second's are written
    assert (pending1, executed1) == (2, 0) and (pending2, executed2) == (2, 2)
    if mechanism() == "nfqueue":
        assert len(added1) == 1 and "NFQUEUE" in added1[0]
        assert [c["action"] for c in changes(events)] == ["create_pod", "netem-queue", "iptables", "create_pod",
                                                          "tc", "tc"]
    assert "2 parameters one after another" in result.scenarios[0].message
    assert state(netns) == before and mangle_rules(netns) == rules_before and machine_net(real_node) == machine
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pods gone")


@pytest.mark.cluster
@pytest.mark.parametrize("kind", ["outage", "ingress shaping"])
def test_kill_9_then_execute_rollback_leaves_no_rule_qdisc_or_chaos_pod(tmp_path, api_client, kubectl, kubeconfig,
                                                                      namespace, real_node, kind):
    core = client.CoreV1Api(api_client)
    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the connection before the run")
    netns = pod_netns(core.read_namespaced_pod("server", namespace).metadata.uid)
    before, machine = state(netns), machine_net(real_node)
    entry = outage(namespace, direction=["ingress"], ingress_ports=[8080], test_duration=300) if kind == "outage" \
        else shaping(namespace, "ingress", test_duration=300)
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(PN, [entry])], versions=versions), kubeconfig)
    try:
        run.wait_for(r"holding 300s", timeout=120)
        if kind == "outage":
            assert wait_for(lambda: not connects(), timeout=30, interval=0.5, what="the outage")
            assert len([r for r in chain_rules(netns) if r not in before[0]]) == 2
        else:
            assert "qdisc ingress ffff:" in tc(netns, "qdisc", "show", "dev", "eth0")
        run.proc.kill()
        run.finish()
        assert len(pending(versions)) == (3 if kind == "outage" else 2), run.output  # the pod and each change
        for run_id in run_dirs(versions):
            out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
            assert out.returncode == 0, out.stdout + out.stderr
        assert pending(versions) == []
        assert state(netns) == before
        assert wait_for(connects, timeout=30, what="the connection back after execute-rollback")
        assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert machine_net(real_node) == machine
