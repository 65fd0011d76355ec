"""A versions folder shared with krkn works both ways: krkn's execute-rollback contract, run with
the real krkn-lib, restores what krkn-tui's version files record, and a file in krkn's own shape
runs in krkn-tui (with --allow-foreign, through an interpreter that has krkn-lib).

krkn-lib pins a kubernetes client older than the one krkn-tui runs on (and numpy, PyYAML, ...),
so it lives in its own virtual environment in the cache folder, installed from the package index
once (the `krkn-compat` extra of pyproject.toml names the version)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import deployment, wait_for
from krkn_files import KRKN_NAME, KRKN_RUN, krkn_version
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.store import list_versions
from krkn_tui.scenarios.application_outage import delete_network_policy
from krkn_tui.scenarios.service_disruption import scale_back

pytestmark = pytest.mark.cluster

LOADER = Path(__file__).with_name("krkn_contract_loader.py")


def _outage_policy(namespace: str) -> client.V1NetworkPolicy:
    return client.V1NetworkPolicy(
        metadata=client.V1ObjectMeta(name="deny-all", namespace=namespace),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                        policy_types=["Ingress"]))


def test_krkn_execute_rollback_contract_runs_our_files(krkn_lib_python, kubeconfig, api_client, apps, namespace,
                                                      tmp_path):
    net = client.NetworkingV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    versions = tmp_path / "rollback"
    run = RunRollback(versions)

    # Each step registered before its change, as the plugins do.
    scale_file = run.set_rollback_callable(
        scale_back, RollbackContent("web", namespace, {"kind": "Deployment", "replicas": 2}),
        scenario_type="service_disruption_scenarios", verb="scale", kind="Deployment")
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})
    policy_file = run.set_rollback_callable(
        delete_network_policy, RollbackContent("deny-all", namespace),
        scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
    net.create_namespaced_network_policy(namespace, _outage_policy(namespace))

    done = subprocess.run([krkn_lib_python, str(LOADER), kubeconfig, str(versions)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Newest first, each through the krkn entry point of the file.
    assert done.stdout.splitlines() == [f"executed {policy_file.name} via rollback_krkn_tui_step",
                                        f"executed {scale_file.name} via rollback_krkn_tui_step"]

    assert apps.read_namespaced_deployment_scale("web", namespace).spec.replicas == 2
    assert not net.list_namespaced_network_policy(namespace).items
    wait_for(lambda: (apps.read_namespaced_deployment("web", namespace).status.ready_replicas or 0) == 2,
             what="web back to 2 ready replicas")
    # Renamed by krkn's rule; krkn-tui's listing reads them as executed.
    assert not scale_file.exists() and Path(f"{scale_file}.executed").is_file()
    assert {v.status for v in list_versions(versions, run=run.run_id)} == {"executed"}


def test_our_file_still_runs_alone_and_through_our_executor(api_client, apps, namespace, tmp_path, kubeconfig):
    """The krkn entry point changes nothing of how krkn-tui runs a file."""
    from krkn_tui.rollback import Executor

    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 3))
    run = RunRollback(tmp_path / "rollback")
    alone = run.set_rollback_callable(
        scale_back, RollbackContent("web", namespace, {"kind": "Deployment", "replicas": 3}),
        scenario_type="service_disruption_scenarios", verb="scale", kind="Deployment")
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 1}})
    subprocess.run([sys.executable, str(alone)], env={**os.environ, "KUBECONFIG": kubeconfig}, check=True)
    assert apps.read_namespaced_deployment_scale("web", namespace).spec.replicas == 3

    again = run.set_rollback_callable(
        scale_back, RollbackContent("web", namespace, {"kind": "Deployment", "replicas": 3}),
        scenario_type="service_disruption_scenarios", verb="scale", kind="Deployment")
    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})
    [step] = Executor(lambda: api_client).execute([again])
    assert step.status == "executed", step.error
    assert apps.read_namespaced_deployment_scale("web", namespace).spec.replicas == 3


def test_a_file_krkn_wrote_runs_in_krkn_tui_with_krkn_lib(krkn_lib_python, kubeconfig, core, namespace, tmp_path):
    from krkn_tui.rollback import Executor

    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name="memory-hog-ngdjp"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")])))
    run_dir = tmp_path / "rollback" / KRKN_RUN
    run_dir.mkdir(parents=True, mode=0o700)
    path = run_dir / KRKN_NAME
    # The shape of a version file krkn writes (its template's structure: krkn-lib imports, the log
    # folder beside the file from __file__, krkn-lib objects built from $KUBECONFIG under __main__).
    path.write_text(krkn_version(namespace=namespace, resource="memory-hog-ngdjp", krkn_lib=True))
    os.chmod(path, 0o600)

    [step] = Executor(None, allow_foreign=True, python=krkn_lib_python, kubeconfig=kubeconfig).execute([path])
    assert (step.status, step.error) == ("executed", None)
    wait_for(lambda: not [p for p in core.list_namespaced_pod(namespace).items
                          if p.metadata.name == "memory-hog-ngdjp" and p.metadata.deletion_timestamp is None],
             what="the hog pod deleted by krkn's file")
    assert Path(f"{path}.executed").is_file() and not path.exists()
    assert list_versions(tmp_path / "rollback")[0].cluster is None  # krkn's files: cluster unknown
