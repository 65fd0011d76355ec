"""Small helpers for tests that talk to the local cluster."""

from __future__ import annotations

import contextlib
import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.2, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def deployment(name: str, namespace: str, replicas: int, labels: dict | None = None):
    from kubernetes import client

    labels = labels or {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name=name, image="registry.k8s.io/pause:3.10")],
                    termination_grace_period_seconds=1,
                ),
            ),
        ),
    )


def ready_pods(core, namespace: str, selector: str) -> list:
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    ]


def gone_is_fine(delete: Callable[..., object], name: str) -> None:
    """Delete `name` with `delete`; already gone counts as done (test clean-up)."""
    from kubernetes import client

    try:
        delete(name)
    except client.ApiException as e:
        if e.status != 404:
            raise


def private_cluster(local_cluster, tmp_path_factory, name: str):
    """A module's own one-node cluster (sharing the built binaries), for tests that stop or
    freeze its API server; down at the end. Use as a generator fixture: ``yield from``."""
    from krkn_tui.localcluster import LocalCluster

    cluster = LocalCluster(state_dir=tmp_path_factory.mktemp(name) / "cluster",
                           cache_dir=local_cluster.cache_dir, say=lambda _: None)
    try:
        cluster.up(nodes=1, real_node=False)  # the API server is what these tests stop
        yield cluster
    finally:
        cluster.down()


@contextlib.contextmanager
def claimed_volume(core, namespace: str, pv: str, size: str, source: dict, node: str | None = None):
    """PVC `data` in `namespace`, bound to PersistentVolume `pv` (`source`: its hostPath or local
    part, `node`: the node it is pinned to); on leaving, every pod of the namespace and the
    volume are removed."""
    spec = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
            "persistentVolumeReclaimPolicy": "Retain", **source,
            "claimRef": {"namespace": namespace, "name": "data"}}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    core.create_persistent_volume({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                                   "spec": spec})
    try:
        core.create_namespaced_persistent_volume_claim(namespace, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": pv,
                     "resources": {"requests": {"storage": size}}}})
        yield "data"
    finally:
        for pod in core.list_namespaced_pod(namespace).items:
            gone_is_fine(lambda n: core.delete_namespaced_pod(n, namespace, grace_period_seconds=0),
                         pod.metadata.name)
        wait_for(lambda: not core.list_namespaced_pod(namespace).items, timeout=60, what="pods gone")
        gone_is_fine(core.delete_persistent_volume, pv)
