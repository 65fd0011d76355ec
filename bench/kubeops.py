"""Cluster-side helpers shared by figures: bulk NetworkPolicies, ServiceAccount wait."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor


def policy(name: str, namespace: str) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": {"krkn-tui/bench": "true"}},
        "spec": {"podSelector": {"matchLabels": {"app": "bench-none"}}, "policyTypes": ["Ingress"]},
    }


def create_policies(api_client, namespace: str, names: list[str], workers: int = 8) -> None:
    """Set-up, not measured: a few threads so 500 creations take seconds, not tens of seconds."""
    from kubernetes import client

    net = client.NetworkingV1Api(api_client)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda n: net.create_namespaced_network_policy(namespace, policy(n, namespace)), names))


def count_policies(api_client, namespace: str) -> int:
    from kubernetes import client

    return len(client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items)


def wait_service_account(api_client, namespace: str, timeout: float = 30.0) -> None:
    """Pods are refused until the controller has created the namespace's default ServiceAccount."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespaced_service_account("default", namespace)
            return
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        time.sleep(0.1)
    raise TimeoutError(f"no default ServiceAccount in {namespace} after {timeout:.0f}s")
