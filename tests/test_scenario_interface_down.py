"""network_chaos_ng's node_interface_down on the real node: the node's pods are out of the
machine's reach through their NodePort while its interface is down and back after; the node is
Ready after; a route through the interface (which going down drops) is back; kill -9 of the runner
then `execute-rollback` completes it (adding back what the node's own timer did not); a stop (the
console's E-STOP, a signal) while it is down brings it back without waiting out the timer; the
machine's links, addresses, routes, qdiscs and rule sets are as they were."""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import wait_for
from guardhelpers import LEASE, UNDO_WAYS, journal_ns, undo_killed_run  # noqa: F401 (a fixture)
from runhelpers import Run, metric, pending, web_target, write_config
from test_real_node import real_node  # noqa: F401
from test_scenario_app_outage import changes, run_scenario
from test_scenario_network_chaos_ng import NG, chaos_pods, entry, holding, machine_net
from test_scenario_network_chaos_ng import nothing_left_on_the_node  # noqa: F401  (the leftover check, autouse)
from krkn_tui.config import load_config
from krkn_tui.engine import plan
from krkn_tui.events import Step
from krkn_tui.localcluster import realnode
from krkn_tui.scenarios.netchaos import ANNOTATIONS_FILE, UP_ANNOTATION, chaos_pod, delete_network_rule
from krkn_tui.scenarios.network_chaos_ng import interface_up_commands, parse_network_chaos_ng
from krkn_tui.scenarios.preview import preview_plan
from krkn_tui.yamlio import load_yaml_file

KRKN_FILE = Path(__file__).parent / "data" / "krkn_repo" / "scenarios" / "kube" / "node_interface_down.yaml"
ROUTE = "198.51.100.0/24"  # TEST-NET-2, only ever in the node's own namespace


def down_entry(namespace: str, **fields) -> dict:
    e = entry("node_interface_down", namespace, target=realnode.NODE_NAME, execution="serial", recovery_time=0,
              **fields)
    for key in ("protocols", "ingress", "egress"):
        del e[key]
    return e


