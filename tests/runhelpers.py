"""Driving `krkn-tui` as a real process, and the checks the fault tests share: what a scenario
touches in the cluster (snapshots that must come back equal), and the state of the version files
on disk (every file readable and matching its digest, nothing half-written)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from kubernetes import client

from krkn_tui.rollback import list_versions, read_version
from kubehelpers import gone_is_fine, wait_for  # noqa: F401  (wait_for re-exported for the fault tests)
from krkn_tui.rollback.manifest import read_lines
from krkn_tui.rollback.naming import FAILED, MANIFEST_NAME, archive_dir_for, parse_run_dir_name, parse_version_name
from krkn_tui.rollback.safety import digest_mismatch_reason

KRKN = [sys.executable, "-u", "-m", "krkn_tui"]
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
RUN_LINE = re.compile(r"run (\d+-[0-9a-f-]+):")


def krkn(*args: str, kubeconfig: str | None = None, env: dict | None = None, timeout: float = 180,
         cwd: Path | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, **({"KUBECONFIG": kubeconfig} if kubeconfig else {}), **(env or {})}
    return subprocess.run([*KRKN, *map(str, args)], capture_output=True, text=True, env=full, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)


class Run:
    """A `krkn-tui run` child whose output lines (stdout and stderr, in order) we can wait for.

    A thread reads the output, so `wait_for` keeps its timeout even when the child goes quiet."""

    def __init__(self, cfg: Path, kubeconfig: str, *extra: str, env: dict | None = None):
        self.started = time.monotonic()
        self.proc = subprocess.Popen([*KRKN, "run", "-c", str(cfg), *extra], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "KUBECONFIG": kubeconfig, **(env or {})})
        self.lines: list[str] = []
        self._seen = 0  # lines already matched past by wait_for
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        """The next line (after those already matched) that matches `pattern`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                while self._seen < len(self.lines):
                    line = self.lines[self._seen]
                    self._seen += 1
                    if m := re.search(pattern, line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or (not self._reader.is_alive() and self._seen >= len(self.lines)):
                    raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")
                self._changed.wait(min(left, 0.5))

    def finish(self, timeout: float = 60) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"krkn-tui run did not finish within {timeout}s:\n{self.output}") from None
        self._reader.join(10)
        return self.proc.returncode

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def run_id(self) -> str:
        return RUN_LINE.search(self.output).group(1)


# ---- config files ---------------------------------------------------------------------------


def kill_then_execute_rollback(run: "Run", versions: Path, kubeconfig: str) -> None:
    """kill -9 of the runner while its one step is pending, then `execute-rollback` of each run."""
    run.proc.kill()
    run.finish()
    assert len(pending(versions)) == 1, run.output
    for run_id in run_dirs(versions):
        out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr


