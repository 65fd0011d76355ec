"""Figure 6: `krkn-tui cluster up` in a private state folder until a 3-replica Deployment is Ready.

The binaries are the ones already built (the shared cache); the control plane, its certificates
and etcd data are new each round. No baseline: kwokctl cannot be downloaded here.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from krkn_tui.localcluster import LocalCluster

from .record import result, summary

NAME = "cluster"
TARGET_S = 20.0


def _deployment(namespace: str) -> dict:
    labels = {"app": "bench-web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench-web", "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]}},
        },
    }


def _ready_count(core, namespace: str) -> int:
    pods = core.list_namespaced_pod(namespace, label_selector="app=bench-web").items
    return sum(1 for p in pods if p.metadata.deletion_timestamp is None and any(
        c.type == "Ready" and c.status == "True" for c in (p.status.conditions or [])))


def _one_round(state_dir: Path, timeout: float = 120.0) -> dict:
    from kubernetes import client

    from krkn_tui.kube.client import load_api_client

    env = {**os.environ, "KRKN_TUI_CLUSTER_DIR": str(state_dir)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "krkn_tui", "cluster", "up"], env=env,
                          capture_output=True, text=True, timeout=timeout)
    up_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"cluster up failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    api = load_api_client(state_dir / "kubeconfig")
    try:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        apps.create_namespaced_deployment("default", _deployment("default"))
        deadline = time.monotonic() + timeout
        while _ready_count(core, "default") < 3:
            if time.monotonic() > deadline:
                raise TimeoutError("the Deployment's 3 pods were not Ready in time")
            time.sleep(0.05)
    finally:
        api.close()
    total = time.perf_counter() - started
    return {"total_s": total, "up_s": up_s, "deployment_ready_s": total - up_s}


def run(env) -> list[dict]:
    rounds = 1 if env.quick else 3
    samples = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
            cluster = LocalCluster(state_dir=Path(tmp), say=lambda line: None)
            try:
                samples.append(_one_round(Path(tmp)))
            finally:
                cluster.down()
    totals = [s["total_s"] for s in samples]
    value = statistics.median(totals)
    detail = {
        "total_s": summary(totals),
        "cluster_up_s": summary([s["up_s"] for s in samples]),
        "deployment_ready_s": summary([s["deployment_ready_s"] for s in samples]),
        "baseline_note": "none: kwokctl cannot be downloaded here",
    }
    return [result("local_cluster_up_to_3_ready_pods", value, "s", None, f"<= {TARGET_S:g} s",
                   value <= TARGET_S, detail)]