def in_node(netns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={netns}", *argv], capture_output=True, text=True, check=check)


def eth0(netns: str) -> tuple[bool, list[str], list[str]]:
    """The node interface's state: up, its addresses, its routes (without linkdown flags)."""
    flags = in_node(netns, "ip", "-o", "link", "show", "dev", "eth0").stdout.split("<")[1].split(">")[0].split(",")
    addrs = sorted(line.split()[3] for line in in_node(netns, "ip", "-o", "addr", "show", "dev", "eth0").stdout
                   .splitlines() if "scope global" in line)
    routes = sorted(" ".join(w for w in line.split() if w != "linkdown")
                    for fam in ("-4", "-6") for line in in_node(netns, "ip", fam, "-o", "route", "show", "dev", "eth0")
                    .stdout.splitlines())
    return "UP" in flags, addrs, routes


def machine_routes(node: dict) -> list[str]:
    """The machine's routes, less those of other clusters' nodes (tests beside this one)."""
    other = re.compile(r"\bkt[0-9a-f]{6}(h|br)\b")
    return sorted(line for line in subprocess.run(["ip", "-o", "route", "show", "table", "all"], capture_output=True,
                                                  text=True).stdout.splitlines()
                  if not other.search(line) or node["host_if"] in line)


def host_ip(node: dict) -> str:
    """The machine's end of the node's veth: the address before the node's in their /30."""
    return str(ipaddress.ip_address(node["node_ip"]) - 1)


@pytest.fixture
def node_route(real_node):  # noqa: F811
    """A static route through the node's eth0 (and, where IPv6 is on, a global IPv6 address):
    what `ip link set down` drops and the run must add back."""
    netns = real_node["netns"]
    in_node(netns, "ip", "route", "add", ROUTE, "via", host_ip(real_node), "dev", "eth0")
    v6 = in_node(netns, "ip", "-6", "addr", "add", "fd00:6b72:6b6e::2/64", "dev", "eth0", "nodad", check=False)
    try:
        yield v6.returncode == 0
    finally:
        in_node(netns, "ip", "route", "del", ROUTE, check=False)
        in_node(netns, "ip", "-6", "addr", "del", "fd00:6b72:6b6e::2/64", "dev", "eth0", check=False)
        assert eth0(netns)[0], "the node's eth0 is left down"


def test_krkns_file_loads_unchanged():
    [spec] = parse_network_chaos_ng(load_yaml_file(KRKN_FILE), KRKN_FILE)
    assert (spec.id, spec.label_selector, spec.target, spec.interfaces) == (
        "node_interface_down", "node-role.kubernetes.io/worker=", None, ())
    assert (spec.execution, spec.test_duration, spec.recovery_time, spec.instance_count) == ("serial", 60, 30, 1)


def test_the_timer_sets_up_then_addresses_then_routes():
    record = [{"dev": "eth0", "addrs": ["fd00::2/64 nodad"], "routes": [["-4", "10.0.0.0/24 proto kernel scope link"],
                                                                  ["-4", "default via 10.0.0.1"]]}]
    assert interface_up_commands(record) == [
        ["ip", "link", "set", "eth0", "up"], ["ip", "addr", "add", "fd00::2/64", "nodad", "dev", "eth0"],
        ["ip", "-4", "route", "add", "10.0.0.0/24", "proto", "kernel", "scope", "link", "dev", "eth0"],
        ["ip", "-4", "route", "add", "default", "via", "10.0.0.1", "dev", "eth0"]]


def test_the_undo_asks_the_timer_through_the_annotation_the_pod_reads():
    """The undo (a version file's code, which imports nothing of krkn-tui) writes UP_ANNOTATION;
    the chaos pod of node_interface_down has its annotations at ANNOTATIONS_FILE, where the timer
    looks for it."""
    import inspect

    from krkn_tui.scenarios.network_chaos_ng import parse_network_chaos_ng as parse

    assert f'"{UP_ANNOTATION}": "now"' in inspect.getsource(delete_network_rule)
    [spec] = parse([down_entry("ns")], "f.yml")
    pod = chaos_pod("p", "c", spec, "n", "run", annotations=True)["spec"]
    [mount] = pod["containers"][0]["volumeMounts"]
    [item] = next(v for v in pod["volumes"] if v["name"] == mount["name"])["downwardAPI"]["items"]
    assert f"{mount['mountPath']}/{item['path']}" == ANNOTATIONS_FILE and item["fieldRef"]["fieldPath"] == \
        "metadata.annotations"
    assert "volumes" not in chaos_pod("p", "c", spec, "n", "run")["spec"]  # krkn's pod, as it renders it


@pytest.mark.parametrize("bad, why", [
    ({"dev": "eth0; reboot", "addrs": [], "routes": []}, "interface name"),
    ({"dev": "eth0", "addrs": ["1.2.3.4/24;x"], "routes": []}, "address"),
    ({"dev": "eth0", "addrs": ["1.2.3.4/24 label"], "routes": []}, "address"),
    ({"dev": "eth0", "addrs": [], "routes": [["-4", "default via 1.2.3.4 $(reboot)"]]}, "route"),
    ({"dev": "eth0", "addrs": [], "routes": [["--force", "default"]]}, "route"),
])
def test_a_hostile_record_is_refused_before_any_exec(bad, why):
    class Content:
        namespace = "ns"
        data = {"tool": "link", "pod": "p", "container": "c", "node": "n", "interfaces": [bad]}

    with pytest.raises(RuntimeError, match=f"refusing a recorded {why}"):
        delete_network_rule(Content(), api_client=None)


def test_a_hostile_timer_path_is_refused_before_any_exec():
    class Content:
        namespace = "ns"
        data = {"tool": "link", "pod": "p", "container": "c", "node": "n", "timer": "/tmp/x; reboot",
                "interfaces": [{"dev": "eth0", "addrs": [], "routes": []}]}

    with pytest.raises(RuntimeError, match="refusing a recorded timer"):
        delete_network_rule(Content(), api_client=None)


@pytest.mark.cluster
def test_krkns_file_previews_its_nodes_interfaces_and_pods(api_client, tmp_path):
    cfg = load_config(write_config(tmp_path, [(NG, KRKN_FILE.read_text())]))
    [got] = preview_plan(plan(cfg), api_client, cfg)
    assert got.ok, got.problem
    found = {t.kind: t for t in got.targets}
    assert found["nodes"].count == 1 and "set down for 60s" in found["nodes"].action
    assert found["interfaces"].names == (f"{found['nodes'].names[0]}/default",)
    assert "pods" in found


@pytest.mark.cluster
def test_interface_down_cuts_the_nodes_pods_off_then_all_is_back(tmp_path, api_client, namespace, real_node,
                                                                 node_route):
    core = client.CoreV1Api(api_client)
    url = web_target(api_client, namespace)
    netns, machine, routes = real_node["netns"], machine_net(real_node), machine_routes(real_node)
    before = eth0(netns)
    assert before[0] and f"{ROUTE} via {host_ip(real_node)}" in before[2]

    def during():
        cut = wait_for(lambda: metric(url, "krkn_demo_up") is None, timeout=30, interval=0.5,
                       what="the NodePort out of reach while eth0 is down")
        return cut, eth0(netns), machine_net(real_node) == machine

    on_event, seen = holding(during)
    _, result, events = run_scenario(tmp_path, api_client, NG, [down_entry(namespace, test_duration=10)],
                                     on_event=on_event)
    assert result.status == "passed", result.scenarios[0].message
    [(cut, down, machine_same)] = seen
    assert cut is True and down[0] is False and ROUTE not in " ".join(down[2]) and machine_same
    assert eth0(netns) == before  # up, with the static route and the IPv6 address back
    assert metric(url, "krkn_demo_up") is not None
    assert any(c.type == "Ready" and c.status == "True" for c in core.read_node(realnode.NODE_NAME).status.conditions)
    assert [c["action"] for c in changes(events)] == ["create_pod", "ip"]
    assert [s.status for s in result.rollback] == ["executed", "executed"]  # the interface, then the pod
    assert machine_net(real_node) == machine and machine_routes(real_node) == routes
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")


@pytest.mark.cluster
@pytest.mark.parametrize("undo", UNDO_WAYS)
def test_kill_9_while_down_then_its_undo_brings_it_all_back(tmp_path, api_client, kubeconfig, namespace, real_node,
                                                            node_route, journal_ns, undo):
    """The runner dies while the interface is down: the node's timer sets it up after the test
    duration; here it is made to have done only that (the route taken away again, as krkn's timer
    would leave it), and `execute-rollback` adds the route back, then deletes the chaos pod; or the
    guard, from the journal with no pods/exec, deletes the chaos pod, whose TERM trap adds it."""
    core = client.CoreV1Api(api_client)
    url = web_target(api_client, namespace)
    netns, machine, routes = real_node["netns"], machine_net(real_node), machine_routes(real_node)
    before = eth0(netns)
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(NG, [down_entry(namespace, test_duration=15)])], versions=versions,
                           cluster_journal_namespace=journal_ns, **LEASE), kubeconfig)
    try:
        run.wait_for(r"holding 15s", timeout=120)
        assert wait_for(lambda: metric(url, "krkn_demo_up") is None, timeout=30, interval=0.5,
                        what="the NodePort out of reach")
        run.proc.kill()
        run.finish()
        assert len(pending(versions)) == 2, run.output  # the pod and the interface
        try:
            wait_for(lambda: eth0(netns) == before, timeout=60, what="the node's timer setting eth0 up")
        except AssertionError:
            assert eth0(netns) == before
        in_node(netns, "ip", "route", "del", ROUTE)
        undo_killed_run(undo, run, versions, api_client, journal_ns, kubeconfig, tmp_path)
        assert wait_for(lambda: eth0(netns) == before, timeout=30, what=f"eth0 as before after {undo}")
        assert wait_for(lambda: metric(url, "krkn_demo_up") is not None, timeout=30, what="the NodePort back")
        assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert machine_net(real_node) == machine and machine_routes(real_node) == routes


