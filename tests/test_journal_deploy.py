"""deploy/guard.yaml against the local API server: a server-side dry run of the whole file, then its
RBAC for real. The guard's ServiceAccount can run `guard --once` with nothing else; the journal
namespace's Role is the only way to its entries (others cannot read them)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from krkn_tui.rollback.journal import Journal
from kubehelpers import gone_is_fine
from runhelpers import krkn
from test_journal_guard import _dead_run, markers

pytestmark = pytest.mark.cluster

MANIFEST = Path(__file__).resolve().parent.parent / "deploy" / "guard.yaml"


@pytest.fixture
def deployed(api_client, kubectl, tmp_path):
    """The manifest renamed for this test (its namespace and cluster-wide names), namespace created."""
    tag = uuid.uuid4().hex[:6]
    ns = f"krkn-rollback-{tag}"
    text = MANIFEST.read_text().replace("krkn-rollback", ns).replace("krkn-tui-guard-undo", f"krkn-tui-guard-undo-{tag}")
    path = tmp_path / "guard.yaml"
    path.write_text(text)
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": ns}})
    yield ns, tag, path
    rbac = client.RbacAuthorizationV1Api(api_client)
    gone_is_fine(rbac.delete_cluster_role_binding, f"krkn-tui-guard-undo-{tag}")
    gone_is_fine(rbac.delete_cluster_role, f"krkn-tui-guard-undo-{tag}")
    gone_is_fine(core.delete_namespace, ns)


def _kubectl(kubectl: str, kubeconfig: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl, "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, input=stdin,
                          timeout=60)


def _token_kubeconfig(kubectl: str, kubeconfig: str, namespace: str, account: str, folder: Path) -> str:
    """A kubeconfig that authenticates as ServiceAccount ``account`` with a fresh bound token."""
    token = _kubectl(kubectl, kubeconfig, "create", "token", account, "-n", namespace)
    assert token.returncode == 0, token.stderr
    admin = yaml.safe_load(Path(kubeconfig).read_text())
    cfg = {"apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
           "users": [{"name": account, "user": {"token": token.stdout.strip()}}],
           "contexts": [{"name": account, "context": {"cluster": admin["clusters"][0]["name"], "user": account}}],
           "current-context": account}
    path = folder / f"{account}.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_the_manifest_passes_a_server_side_dry_run(deployed, kubectl, kubeconfig):
    _ns, _tag, path = deployed
    out = _kubectl(kubectl, kubeconfig, "apply", "--dry-run=server", "-f", str(path))
    assert out.returncode == 0, out.stderr
    kinds = [line.split("/")[0] for line in out.stdout.splitlines()]
    assert kinds == ["namespace", "serviceaccount", "role.rbac.authorization.k8s.io",
                     "rolebinding.rbac.authorization.k8s.io", "clusterrole.rbac.authorization.k8s.io",
                     "clusterrolebinding.rbac.authorization.k8s.io", "deployment.apps"], out.stdout


def test_the_guard_account_needs_nothing_else_and_only_the_journal_role_reads_entries(
        deployed, kubectl, kubeconfig, api_client, namespace, tmp_path):
    ns, _tag, path = deployed
    # Everything but the Deployment for real (fake nodes run no containers: the guard runs here).
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] != "Deployment"]
    out = _kubectl(kubectl, kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    assert out.returncode == 0, out.stderr

    reg = _dead_run(api_client, tmp_path, ns, namespace, 2)
    time.sleep(1.2)  # its lease expires
    guard_cfg = _token_kubeconfig(kubectl, kubeconfig, ns, "krkn-tui-guard", tmp_path)
    out = krkn("guard", "--once", "--grace", "0", "--journal-namespace", ns, "-d", tmp_path / "g", "--kubeconfig",
               guard_cfg)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("executed ") == 2, out.stdout
    assert {e.state for e in Journal(api_client, ns).entries(reg.run_id)} == {"executed"}
    assert markers(api_client, namespace) == {"m000": 1, "m001": 1}

    def can(who: list[str], *what: str) -> bool:
        return _kubectl(kubectl, kubeconfig, "auth", "can-i", *what, *who).stdout.strip() == "yes"

    guard = ["--as", f"system:serviceaccount:{ns}:krkn-tui-guard"]
    assert can(guard, "get", "secrets", "-n", ns) and can(guard, "patch", "secrets", "-n", ns)
    assert not can(guard, "get", "secrets", "-n", namespace)  # no read of Secrets outside the journal
    assert not can(guard, "list", "secrets", "-A")
    assert not can(guard, "delete", "secrets", "-n", ns)  # entries are never deleted by the guard
    alice = ["--as", "alice"]
    assert not can(alice, "get", "secrets", "-n", ns) and not can(alice, "list", "leases", "-n", ns)

    # Someone without the Role: one clear line, no entry shown.
    _kubectl(kubectl, kubeconfig, "create", "serviceaccount", "nobody", "-n", ns)
    nobody_cfg = _token_kubeconfig(kubectl, kubeconfig, ns, "nobody", tmp_path)
    listed = krkn("list-rollback", "--cluster", "--journal-namespace", ns, "--kubeconfig", nobody_cfg)
    assert listed.returncode == 2 and "403 Forbidden" in listed.stderr and listed.stderr.count("\n") == 1
    assert "step-" not in listed.stdout
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, ns)