def write_config(folder: Path, scenarios: list[tuple[str, object]], *, versions: Path | None = None,
                 wait: float = 0, iterations: int = 1, **kraken) -> Path:
    """A krkn config.yaml running `scenarios` ((type, file content) pairs) in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (scenario_type, content) in enumerate(scenarios):
        f = folder / f"s{i}-{scenario_type}.yaml"
        f.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        entries.append({scenario_type: [f.name]})
    cfg = folder / "config.yaml"
    body = {"kraken": {"rollback_versions_directory": str(versions or folder / "versions"),
                       "chaos_scenarios": entries, **kraken},
            "tunings": {"wait_duration": wait, "iterations": iterations}}
    cfg.write_text(yaml.safe_dump(body, sort_keys=False))
    return cfg


def app_outage(namespace: str, app: str, duration: float) -> dict:
    return {"application_outage": {"duration": duration, "namespace": namespace, "pod_selector": {"app": app},
                                   "block": ["Ingress", "Egress"]}}


def pod_kill(namespace: str, app: str, recovery: float = 60) -> list:
    return [{"id": "kill", "config": {"namespace_pattern": f"^{namespace}$", "label_selector": f"app={app}",
                                      "kill": 1, "krkn_pod_recovery_time": recovery}}]


def node_action(action: str, node: str, duration: float, **extra) -> dict:
    return {"node_scenarios": [{"actions": [action], "node_name": node, "instance_count": 1, "runs": 1,
                                "timeout": 30, "duration": duration, **extra}]}


def service_disruption(namespace: str, mode: str, duration: float) -> dict:
    return {"scenarios": [{"namespace": f"^{namespace}$", "delete_count": 1, "runs": 1, "sleep": 0,
                           "mode": mode, "duration": duration}]}


def hog(namespace: str, group: str, duration: float) -> dict:
    return {"duration": duration, "hog-type": "cpu", "namespace": namespace, "node-selector": f"krkn-fault={group}",
            "number-of-nodes": 1, "taints": [f"{PRIVATE_TAINT}={group}:NoSchedule"]}


# ---- cluster objects ------------------------------------------------------------------------

PRIVATE_TAINT = "krkn-fault/private"


def create_namespace(api_client, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name, "labels": {"krkn-fault": "yes"}}})
    # The ServiceAccount controller adds `default` a moment later: a snapshot taken before that
    # would differ from one taken after, with no scenario involved.
    wait_for(lambda: any(a.metadata.name == "default" for a in core.list_namespaced_service_account(name).items),
             timeout=60, what=f"the default ServiceAccount of {name}")
    return name


def delete_namespace(api_client, name: str) -> None:
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


def workload(name: str, replicas: int, *, node: str | None = None, group: str | None = None) -> dict:
    """A Deployment of pause pods; with `node`, pinned there and tolerating its private taint."""
    pod_spec: dict = {"containers": [{"name": name, "image": PAUSE_IMAGE}], "terminationGracePeriodSeconds": 0}
    if node:
        pod_spec["nodeSelector"] = {"kubernetes.io/hostname": node}
        pod_spec["tolerations"] = [{"key": PRIVATE_TAINT, "operator": "Equal", "value": group,
                                    "effect": "NoSchedule"}]
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}


def fill_namespace(api_client, namespace: str, deployments: dict[str, int], *, extras: bool = False,
                   node: str | None = None, group: str | None = None) -> None:
    """Deployments (name -> replicas), and with `extras` a Service, ConfigMap, Secret, NetworkPolicy,
    PodDisruptionBudget, ServiceAccount, Role and RoleBinding; waits Ready."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    for name, replicas in deployments.items():
        apps.create_namespaced_deployment(namespace, workload(name, replicas, node=node, group=group))
    if extras:
        first = next(iter(deployments))
        core.create_namespaced_service(namespace, {"metadata": {"name": first, "labels": {"app": first}},
                                                   "spec": {"selector": {"app": first}, "ports": [{"port": 80}]}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"k": "v"}})
        core.create_namespaced_secret(namespace, {"metadata": {"name": "token"}, "stringData": {"t": "s3cr3t"}})
        client.NetworkingV1Api(api_client).create_namespaced_network_policy(namespace, {
            "metadata": {"name": "no-egress"}, "spec": {"podSelector": {"matchLabels": {"app": first}},
                                                        "policyTypes": ["Egress"]}})
        client.PolicyV1Api(api_client).create_namespaced_pod_disruption_budget(namespace, {
            "metadata": {"name": first}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": first}}}})
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "robot"}})
        rbac = client.RbacAuthorizationV1Api(api_client)
        rbac.create_namespaced_role(namespace, {"metadata": {"name": "reader"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": "robot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}]})
    wait_for(lambda: deployments_ready(api_client, namespace), timeout=90, what=f"{namespace} Ready")


def deployments_ready(api_client, namespace: str) -> bool:
    items = client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items
    return all((d.status.ready_replicas or 0) == d.spec.replicas and (d.status.replicas or 0) == d.spec.replicas
               for d in items)