@pytest.mark.cluster
@pytest.mark.parametrize("moment", ["while down", "before the timer sets it down"])
def test_a_stop_brings_it_back_without_waiting_out_the_timer(tmp_path, api_client, namespace, real_node, node_route,
                                                             moment):
    """The stop the console's E-STOP and the signals make (the engine's stop event), its timer set
    for DOWN_FOR s. Once eth0 is down: the run's rollback asks the timer to set it up now (the
    chaos pod's annotation, which the node's kubelet still receives); eth0 comes up with its route
    and addresses within UP_WITHIN s of the stop, well before the timer's time (the bound is a
    wait, not a measure of speed: without the ask, it would come at DOWN_FOR s). In the 2 s before
    the timer sets it down: the interface ends as it was (the undo lets a started timer run to its
    end before the pod is deleted; here the deletion mostly comes before the timer's down anyway,
    so this does not prove that wait). Either way the NodePort answers, no chaos pod is left, the
    machine is as it was."""
    DOWN_FOR, UP_WITHIN = 180, 60
    core = client.CoreV1Api(api_client)
    url = web_target(api_client, namespace)
    netns, machine, routes = real_node["netns"], machine_net(real_node), machine_routes(real_node)
    before = eth0(netns)
    seen: dict = {}

    def watch() -> None:  # polls the interface from the stop on, beside the run's rollback
        deadline = seen["stop"] + UP_WITHIN
        while time.monotonic() < deadline:
            if eth0(netns)[0]:
                seen["up"] = time.monotonic()
                return
            time.sleep(0.2)

    def on_event(event, engine):
        if isinstance(event, Step) and "holding" in event.message and "stop" not in seen:
            if moment == "while down":
                seen["down"] = wait_for(lambda: not eth0(netns)[0], timeout=30, interval=0.2, what="eth0 down")
            seen["stop"] = time.monotonic()
            seen["watcher"] = threading.Thread(target=watch, daemon=True)
            seen["watcher"].start()
            engine.stop.set()

    _, result, _ = run_scenario(tmp_path, api_client, NG, [down_entry(namespace, test_duration=DOWN_FOR)],
                                on_event=on_event)
    seen["watcher"].join(UP_WITHIN + 5)
    assert result.status == "interrupted", result.scenarios[0].message
    assert [s.status for s in result.rollback] == ["executed", "executed"]  # the interface, then the pod
    assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    if moment == "while down":
        assert seen["down"] and "up" in seen, f"eth0 not up within {UP_WITHIN}s of the stop (timer: {DOWN_FOR}s)"
        print(f"eth0 up {seen['up'] - seen['stop']:.1f}s after the stop (its timer was set for {DOWN_FOR}s)")
    assert eth0(netns) == before  # up, with the static route and the IPv6 address back; no timer left to cut
    assert wait_for(lambda: metric(url, "krkn_demo_up") is not None, timeout=30, what="the NodePort back")
    assert machine_net(real_node) == machine and machine_routes(real_node) == routes


