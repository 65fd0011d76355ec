"""Shared fixtures. The local cluster is brought up once per session (reused when it already
runs) and stopped at the end only if this session started it, so CI leaves no process behind."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

from krkn_tui.cli import compose
from krkn_tui.localcluster import LocalCluster
from krkn_tui.localcluster.cluster import default_cache_dir

# The suite calls the journal's readers (the guard, the listings) directly, not through cli.main:
# it wires the floors as cli.main does. tests/test_undo_ops_registry.py checks a process that does not.
compose()


def pytest_collection_modifyitems(items):
    """Every test that reaches the local cluster through its fixtures carries the `cluster` mark,
    so `-m "not cluster"` never starts one (a module forgetting its pytestmark included)."""
    for item in items:
        if "local_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


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


# ---- krkn-lib, for the tests that hold krkn-tui to krkn's contracts ----------------------------
# It pins a kubernetes client older than krkn-tui's (and numpy, PyYAML, ...), so it lives in its
# own virtual environment in the cache folder, installed from the package index once; the
# `krkn-compat` extra of pyproject.toml names the version.


def _krkn_lib_requirement() -> str:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    [requirement] = [r for r in extras["krkn-compat"] if r.startswith("krkn-lib")]
    return requirement


@pytest.fixture(scope="session")
def krkn_lib_python() -> str:
    requirement = _krkn_lib_requirement()
    venv = default_cache_dir() / "krkn-lib-venv"
    python = venv / "bin" / "python"
    marker = venv / "krkn-tui-requirement.txt"
    check = [str(python), "-c", "import krkn_lib.telemetry.ocp, krkn_lib.ocp, krkn_lib.utils"]
    if not (marker.is_file() and marker.read_text() == requirement
            and subprocess.run(check, capture_output=True).returncode == 0):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement],
                       check=True, timeout=900)
        subprocess.run(check, check=True)
        marker.write_text(requirement)
    return str(python)
