"""The local cluster's real node: Ready, real containers (exec, logs, a PID on the machine, a
network namespace of their own), NetworkPolicy enforced, no pull leaving the machine, and
nothing left on the machine by a private cluster's `up` then `down`.

Where the node cannot run these tests skip saying why; KRKN_TUI_REQUIRE_REAL_NODE=1 (CI) makes
them fail instead."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kubehelpers import wait_for
from krkn_tui.localcluster import realnode

BUSYBOX = "krkn-tui.io/busybox:1.35"


@pytest.fixture(scope="session")
def real_node(local_cluster):
    st = local_cluster.status()
    node = st.get("real_node")
    if not node or not all(p["alive"] for p in node["processes"]):
        why = realnode.missing(local_cluster.bin_dir, local_cluster.images_dir) or \
            "the session's cluster runs without it (see `cluster up`'s line about the real node)"
        if os.environ.get("KRKN_TUI_REQUIRE_REAL_NODE") == "1":
            pytest.fail(f"real node required (KRKN_TUI_REQUIRE_REAL_NODE=1) but not running: {why}")
        pytest.skip(f"no real node: {why}")
    return node


def require_pods_reach_the_api(cluster, node: dict) -> None:
    """Skip (fail under KRKN_TUI_REQUIRE_REAL_NODE=1) where the API server was started before it
    advertised the node's address: a cluster left running by an older krkn-tui."""
    argv = cluster.component_argv("kube-apiserver")
    if f"--advertise-address={node['node_ip']}" not in argv:
        why = "the running control plane predates pods reaching the API server (`cluster down`, then `up`)"
        if os.environ.get("KRKN_TUI_REQUIRE_REAL_NODE") == "1":
            pytest.fail(why)
        pytest.skip(why)


def _kubectl(kubectl, kubeconfig, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
    r = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r


def _pod(name: str, namespace: str, command: list[str], image: str = BUSYBOX, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": {
            "nodeSelector": {realnode.KIND_LABEL: "real"},
            "tolerations": [{"key": realnode.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "command": command}],
        },
    }


def _apply(kubectl, kubeconfig, obj: dict) -> None:
    r = subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "apply", "-f", "-"], input=json.dumps(obj),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _wait_ready(kubectl, kubeconfig, namespace, name) -> None:
    _kubectl(kubectl, kubeconfig, "-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s",
             timeout=120)


def test_one_real_node_is_ready(real_node, kubectl, kubeconfig):
    out = _kubectl(kubectl, kubeconfig, "get", "nodes", "-l", f"{realnode.KIND_LABEL}=real", "-o", "json").stdout
    nodes = json.loads(out)["items"]
    assert [n["metadata"]["name"] for n in nodes] == [realnode.NODE_NAME]
    ready = [c for c in nodes[0]["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    kwok = json.loads(_kubectl(kubectl, kubeconfig, "get", "nodes", "-l", f"{realnode.KIND_LABEL}=kwok",
                               "-o", "json").stdout)["items"]
    assert kwok and realnode.NODE_NAME not in {n["metadata"]["name"] for n in kwok}


def test_a_pod_is_a_real_process_with_logs_exec_and_its_own_network(real_node, kubectl, kubeconfig, namespace):
    token = str(100000 + uuid.uuid4().int % 800000)  # a sleep length no other process on the machine uses
    _apply(kubectl, kubeconfig, _pod("real", namespace, ["sh", "-c", f"echo hello-{token}; exec sleep {token}"]))
    _wait_ready(kubectl, kubeconfig, namespace, "real")

    assert f"hello-{token}" in _kubectl(kubectl, kubeconfig, "-n", namespace, "logs", "real").stdout
    exec_out = _kubectl(kubectl, kubeconfig, "-n", namespace, "exec", "real", "--", "cat", "/proc/1/cmdline").stdout
    assert exec_out.split("\0")[:2] == ["sleep", token]

    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == ["sleep", token]]
    assert len(pids) == 1, f"the container's process on the machine: {pids}"
    pod_net = os.stat(f"/proc/{pids[0]}/ns/net").st_ino
    assert pod_net != os.stat("/proc/self/ns/net").st_ino  # not the machine's network
    node_net = os.stat(real_node["netns"]).st_ino
    assert pod_net != node_net  # nor the node's: a pod network namespace of its own


