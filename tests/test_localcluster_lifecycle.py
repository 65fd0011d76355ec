"""`cluster up | down | status` on a second, private cluster: idempotence, crash recovery,
loopback-only listeners and no orphans."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kubehelpers import wait_for
from krkn_tui.localcluster import LocalCluster
from krkn_tui.localcluster import processes

pytestmark = pytest.mark.cluster


def _listening_ports(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                addr, port = cols[1].split(":")
                found.append((addr, int(port, 16)))
    return found


# progress.clock: seconds under a minute, minutes and seconds above (a loaded machine gets there)
ELAPSED = r"(?:\d+\.\ds|\d+m\d\ds)"


@pytest.fixture
def private_cluster(tmp_path, local_cluster):
    # Reuses the session's binaries (local_cluster built them) but its own state and ports; its tests
    # are about the control plane, so no real node (test_real_node.py has its own private cluster).
    cluster = LocalCluster(state_dir=tmp_path / "cluster", cache_dir=local_cluster.cache_dir, say=lambda _: None)
    yield cluster
    cluster.down()


def test_up_twice_is_a_noop_and_down_twice_works(private_cluster):
    said = []
    private_cluster.say = said.append
    first = private_cluster.up(nodes=1, real_node=False)
    # Progress: each component started, with the time since `up` began, then the total.
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        assert any(re.match(rf"\[\+{ELAPSED}\] started {name} \(pid \d+\)$", line) for line in said), (name, said)
    assert re.match(rf"local cluster ready in {ELAPSED}: context krkn-local", said[-1]), said
    pids = [p["pid"] for p in first["processes"]]
    again = private_cluster.up(nodes=1, real_node=False)
    assert [p["pid"] for p in again["processes"]] == pids
    assert private_cluster.status()["running"]

    for pid in pids:
        for addr, _ in _listening_ports(pid):
            assert addr in ("0100007F", "00000000000000000000000001000000"), f"pid {pid} listens on {addr}"

    assert sorted(private_cluster.down()) == sorted(p["name"] for p in first["processes"])
    assert private_cluster.down() == []
    assert not any(processes.alive(p["pid"], p["start_time"]) for p in first["processes"])
    assert private_cluster.status()["running"] is False


def test_dead_component_is_detected_and_cluster_restarted_cleanly(private_cluster):
    state = private_cluster.up(nodes=1, real_node=False)
    apiserver = next(p for p in state["processes"] if p["name"] == "kube-apiserver")
    os.kill(apiserver["pid"], signal.SIGKILL)
    assert not private_cluster.running()
    restarted = private_cluster.up(nodes=1, real_node=False)
    assert private_cluster.running()
    new_pids = {p["pid"] for p in restarted["processes"]}
    assert not new_pids & {p["pid"] for p in state["processes"]}
    # The old survivors were stopped, not orphaned.
    assert not any(processes.alive(p["pid"], p["start_time"]) for p in state["processes"])


def test_an_earlier_api_servers_lease_in_a_reused_etcd_folder_is_dropped(private_cluster):
    """A control plane killed outright leaves its API server's lease in etcd, and a restarted etcd
    gives it a new time to live: the next start drops it before its API server writes the
    `kubernetes` endpoint (a lease of another address would lead pods there meanwhile; the real
    node's test checks the endpoint itself)."""
    from krkn_tui.localcluster import apiendpoint

    state = private_cluster.up(nodes=1, real_node=False)
    # (127.0.0.1 is never an endpoint, loopback being refused there: the lease is what there is)
    wait_for(lambda: apiendpoint.leases(state["ports"]["etcd"]) == ["127.0.0.1"], timeout=30, interval=0.2,
             what="the API server's lease")
    # etcd first: its data keeps the lease as the API server last wrote it, whatever the machine's pace.
    for name in ("etcd", "kube-apiserver"):
        os.kill(next(p["pid"] for p in state["processes"] if p["name"] == name), signal.SIGKILL)
    said = []
    private_cluster.say = said.append
    restarted = private_cluster.up(nodes=1, real_node=False)
    assert any("dropped the etcd lease(s) of an earlier API server at 127.0.0.1" in line for line in said), said
    wait_for(lambda: apiendpoint.leases(restarted["ports"]["etcd"]) == ["127.0.0.1"], timeout=30, interval=0.2,
             what="the new API server's own lease")


def test_down_then_up_at_once_lets_the_new_kwok_take_its_nodes(private_cluster):
    """Each kwok has a new identity and leaves a node alone whose lease another holder renewed
    within nodeLeaseDurationSeconds (200 s): `up` releases the earlier kwok's leases first, so a
    pod on a fake node runs at once, not minutes later (the test's bound is well under 200 s)."""
    from krkn_tui.localcluster.certs import ensure_pki
    from krkn_tui.localcluster.rest import Rest

    def running_pod(name: str) -> None:
        rest = Rest(private_cluster.server(), ensure_pki(private_cluster.state_dir / "pki"))
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
               "spec": {"nodeName": "kwok-node-0", "containers": [{"name": "c", "image": "pause"}]}}
        rest.ensure("/api/v1/namespaces/default/pods", pod)
        wait_for(lambda: rest.call("GET", f"/api/v1/namespaces/default/pods/{name}")[1]
                 .get("status", {}).get("phase") == "Running", timeout=90, what=f"{name} Running on kwok-node-0")

    private_cluster.up(nodes=1, real_node=False)
    running_pod("before")
    private_cluster.down()
    private_cluster.up(nodes=1, real_node=False)
    running_pod("after")


