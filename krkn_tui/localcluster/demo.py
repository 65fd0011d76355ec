"""Objects the local cluster gets: fake worker nodes and the demo workload every scenario targets.

The demo has two forms. With the real node, frontend and backend run the demo server there (real
HTTP; the frontend's NodePort is the health endpoint's way in). Without it, kwok's pause pods
stand in, whose start-up the kwok stages of the chosen profile play."""

from __future__ import annotations

from .components import KWOK_NODE_ANNOTATION
from .realnode import KIND_LABEL, TAINT_KEY
from .stages import PROFILE_LABEL

DEMO_NAMESPACE = "krkn-demo"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # never pulled: kwok plays the kubelet
SERVER_IMAGE = "krkn-tui.local/demo-server:latest"  # localcluster/images/cmd/demo-server, imported
PORT = 8080
# Fixed, so the health endpoint knows where to knock without reading the Service.
FRONTEND_NODE_PORT = 30080


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


# On the real node the profile is the demo server's own behaviour (kwok's stages play no part):
# realistic turns Ready 1-5 s after the container starts, flaky also crash-loops one start in three.
SERVER_PROFILE_ARGS = {
    "fast": [],
    "realistic": ["-ready-after=1s", "-ready-jitter=4s"],
    "flaky": ["-ready-after=1s", "-ready-jitter=4s", "-crash-chance=0.33"],
}


def _server_pod_spec(name: str, profile: str) -> dict:
    """The demo server on the real node: frontend asks backend through the backend Service's
    variables (BACKEND_SERVICE_HOST/PORT, injected because the Service is made first)."""
    args = [f"-role={name}", *(["-upstream=backend"] if name == "frontend" else []), *SERVER_PROFILE_ARGS[profile]]
    return {
        "nodeSelector": {KIND_LABEL: "real"},
        "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 5,
        "containers": [{
            "name": name, "image": SERVER_IMAGE, "imagePullPolicy": "IfNotPresent", "args": args,
            "ports": [{"name": "http", "containerPort": PORT}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 1,
                               "failureThreshold": 1, "timeoutSeconds": 1},
        }],
    }


def _deployment(name: str, replicas: int, tier: str, profile: str, real: bool) -> dict:
    labels = {"app": name, "tier": tier}
    spec = _server_pod_spec(name, profile) if real else {
        "containers": [{"name": name, "image": PAUSE_IMAGE, "ports": [{"containerPort": PORT}]}],
        "terminationGracePeriodSeconds": 5,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": DEMO_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": pod_template_labels(name, tier, profile)}, "spec": spec},
        },
    }


def _service(name: str, node_port: int | None = None) -> dict:
    port = {"port": 80, "targetPort": PORT}
    spec = {"selector": {"app": name}, "ports": [port]}
    if node_port:  # the health endpoint's way in from the machine: the node IP, this port
        spec["type"] = "NodePort"
        port["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": DEMO_NAMESPACE, "labels": {"app": name}},
        "spec": spec,
    }


def demo_objects(profile: str = "fast", real: bool = False) -> list[tuple[str, dict]]:
    """(collection path, object) pairs, in creation order (Services before the pods that read
    their variables). `real`: the demo server on the real node; otherwise kwok's pause pods."""
    ns = f"/api/v1/namespaces/{DEMO_NAMESPACE}"
    apps = f"/apis/apps/v1/namespaces/{DEMO_NAMESPACE}"
    return [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}}),
        (f"{ns}/services", _service("frontend", FRONTEND_NODE_PORT if real else None)),
        (f"{ns}/services", _service("backend")),
        (f"{apps}/deployments", _deployment("frontend", 3, "web", profile, real)),
        (f"{apps}/deployments", _deployment("backend", 2, "api", profile, real)),
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