def _cmdline(pid: str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return []


def test_a_missing_image_shows_image_pull_backoff(real_node, kubectl, kubeconfig, namespace):
    _apply(kubectl, kubeconfig, _pod("nopull", namespace, ["true"], image="registry.invalid/krkn-tui/none:1"))

    def reason():
        out = _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "pod", "nopull", "-o", "json").stdout
        statuses = json.loads(out)["status"].get("containerStatuses") or []
        waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
        return waiting.get("reason") == "ImagePullBackOff"

    wait_for(reason, timeout=90, interval=0.5, what="ImagePullBackOff")


def _server_and_client(kubectl, kubeconfig, namespace):
    """An HTTP server pod (label app=web) behind a Service and a client pod, once the client
    reaches the server through the Service; returns that check."""
    _apply(kubectl, kubeconfig, _pod("server", namespace, ["sh", "-c", "mkdir -p /tmp/www && echo pong > "
                                                                       "/tmp/www/ping && exec httpd -f -p 8080 -h /tmp/www"],
                                     labels={"app": "web"}))
    _apply(kubectl, kubeconfig, _pod("client", namespace, ["sleep", "3600"]))
    _wait_ready(kubectl, kubeconfig, namespace, "server")
    _wait_ready(kubectl, kubeconfig, namespace, "client")
    _kubectl(kubectl, kubeconfig, "-n", namespace, "expose", "pod", "server", "--port=80", "--target-port=8080")
    ip = _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "service", "server", "-o",
                  "jsonpath={.spec.clusterIP}").stdout.strip()  # through kube-proxy's rules

    def connects() -> bool:
        # busybox's nc, not its wget: the static wget crashes resolving even a literal address.
        r = _kubectl(kubectl, kubeconfig, "-n", namespace, "exec", "client", "--", "sh", "-c",
                     f"printf 'GET /ping HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 80", check=False)
        return r.returncode == 0 and "pong" in r.stdout

    # Ready pods are not yet a Service that answers: until kube-proxy has its endpoint, the
    # address is rejected (a fetch then fails "Network is unreachable").
    wait_for(connects, timeout=60, what="the client reaching the server through the Service")
    return connects


def test_network_policy_deny_all_blocks_and_its_removal_restores(real_node, kubectl, kubeconfig, namespace):
    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="a TCP connection from one pod to the other's Service")
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "deny-all", "namespace": namespace},
              "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    _apply(kubectl, kubeconfig, policy)
    wait_for(lambda: not connects(), timeout=60, interval=0.5, what="the deny-all policy to block the connection")
    _kubectl(kubectl, kubeconfig, "-n", namespace, "delete", "networkpolicy", "deny-all")
    wait_for(connects, timeout=60, interval=0.5, what="the connection back once the policy is gone")


def _machine_snapshot() -> dict:
    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True).stdout

    links = sorted(line.split(":")[1].strip().split("@")[0] for line in run("ip", "-o", "link").splitlines())
    mounts = sorted(" ".join(line.split()[4:5] + line.split(" - ")[1].split()[:2])
                    for line in Path("/proc/self/mountinfo").read_text().splitlines())
    rules = [line for line in run("iptables-save").splitlines() if not line.startswith("#")]
    return {"links": links, "mounts": mounts, "iptables": rules, "nft": run("nft", "list", "ruleset"),
            "addresses": sorted(run("ip", "-4", "-o", "addr", "show").split("\n")),
            "loop devices": sorted(run("losetup", "-a").splitlines())}  # the real node's block device