def create_private_node(api_client, group: str, role: str) -> str:
    """A Ready kwok node nobody else's pods land on: it carries a taint only our pods tolerate."""
    core = client.CoreV1Api(api_client)
    name = f"fault-{role}-{uuid.uuid4().hex[:6]}"
    core.create_node({
        "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                     "labels": {"kubernetes.io/hostname": name, "krkn-fault": group}},
        "spec": {"taints": [{"key": PRIVATE_TAINT, "value": group, "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "50"},
                   "capacity": {"cpu": "8", "memory": "16Gi", "pods": "50"}},
    })
    wait_for(lambda: node_state(api_client, name) == {"ready": True, "unschedulable": False,
                                                      "taints": [(PRIVATE_TAINT, group, "NoSchedule")]},
             timeout=60, what=f"{name} Ready and settled")
    return name


def delete_node(api_client, name: str) -> None:
    gone_is_fine(client.CoreV1Api(api_client).delete_node, name)


def node_state(api_client, name: str) -> dict:
    node = client.CoreV1Api(api_client).read_node(name)
    return {
        "ready": any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []),
        "unschedulable": bool(node.spec.unschedulable),
        "taints": sorted((t.key, t.value, t.effect) for t in node.spec.taints or []),
    }


# ---- scenario targets -----------------------------------------------------------------------

VARIANTS = ("pod_disruption", "application_outage", "node_cordon", "node_taint", "node_drain",
            "service_scale", "service_delete_namespace", "hog", "service_hijacking", "syn_flood", "http_load")
# Their pods must run a real program: they need the local cluster's real node.
REAL_NODE_VARIANTS = ("service_hijacking", "syn_flood", "http_load")
KRKN_POD_PREFIXES = ("service-hijacking-pod-", "syn-flood-", "http-load-")


def web_target(api_client, namespace: str) -> str:
    """The demo server (backend role) on the real node behind NodePort Service `web` (port 80 ->
    container port `http`, 8080); returns its URL from this machine (the node's address and the
    Service's node port). Skips the test when the cluster has no real node."""
    import pytest

    core = client.CoreV1Api(api_client)
    nodes = core.list_node(label_selector="krkn-tui.io/node-kind=real").items
    if not nodes:
        pytest.skip("no real node: the web service and attacker pods need one")
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "server", "labels": {"app": "web"}},
        "spec": {"nodeSelector": {"krkn-tui.io/node-kind": "real"}, "terminationGracePeriodSeconds": 0,
                 "tolerations": [{"key": "krkn-tui.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
                 "containers": [{"name": "main", "image": "krkn-tui.local/demo-server:latest",
                                 "imagePullPolicy": "IfNotPresent", "args": ["-role=backend"],
                                 "ports": [{"name": "http", "containerPort": 8080}],
                                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                    "periodSeconds": 1}}]}})
    svc = core.create_namespaced_service(namespace, {"metadata": {"name": "web"}, "spec": {
        "type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    address = next(a.address for a in nodes[0].status.addresses if a.type == "InternalIP")
    url = f"http://{address}:{svc.spec.ports[0].node_port}"
    wait_for(lambda: metric(url, "krkn_demo_up") is not None, timeout=90, interval=0.5,
             what=f"{namespace}/server answering through its NodePort")
    return url


def metric(url: str, name: str, labels: str = "") -> float | None:
    """One sample of the demo server's /metrics (`name{labels}`), None when it does not answer."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name + (f"{{{labels}}}" if labels else "") or (not labels and key.startswith(name + "{")):
            return float(value)
    return 0.0


def krkn_pods(api_client, namespace: str) -> list[str]:
    """The pods krkn-tui made for a service hijacking, SYN flood or HTTP load in `namespace`."""
    return sorted(p.metadata.name for p in client.CoreV1Api(api_client).list_namespaced_pod(namespace).items
                  if p.metadata.name.startswith(KRKN_POD_PREFIXES))


def service_hijacking(namespace: str, duration: float) -> dict:
    return {"service_target_port": "http", "service_name": "web", "service_namespace": namespace,
            "image": "quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3", "chaos_duration": duration,
            "plan": [{"resource": "/", "steps": {"GET": [
                {"duration": 60, "status": 503, "mime_type": "text/plain", "payload": "hijacked"}]}}]}


def syn_flood(namespace: str, duration: float) -> dict:
    return {"packet-size": 120, "window-size": 64, "duration": max(1, round(duration)), "namespace": namespace,
            "target-service": "web", "target-port": 80, "number-of-pods": 1,
            "image": "quay.io/krkn-chaos/krkn-syn-flood:v1.0.0", "attacker-nodes": {}}


def http_load(namespace: str, duration: float) -> list:
    return [{"http_load_scenario": {"number-of-pods": 1, "namespace": namespace, "targets": {"endpoints": [
        {"url": "http://web/", "method": "GET"}]}, "rate": "10/1s", "duration": f"{max(1, round(duration))}s",
        "workers": 1, "max_workers": 2, "connections": 2, "http2": False}}]


@dataclass
class Target:
    """A scenario file's content and a snapshot of everything it touches."""

    scenario_type: str
    content: dict | list
    snapshot: Callable[[], dict]
    namespace: str | None = None
    node: str | None = None


class Workbench:
    """Builds small targets of our own (namespaces, private nodes) and removes them at the end."""

    def __init__(self, api_client):
        self.api = api_client
        self.group = uuid.uuid4().hex[:8]
        self.namespaces: list[str] = []
        self.nodes: list[str] = []

    def namespace(self, prefix: str, deployments: dict[str, int], **kw) -> str:
        ns = create_namespace(self.api, prefix)
        self.namespaces.append(ns)
        fill_namespace(self.api, ns, deployments, **kw)
        return ns

    def node(self, role: str) -> str:
        node = create_private_node(self.api, self.group, role)
        self.nodes.append(node)
        return node

    def target(self, variant: str, hold: float) -> Target:
        """`hold`: how long the change lasts (for a pod kill: how long recovery may take)."""
        api = self.api
        if variant == "pod_disruption":
            ns = self.namespace("f-pod", {"web": 2})
            return Target("pod_disruption_scenarios", pod_kill(ns, "web", recovery=hold),
                          lambda: namespace_snapshot(api, ns), ns)
        if variant == "application_outage":
            ns = self.namespace("f-app", {"web": 1})
            return Target("application_outages_scenarios", app_outage(ns, "web", hold),
                          lambda: namespace_snapshot(api, ns), ns)
        if variant in ("node_cordon", "node_taint", "node_drain"):
            action = variant.split("_")[1]
            node = self.node(action)
            ns = self.namespace("f-node", {"pinned": 2} if action == "drain" else {}, node=node, group=self.group)
            extra = {"taint": {"key": "krkn-fault/chaos", "value": "on", "effect": "NoExecute"}} \
                if action == "taint" else {}
            return Target("node_scenarios", node_action(f"node_{action}_scenario", node, hold, **extra),
                          lambda: {"node": node_state(api, node), "pods": namespace_snapshot(api, ns)}, ns, node)
        if variant == "service_scale":
            ns = self.namespace("f-scale", {"a": 2, "b": 1})
            return Target("service_disruption_scenarios", service_disruption(ns, "scale", hold),
                          lambda: namespace_snapshot(api, ns), ns)
        if variant == "service_delete_namespace":
            ns = self.namespace("f-delns", {"a": 1}, extras=True)
            return Target("service_disruption_scenarios", service_disruption(ns, "delete_namespace", hold),
                          lambda: namespace_snapshot(api, ns), ns)
        if variant == "hog":
            node = self.node("hog")
            ns = self.namespace("f-hog", {})
            return Target("hog_scenarios", hog(ns, self.group, hold),
                          lambda: {"node": node_state(api, node), "pods": namespace_snapshot(api, ns)}, ns, node)
        if variant in REAL_NODE_VARIANTS:
            ns = self.namespace(f"f-{variant.split('_')[0]}", {})
            web_target(api, ns)
            content = {"service_hijacking": service_hijacking, "syn_flood": syn_flood, "http_load": http_load}[variant]
            return Target(f"{variant}_scenarios", content(ns, hold),
                          lambda: {"ns": namespace_snapshot(api, ns), "krkn pods": krkn_pods(api, ns)}, ns)
        raise ValueError(variant)

    def cleanup(self) -> None:
        for ns in self.namespaces:
            delete_namespace(self.api, ns)
        for node in self.nodes:
            delete_node(self.api, node)


# ---- snapshots ------------------------------------------------------------------------------


def _spec(api_client, obj, drop: tuple[str, ...] = ()) -> dict:
    data = api_client.sanitize_for_serialization(obj.spec) or {}
    return {k: v for k, v in data.items() if k not in drop}


def namespace_snapshot(api_client, namespace: str, *, pods: bool = False) -> dict:
    """What a scenario may touch in `namespace`, by kind and name, with the fields that matter:
    Deployments' spec and Ready replicas, Services (less the allocated IPs), ConfigMaps, Secrets,
    NetworkPolicies, PodDisruptionBudgets, ServiceAccounts, Roles, RoleBindings and any hog pods.
    `pods` adds every pod's name."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    net, policy = client.NetworkingV1Api(api_client), client.PolicyV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    try:
        ns = core.read_namespace(namespace)
    except client.ApiException as e:
        if e.status == 404:
            return {"namespace": None}
        raise
    snap: dict = {
        "namespace": {"phase": ns.status.phase, "labels": ns.metadata.labels},
        "Deployment": {d.metadata.name: {"spec": _spec(api_client, d), "ready": d.status.ready_replicas or 0,
                                         "labels": d.metadata.labels}
                       for d in apps.list_namespaced_deployment(namespace).items},
        "StatefulSet": {s.metadata.name: _spec(api_client, s) for s in apps.list_namespaced_stateful_set(namespace).items},
        "Service": {s.metadata.name: _spec(api_client, s, ("clusterIP", "clusterIPs"))
                    for s in core.list_namespaced_service(namespace).items},
        "ConfigMap": {c.metadata.name: c.data for c in core.list_namespaced_config_map(namespace).items
                      if c.metadata.name != "kube-root-ca.crt"},
        "Secret": {s.metadata.name: s.data for s in core.list_namespaced_secret(namespace).items
                   if s.type != "kubernetes.io/service-account-token"},
        "NetworkPolicy": {p.metadata.name: _spec(api_client, p)
                          for p in net.list_namespaced_network_policy(namespace).items},
        "PodDisruptionBudget": {p.metadata.name: _spec(api_client, p)
                                for p in policy.list_namespaced_pod_disruption_budget(namespace).items},
        "ServiceAccount": sorted(a.metadata.name for a in core.list_namespaced_service_account(namespace).items),
        "Role": {r.metadata.name: api_client.sanitize_for_serialization(r.rules)
                 for r in rbac.list_namespaced_role(namespace).items},
        "RoleBinding": {b.metadata.name: api_client.sanitize_for_serialization([b.role_ref, b.subjects])
                        for b in rbac.list_namespaced_role_binding(namespace).items},
        "hog pods": sorted(p.metadata.name for p in
                           core.list_namespaced_pod(namespace, label_selector="app=krkn-hog").items),
    }
    if pods:
        snap["Pod"] = sorted(p.metadata.name for p in core.list_namespaced_pod(namespace).items)
    return snap


def wait_equal(read: Callable[[], object], expected: object, timeout: float = 90, what: str = "state") -> None:
    """`read()` comes to equal `expected` within `timeout` (controllers need a moment to converge)."""
    deadline = time.monotonic() + timeout
    while True:
        now = read()
        if now == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come back within {timeout}s:\n"
                                 f"expected {json.dumps(expected, default=str, sort_keys=True)}\n"
                                 f"     got {json.dumps(now, default=str, sort_keys=True)}")
        time.sleep(0.3)


# ---- version files on disk ------------------------------------------------------------------


def run_dirs(versions_dir: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(versions_dir) if parse_run_dir_name(n))
    except FileNotFoundError:
        return []


def disk_problems(versions_dir: Path) -> list[str]:
    """Everything wrong with what runs left on disk: a version file (pending, executed or archived)
    that does not read cleanly, is not signed by this test's key or no longer matches its manifest
    digest, a manifest, record,
    report or audit line that does not parse, and any temp or unknown file."""
    problems = []
    for root in (versions_dir, archive_dir_for(versions_dir)):
        for run in run_dirs(root):
            folder = root / run
            for name in sorted(os.listdir(folder)):
                path = folder / name
                if name == MANIFEST_NAME:
                    for line in read_lines(folder):
                        try:
                            json.loads(line)
                        except ValueError:
                            problems.append(f"{path}: half-written manifest line {line!r}")
                elif parse_version_name(name):
                    info = read_version(path)
                    if info.error and info.status != "failed":
                        problems.append(f"{path}: {info.error}")
                    if info.origin == "krkn-tui" and info.foreign:  # every line this test's runs signed
                        problems.append(f"{path}: {info.foreign}")
                    if reason := digest_mismatch_reason(path, path.read_bytes()):
                        problems.append(reason)
                elif name.endswith(".py" + FAILED):
                    try:
                        json.loads(path.read_text())
                    except ValueError:
                        problems.append(f"{path}: half-written failure record")
                else:
                    problems.append(f"{path}: left behind")
    reports = versions_dir.with_name(versions_dir.name + "-reports")
    for path in sorted(reports.glob("*")) if reports.is_dir() else []:
        try:
            json.loads(path.read_text())
            if path.suffix != ".json":
                raise ValueError
        except ValueError:
            problems.append(f"{path}: half-written report")
    audit = versions_dir.with_name(versions_dir.name + "-audit.jsonl")
    if audit.exists():
        for line in audit.read_text().splitlines():
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"{audit}: half-written line {line!r}")
    return problems


def pending(versions_dir: Path) -> list[str]:
    """Version files still to roll back (pending or failed)."""
    return [str(v.path) for v in list_versions(versions_dir, include_archived=False)
            if v.status in ("pending", "failed")]


def tree_digest(*folders: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folders` (what a refusal must leave as it was)."""
    import hashlib

    out = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_symlink():
                out[str(path)] = "symlink -> " + os.readlink(path)
            elif path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                out[str(path)] = "dir %o" % (path.stat().st_mode & 0o7777)
    return out