def test_cli_status_and_kubeconfig(private_cluster, tmp_path):
    env = {**os.environ, "KRKN_TUI_CLUSTER_DIR": str(private_cluster.state_dir),
           "KRKN_TUI_CACHE": str(private_cluster.cache_dir)}
    out = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "kubeconfig"], env=env,
                         capture_output=True, text=True)
    assert out.stdout.strip() == str(private_cluster.kubeconfig)
    down = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "status"], env=env,
                          capture_output=True, text=True)
    assert down.returncode == 1 and "not running" in down.stdout
    bad = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "up", "--nodes", "0"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--nodes" in bad.stderr


def test_a_taken_port_is_avoided(private_cluster, monkeypatch):
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    real = processes.free_port
    handed = iter([taken])
    # The first port handed out is one that another program holds: startup must retry elsewhere.
    monkeypatch.setattr(processes, "free_port", lambda: next(handed, None) or real())
    try:
        state = private_cluster.up(nodes=1, real_node=False)
    finally:
        blocker.close()
    assert private_cluster.running()
    assert taken not in state["ports"].values()


def test_without_the_real_node_the_demo_is_kwok_pods_and_down_then_up_keeps_its_endpoint(private_cluster, monkeypatch):
    """Also: `down` then `up --demo` finds the endpoint's port free again, though the stopped
    server's answers left connections in TIME_WAIT on it (the port config.yaml's check names)."""
    import json
    import urllib.error
    import urllib.request

    from krkn_tui.localcluster import health
    from krkn_tui.localcluster.demo import PAUSE_IMAGE
    from krkn_tui.localcluster.rest import Rest
    from krkn_tui.localcluster.certs import ensure_pki

    port = processes.free_port()
    monkeypatch.setenv("KRKN_TUI_DEMO_HEALTH_PORT", str(port))
    state = private_cluster.up(nodes=1, demo=True, demo_profile="fast", real_node=False)
    assert "node" not in state
    rest = Rest(private_cluster.server(), ensure_pki(private_cluster.state_dir / "pki"))
    _, dep = rest.call("GET", "/apis/apps/v1/namespaces/krkn-demo/deployments/frontend")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == PAUSE_IMAGE
    url = private_cluster.status()["health"]
    assert url == f"http://127.0.0.1:{port}/health"

    def get():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    code, body = get()
    assert code == 200 and body["source"] == "api-objects" and body["note"] == health.KWOK_NOTE
    # urllib may close its end first (then TIME_WAIT sits on the client's port); reading to EOF
    # makes the server close first, so its own port is left waiting.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        while raw.recv(65536):
            pass
    private_cluster.down()
    listing = subprocess.run(["ss", "-Htan", "state", "time-wait", f"sport = :{port}"], capture_output=True, text=True)
    assert listing.stdout.strip(), "the endpoint's closed connections wait on its port"
    private_cluster.up(nodes=1, demo=True, demo_profile="fast", real_node=False)
    assert private_cluster.status()["health"] == url
    assert get()[0] == 200
