"""Objects the local cluster gets: fake worker nodes and the demo workload every scenario targets."""

from __future__ import annotations

from .components import KWOK_NODE_ANNOTATION
from .stages import PROFILE_LABEL

DEMO_NAMESPACE = "krkn-demo"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # never pulled: kwok plays the kubelet


def node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "krkn-tui.io/node-kind": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                # krkn's node scenarios select workers by this label.
                "node-role.kubernetes.io/worker": "",
            },
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }


def pod_template_labels(name: str, tier: str, profile: str) -> dict:
    labels = {"app": name, "tier": tier}
    if profile != "fast":  # kwok's fast stages serve pods without the label
        labels[PROFILE_LABEL] = profile
    return labels


def _deployment(name: str, replicas: int, tier: str, profile: str) -> dict:
    labels = {"app": name, "tier": tier}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": DEMO_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_template_labels(name, tier, profile)},
                "spec": {
                    "containers": [{"name": name, "image": PAUSE_IMAGE, "ports": [{"containerPort": 8080}]}],
                    "terminationGracePeriodSeconds": 5,
                },
            },
        },
    }


def _service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": DEMO_NAMESPACE, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def demo_objects(profile: str = "fast") -> list[tuple[str, dict]]:
    """(collection path, object) pairs, in creation order."""
    ns = f"/api/v1/namespaces/{DEMO_NAMESPACE}"
    apps = f"/apis/apps/v1/namespaces/{DEMO_NAMESPACE}"
    return [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}}),
        (f"{apps}/deployments", _deployment("frontend", 3, "web", profile)),
        (f"{apps}/deployments", _deployment("backend", 2, "api", profile)),
        (f"{ns}/services", _service("frontend")),
        (f"{ns}/services", _service("backend")),
        (
            f"{ns}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "frontend-settings", "namespace": DEMO_NAMESPACE},
                "data": {"greeting": "hello from the game day"},
            },
        ),
        (
            f"/apis/policy/v1/namespaces/{DEMO_NAMESPACE}/poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "frontend", "namespace": DEMO_NAMESPACE},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "frontend"}}},
            },
        ),
    ]
