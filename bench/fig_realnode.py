"""The real node: a warm `cluster up` with it (a private cluster brought up, down, then up again:
certificates, etcd data, images in the node's runtime kept), and pod create-to-Ready on the real
node beside the same on a kwok node.

Skipped (value null, the reason in detail) where the real node cannot run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from krkn_tui.localcluster import LocalCluster, realnode

from .record import result, summary

NAME = "realnode"
TARGET_UP_S = 20.0


def _pod(name: str, real: bool) -> dict:
    spec: dict = {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "main", "image": "registry.k8s.io/pause:3.10", "imagePullPolicy": "IfNotPresent"}]}
    if real:
        spec["nodeSelector"] = {realnode.KIND_LABEL: "real"}
        spec["tolerations"] = [{"key": realnode.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
    else:
        spec["nodeSelector"] = {realnode.KIND_LABEL: "kwok"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _create_to_ready(core, name: str, real: bool, timeout: float = 120.0) -> float:
    started = time.perf_counter()
    core.create_namespaced_pod("default", _pod(name, real))
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, "default")
        if any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])):
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            raise TimeoutError(f"pod {name} not Ready in {timeout:g} s")
        time.sleep(0.05)


def _up(state_dir: Path) -> tuple[float, str]:
    env = {**os.environ, "KRKN_TUI_CLUSTER_DIR": str(state_dir)}
    env.pop("KRKN_TUI_DEMO_HEALTH_PORT", None)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "up", "--nodes", "1"], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"cluster up failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return time.perf_counter() - started, proc.stdout


def run(env) -> list[dict]:
    from kubernetes import client

    from krkn_tui.kube.client import load_api_client

    pods = 3 if env.quick else 10
    with tempfile.TemporaryDirectory(prefix="bench-realnode-") as tmp:
        cluster = LocalCluster(state_dir=Path(tmp), say=lambda line: None)
        why = realnode.missing(cluster.bin_dir, cluster.images_dir)
        if why:
            return [result("real_node_warm_up", None, "s", None, f"<= {TARGET_UP_S:g} s", None,
                           {"skipped": why})]
        try:
            cold_s, said = _up(Path(tmp))
            if not (cluster.status().get("real_node") or {}).get("processes"):
                raise RuntimeError(f"the real node did not start: {said.strip()[-300:]}")
            # Pods on the first start: a kwok restarted within its node lease (200 s) waits for
            # the previous kwok's lease to lapse before it serves that node's pods again.
            api = load_api_client(Path(tmp) / "kubeconfig")
            try:
                core = client.CoreV1Api(api)
                real = [_create_to_ready(core, f"real-{i}", True) for i in range(pods)]
                kwok = [_create_to_ready(core, f"kwok-{i}", False) for i in range(pods)]
            finally:
                api.close()
            cluster.down()
            warm_s, said = _up(Path(tmp))
            if not (cluster.status().get("real_node") or {}).get("processes"):
                raise RuntimeError(f"the real node did not start again: {said.strip()[-300:]}")
        finally:
            cluster.down()
    detail = {"cold_up_s": round(cold_s, 2), "warm_up_s": round(warm_s, 2),
              "real_pod_create_to_ready_s": summary(real), "kwok_pod_create_to_ready_s": summary(kwok)}
    return [
        result("real_node_warm_up", warm_s, "s", None, f"<= {TARGET_UP_S:g} s", warm_s <= TARGET_UP_S, detail),
        result("real_node_pod_create_to_ready", statistics.median(real), "s", statistics.median(kwok),
               "reported beside kwok's (no target)", None, detail),
    ]
