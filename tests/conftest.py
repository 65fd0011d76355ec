"""Shared fixtures. The local cluster is brought up once per session (reused when it already
runs) and stopped at the end only if this session started it, so CI leaves no process behind."""

from __future__ import annotations

import uuid

import pytest

from krkn_tui.localcluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster():
    cluster = LocalCluster(say=lambda line: print(line, flush=True))
    was_running = cluster.running()
    # Fast pods: the suite's waits stay short; the realistic profile has its own tests.
    cluster.up(nodes=3, demo=True, demo_profile="fast")
    yield cluster
    if not was_running:
        cluster.down()


@pytest.fixture(scope="session")
def kubeconfig(local_cluster) -> str:
    return str(local_cluster.kubeconfig)


@pytest.fixture(scope="session")
def kubectl(local_cluster) -> str:
    return str(local_cluster.bin_dir / "kubectl")


@pytest.fixture(scope="session")
def api_client(kubeconfig):
    from krkn_tui.kube.client import load_api_client

    client = load_api_client(kubeconfig)
    yield client
    client.close()


@pytest.fixture
def core(api_client):
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client):
    from kubernetes import client

    return client.AppsV1Api(api_client)


@pytest.fixture
def namespace(api_client):
    """A fresh namespace per test, deleted afterwards (without waiting for it to finalize)."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Settle the ServiceAccount controller's `default` first, so before/after snapshots compare
    # what a scenario did, not what the controller added meanwhile.
    from kubehelpers import gone_is_fine, wait_for

    wait_for(lambda: any(a.metadata.name == "default" for a in core.list_namespaced_service_account(name).items),
             what=f"the default ServiceAccount of {name}")
    yield name
    gone_is_fine(core.delete_namespace, name)