def test_private_cluster_runs_beside_and_leaves_nothing_behind(real_node, tmp_path, local_cluster):
    before = _machine_snapshot()
    env = {**os.environ, "KRKN_TUI_CLUSTER_DIR": str(tmp_path / "cluster")}
    env.pop("KRKN_TUI_DEMO_HEALTH_PORT", None)
    cli = [sys.executable, "-m", "krkn_tui", "cluster"]
    try:
        up = subprocess.run([*cli, "up", "--nodes", "1"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        st = json.loads(subprocess.run([*cli, "status", "--json"], env=env, capture_output=True, text=True).stdout)
        mine = st["real_node"]
        assert mine and all(p["alive"] for p in mine["processes"]), up.stdout
        shared = local_cluster.status()["real_node"]
        # Names and the addresses the machine sees differ; service CIDRs come from a hash of the
        # folder and may meet, harmlessly: service addresses exist only inside each node.
        for key in ("host_if", "bridge", "node_ip", "pod_cidr", "cgroup_root"):
            assert mine[key] != shared[key], key
        assert mine["block"]["device"] != (shared.get("block") or {}).get("device")
        assert st["server"] != local_cluster.server()
        # A crash: the runtime and the kubelet die with -9; `up` clears what they left and starts
        # the node again in the same place.
        for p in mine["processes"]:
            if p["name"] in ("containerd", "kubelet"):
                os.kill(p["pid"], signal.SIGKILL)
        again = subprocess.run([*cli, "up", "--nodes", "1"], env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        st = json.loads(subprocess.run([*cli, "status", "--json"], env=env, capture_output=True, text=True).stdout)
        assert st["real_node"] and all(p["alive"] for p in st["real_node"]["processes"]), again.stdout
        assert st["real_node"]["host_if"] == mine["host_if"]
    finally:
        down = subprocess.run([*cli, "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    after = _machine_snapshot()
    for key in before:
        assert after[key] == before[key], f"{key} differ after up and down"


def _cpu_seconds(cgroup_root: str) -> float:
    return int(Path(f"/sys/fs/cgroup/cpuacct{cgroup_root}/kubepods/cpuacct.usage").read_text()) / 1e9


def _stress_pids(cgroup_root: str) -> list[int]:
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if _cmdline(p)[:1] == ["stress-ng"] and cgroup_root + "/" in Path(f"/proc/{p}/cgroup").read_text():
                out.append(int(p))
        except OSError:
            pass
    return out


def test_krkn_hog_image_burns_the_node_cpu_until_deleted(real_node, kubectl, kubeconfig, namespace):
    """krkn-lib's image name, pulled with its :latest policy (Always) from the node's own mirror."""
    if not Path("/sys/fs/cgroup/cpuacct/cpuacct.usage").exists():
        pytest.skip("no cgroup v1 cpuacct counters on this machine")
    root = real_node["cgroup_root"]
    pod = _pod("hog", namespace, [], image="quay.io/krkn-chaos/krkn-hog")
    container = pod["spec"]["containers"][0]
    del container["command"], container["imagePullPolicy"]
    pod["spec"]["restartPolicy"] = "Never"
    container["env"] = [{"name": k, "value": v} for k, v in
                        {"HOG_TYPE": "cpu", "WORKERS": "1", "LOAD_PERCENTAGE": "100", "CPU_METHOD": "all",
                         "DURATION": "600"}.items()]
    _apply(kubectl, kubeconfig, pod)
    _wait_ready(kubectl, kubeconfig, namespace, "hog")
    assert _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "pod", "hog", "-o",
                    "jsonpath={.spec.containers[0].imagePullPolicy}").stdout == "Always"
    start = _cpu_seconds(root)
    wait_for(lambda: _cpu_seconds(root) - start >= 2.0, timeout=60, interval=0.5,
             what="the node's pods to use 2 CPU-seconds more")
    assert _stress_pids(root)
    _kubectl(kubectl, kubeconfig, "-n", namespace, "delete", "pod", "hog", "--wait=false")
    wait_for(lambda: not _stress_pids(root), timeout=60, interval=0.5, what="stress-ng to end with its pod")


def test_where_the_node_cannot_run_one_phrase_says_why(tmp_path, monkeypatch):
    """Pure logic: the reason `up` prints (then it goes on with kwok nodes only)."""
    monkeypatch.setattr(realnode.platform, "system", lambda: "Darwin")
    assert realnode.missing(tmp_path, tmp_path) == "it needs Linux (this is Darwin)"
    monkeypatch.setattr(realnode.platform, "system", lambda: "Linux")
    monkeypatch.setattr(realnode.os, "geteuid", lambda: 1000)
    assert realnode.missing(tmp_path, tmp_path) == "it needs root (namespaces, veth, cgroups, mounts)"
    monkeypatch.setattr(realnode.os, "geteuid", lambda: 0)
    monkeypatch.setattr(realnode.shutil, "which", lambda tool: None if tool in ("runc", "ipset") else "/usr/bin/x")
    assert realnode.missing(tmp_path, tmp_path).startswith("missing Debian packages: ipset, runc")
    monkeypatch.setattr(realnode.shutil, "which", lambda tool: "/usr/bin/x")
    monkeypatch.setattr(realnode, "cni_dir", lambda: "/usr/lib/cni")
    assert realnode.missing(tmp_path, tmp_path) == (
        "not built: kubelet, kube-proxy, kube-router, crane, image pause (`krkn-tui cluster build`)")


def test_application_outage_really_drops_traffic_and_its_rollback_restores(real_node, kubectl, kubeconfig, namespace,
                                                                         api_client, tmp_path):
    """krkn-tui's application outage on pods of the real node: the connection through the Service
    works before, fails while the scenario's policy exists, works again after its rollback."""
    from krkn_tui.events import ClusterChange
    from test_scenario_app_outage import APP, outage, run_scenario

    connects = _server_and_client(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the connection before the outage")
    seen = []

    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            seen.append(wait_for(lambda: not connects(), timeout=60, interval=0.5,
                                 what="the outage's policy to drop the connection") is True)

    _, result, _ = run_scenario(tmp_path, api_client, APP, outage(namespace, 1, block=["Ingress"]), on_event=on_event)
    assert result.status == "passed", result.scenarios
    assert seen == [True]
    wait_for(connects, timeout=60, interval=0.5, what="the connection back after the rollback")


def test_pod_kill_on_the_real_node_recovers_with_a_new_container(real_node, kubectl, kubeconfig, namespace,
                                                                 api_client, tmp_path):
    """krkn-tui's pod disruption on the real node: the reported recovery spans a real container's
    start (a new containerd container, a new process on the machine)."""
    from test_scenario_app_outage import run_scenario

    template = _pod("web", namespace, ["sleep", "3600"], labels={"app": "web"})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}}, "spec": template["spec"]}}}
    _apply(kubectl, kubeconfig, deployment)

    def ready_pod():
        out = json.loads(_kubectl(kubectl, kubeconfig, "-n", namespace, "get", "pods", "-l", "app=web",
                                  "-o", "json").stdout)["items"]
        live = [p for p in out if "deletionTimestamp" not in p["metadata"]
                and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        return live[0] if len(live) == 1 else None

    before = wait_for(ready_pod, timeout=90, what="the web pod Ready on the real node")
    scenario = [{"id": "kill", "config": {"namespace_pattern": f"^{namespace}$", "label_selector": "app=web",
                                          "kill": 1, "krkn_pod_recovery_time": 90}}]
    _, result, _ = run_scenario(tmp_path, api_client, "pod_disruption_scenarios", scenario)
    assert result.status == "passed", result.scenarios
    [entry] = result.scenarios[0].details["pods"]
    assert entry["node"] == realnode.NODE_NAME and entry["name"] == before["metadata"]["name"]
    after = wait_for(ready_pod, timeout=90, what="the replacement Ready")
    assert after["metadata"]["name"] == entry["replacement"]
    old_id = before["status"]["containerStatuses"][0]["containerID"]
    new_id = after["status"]["containerStatuses"][0]["containerID"]
    assert new_id.startswith("containerd://") and new_id != old_id
    assert 0 <= entry["rescheduling_seconds"] < entry["readiness_seconds"]


def test_a_control_plane_started_before_the_node_keeps_running_without_it(tmp_path, monkeypatch):
    """A running cluster whose API server has no kubelet client certificate (started by an older
    krkn-tui) is left alone: one line says how to get the node, nothing is restarted."""
    from krkn_tui.localcluster import LocalCluster
    from krkn_tui.localcluster.progress import Progress

    said = []
    cluster = LocalCluster(state_dir=tmp_path / "cluster", cache_dir=tmp_path / "cache", say=said.append)
    monkeypatch.setattr(realnode, "missing", lambda bin_dir, images_dir: None)
    state = {"processes": [{"name": "kube-apiserver", "argv": ["kube-apiserver", "--secure-port=1"]}]}
    cluster._ensure_real_node(state, rest=None, timeout=1, progress=Progress(said.append))
    assert len(said) == 1 and "real node skipped: the running control plane predates it" in said[0]
    assert "node" not in state


def test_a_control_plane_started_without_the_node_advertises_it_once_the_node_comes(real_node, local_cluster,
                                                                                  tmp_path):
    """`up --no-real-node`, then `up`: the API server, which advertised 127.0.0.1, is restarted with
    the node's address, and the `kubernetes` Service leads there, without `down` and `up`."""
    from krkn_tui.localcluster import LocalCluster, apiendpoint

    said: list[str] = []
    cluster = LocalCluster(state_dir=tmp_path / "cluster", cache_dir=local_cluster.cache_dir, say=said.append)
    try:
        first = cluster.up(nodes=1, real_node=False)
        assert apiendpoint.advertised(next(p["argv"] for p in first["processes"]
                                           if p["name"] == "kube-apiserver")) == "127.0.0.1"
        state = cluster.up(nodes=1)
        assert state.get("node"), said
        node_ip = state["node"]["sandbox"]["node_ip"]
        apiserver = next(p for p in state["processes"] if p["name"] == "kube-apiserver")
        assert apiendpoint.advertised(apiserver["argv"]) == node_ip
        assert any(f"restarting it with the real node's address {node_ip}" in line for line in said), said
        assert apiendpoint.current(cluster._rest(state)) == ([node_ip], [state["ports"]["kube-apiserver"]])
        assert cluster.running()
    finally:
        cluster.down()


def test_a_pod_lists_namespaces_through_the_kubernetes_service_with_its_token(real_node, local_cluster, kubectl,
                                                                             kubeconfig, namespace):
    """In-cluster configuration as any controller uses it: KUBERNETES_SERVICE_HOST (the Service's
    address, through kube-proxy to the node's proxy), the ServiceAccount's token and CA. The
    static kubectl of the cache folder is lent to a busybox pod by a hostPath volume."""
    require_pods_reach_the_api(local_cluster, real_node)
    role = f"list-namespaces-{namespace}"
    rbac = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": role},
             "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": role},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
             "subjects": [{"kind": "ServiceAccount", "name": "lister", "namespace": namespace}]}]
    _kubectl(kubectl, kubeconfig, "-n", namespace, "create", "serviceaccount", "lister")
    pod = _pod("lister", namespace, ["/kubectl/kubectl", "get", "namespaces", "-o", "name"])
    lend = {"name": "kubectl", "hostPath": {"path": str(local_cluster.bin_dir), "type": "Directory"}}
    pod["spec"].update(serviceAccountName="lister", restartPolicy="Never", volumes=[lend])
    pod["spec"]["containers"][0].update(env=[{"name": "HOME", "value": "/tmp"}],
                                        volumeMounts=[{"name": "kubectl", "mountPath": "/kubectl", "readOnly": True}])
    try:
        for obj in rbac:
            _apply(kubectl, kubeconfig, obj)
        _apply(kubectl, kubeconfig, pod)

        def finished():
            out = _kubectl(kubectl, kubeconfig, "-n", namespace, "get", "pod", "lister", "-o",
                           "jsonpath={.status.phase}").stdout
            return out if out in ("Succeeded", "Failed") else None

        phase = wait_for(finished, timeout=90, interval=0.5, what="the lister pod to finish")
        logs = _kubectl(kubectl, kubeconfig, "-n", namespace, "logs", "lister").stdout
        assert phase == "Succeeded", logs
        assert {f"namespace/{namespace}", "namespace/kube-system"} <= set(logs.split()), logs
        host = _kubectl(kubectl, kubeconfig, "get", "service", "kubernetes", "-o",
                        "jsonpath={.spec.clusterIP}").stdout
        endpoints = _kubectl(kubectl, kubeconfig, "get", "endpointslices", "-n", "default", "-l",
                             "kubernetes.io/service-name=kubernetes", "-o",
                             "jsonpath={.items[0].endpoints[0].addresses[0]}").stdout
        assert host == str(ipaddress.ip_network(real_node["service_cidr"])[1])
        assert endpoints == real_node["node_ip"]  # the node's proxy, not the machine's loopback
    finally:
        for obj in rbac:
            _kubectl(kubectl, kubeconfig, "delete", obj["kind"].lower(), role, "--ignore-not-found", check=False)