@pytest.mark.cluster
def test_sigterm_to_the_run_while_down_rolls_it_back_without_waiting_out_the_timer(tmp_path, api_client, kubeconfig,
                                                                                  namespace, real_node, node_route):
    """`krkn-tui run` gets SIGTERM while eth0 is down, its timer set for 180 s: the run rolls back
    and exits 128+15 within 60 s (Run.finish's bound; the timer alone would take 180 s), nothing
    pending, eth0 up with its route and addresses, no chaos pod left."""
    core = client.CoreV1Api(api_client)
    netns, machine, routes = real_node["netns"], machine_net(real_node), machine_routes(real_node)
    before = eth0(netns)
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(NG, [down_entry(namespace, test_duration=180)])], versions=versions), kubeconfig)
    try:
        run.wait_for(r"holding 180s", timeout=120)
        wait_for(lambda: not eth0(netns)[0], timeout=30, interval=0.2, what="eth0 down")
        stop = time.monotonic()
        run.proc.send_signal(signal.SIGTERM)
        assert run.finish(timeout=60) == 128 + signal.SIGTERM, run.output
        print(f"run stopped and rolled back {time.monotonic() - stop:.1f}s after SIGTERM (timer: 180s)")
        assert "Traceback" not in run.output and pending(versions) == [], run.output
        assert eth0(netns) == before
        assert wait_for(lambda: not chaos_pods(core, namespace), timeout=60, what="the chaos pod gone")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert machine_net(real_node) == machine and machine_routes(real_node) == routes
