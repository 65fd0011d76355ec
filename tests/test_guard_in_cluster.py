"""deploy/guard.yaml's guard running in the local cluster, on the real node, from krkn-tui's own
image (built on this machine, krkn_tui/localcluster/selfimage.py): a run killed with -9 whose
versions folder is gone is rolled back by that pod alone.

The test gives the manifest what its header asks an admin for (the guard's key Secret, the
operator key in the trust ConfigMap) and two local settings: the real node's selector and
toleration, and a grace of 2 s instead of 30 (the Lease of the run lasts 2 s)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import yaml
from kubernetes import client
from test_journal_deploy import GUARD_NS, JOURNAL, MANIFESTS, applied, kc  # noqa: F401 (fixtures)
from test_real_node import real_node, require_pods_reach_the_api  # noqa: F401 (a fixture)

from krkn_tui.localcluster import realnode, selfimage
from krkn_tui.rollback.journal.entries import Journal
from kubehelpers import wait_for
from runhelpers import Run, Workbench, krkn, wait_equal, write_config

pytestmark = pytest.mark.cluster

LEASE = {"cluster_journal_lease_duration": 2, "cluster_journal_renew_interval": 0.5}


def _guard_deployment() -> dict:
    return next(d for d in yaml.safe_load_all(MANIFESTS[0].read_text())
                if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "krkn-tui-guard")


def test_the_manifest_names_the_locally_built_image():
    spec = _guard_deployment()["spec"]["template"]["spec"]
    assert {c["image"] for c in spec["containers"] + spec["initContainers"]} == {selfimage.REF}


@pytest.fixture
def guard_pod(real_node, local_cluster, applied, kc, tmp_path):  # noqa: F811
    """The manifest's guard running on the real node, trusting a fresh operator key; yields that
    key's config folder (the run signs with it). Undone afterwards: the key Secret and the node
    settings go, the trusted keys are emptied, the Deployment keeps the manifest's form."""
    require_pods_reach_the_api(local_cluster, real_node)  # the guard uses the kubernetes Service
    # This checkout's krkn-tui in the image (`up` builds it only when missing), in the node.
    selfimage.build(local_cluster.build_script, local_cluster.cache_dir, print)
    local_cluster.refresh_images()
    if not (local_cluster.images_dir / f"{selfimage.NAME}.tar").is_file():
        why = "krkn-tui's image is not built (`krkn-tui cluster build` as root where the real node runs)"
        if os.environ.get("KRKN_TUI_REQUIRE_REAL_NODE") == "1":
            pytest.fail(why)
        pytest.skip(why)
    operator, guard = tmp_path / "operator", tmp_path / "guard"
    operator_key = krkn("key", "show", env={"KRKN_TUI_CONFIG_DIR": str(operator)}).stdout.strip()
    assert krkn("key", "show", env={"KRKN_TUI_CONFIG_DIR": str(guard)}).returncode == 0
    deployment = _guard_deployment()
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    command = list(container["command"])
    command[command.index("--grace") + 1] = "2"
    patch = {"spec": {"template": {"spec": {
        "nodeSelector": {realnode.KIND_LABEL: "real"},
        "tolerations": [{"key": realnode.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": container["name"], "command": command}]}}}}
    try:
        out = kc("-n", GUARD_NS, "create", "secret", "generic", "krkn-tui-guard-key",
                 f"--from-file=signing-key={guard / 'signing-key'}")
        assert out.returncode == 0, out.stderr
        for args in (("configmap", "krkn-tui-guard-trust", "--type=merge", "-p",
                      json.dumps({"data": {"trusted-keys": operator_key + "\n"}})),
                     ("deployment", "krkn-tui-guard", "--type=strategic", "-p", json.dumps(patch))):
            out = kc("-n", GUARD_NS, "patch", *args)
            assert out.returncode == 0, out.stderr
        out = kc("-n", GUARD_NS, "rollout", "status", "deployment/krkn-tui-guard", "--timeout=120s")
        assert out.returncode == 0, out.stdout + out.stderr + _pods(kc)
        [pod] = json.loads(kc("-n", GUARD_NS, "get", "pods", "-l", "app=krkn-tui-guard", "--field-selector",
                              "status.phase=Running", "-o", "json").stdout)["items"]
        assert pod["spec"]["nodeName"] == realnode.NODE_NAME
        yield operator, pod["metadata"]["name"]
    finally:
        kc("-n", GUARD_NS, "delete", "secret", "krkn-tui-guard-key", "--ignore-not-found")
        kc("apply", "-f", str(MANIFESTS[0]))  # the trust ConfigMap and the Deployment as shipped
        kc("-n", GUARD_NS, "patch", "deployment", "krkn-tui-guard", "--type=json", "-p", json.dumps(
            [{"op": "remove", "path": "/spec/template/spec/nodeSelector"},
             {"op": "remove", "path": "/spec/template/spec/tolerations"}]))


def _pods(kc) -> str:
    return kc("-n", GUARD_NS, "get", "pods", "-o", "wide").stdout + kc("-n", GUARD_NS, "get", "events").stdout


def test_the_in_cluster_guard_rolls_back_a_run_killed_with_9(guard_pod, api_client, kc, kubeconfig, tmp_path):
    operator, pod = guard_pod
    bench = Workbench(api_client)
    try:
        target = bench.target("application_outage", 600)  # in force until the run is killed
        baseline = target.snapshot()
        versions = tmp_path / "versions"
        cfg = write_config(tmp_path / "run", [(target.scenario_type, target.content)], versions=versions,
                           cluster_journal_namespace=JOURNAL, **LEASE)
        run = Run(cfg, kubeconfig, env={"KRKN_TUI_CONFIG_DIR": str(operator)})
        try:
            run.wait_for("rollback registered", timeout=90)
            wait_for(lambda: target.snapshot() != baseline, timeout=60, what="the outage in force")
        finally:
            run.proc.kill()
            run.finish()
        shutil.rmtree(versions)  # the laptop is gone: only the journal and the guard are left
        wait_equal(target.snapshot, baseline, timeout=120, what="the outage undone by the in-cluster guard")
        entries = Journal(api_client, JOURNAL).entries(run.run_id)
        assert entries and {e.state for e in entries} == {"executed"}, entries
        assert all(e.state_by.startswith("guard@") for e in entries)
        assert run.run_id in kc("-n", GUARD_NS, "logs", pod).stdout  # this pod did it, no other guard
    finally:
        bench.cleanup()


def test_the_in_cluster_guard_stops_a_killed_runs_chaos_pod_whose_trap_deletes_the_rule(
        guard_pod, api_client, kc, kubectl, kubeconfig, namespace, real_node, tmp_path):  # noqa: F811
    """A port filter killed with -9, its versions folder gone: the guard, with no pods/exec,
    deletes the chaos pod; the pod's TERM trap deletes the rule; the port answers again."""
    from test_scenario_network_chaos_ng import NG, _host_server, chain_rules, chaos_pods, entry

    operator, pod = guard_pod
    port, connects = _host_server(kubectl, kubeconfig, namespace)
    assert wait_for(connects, timeout=30, what="the machine reaching the node's port before the filter")
    before = chain_rules(real_node["netns"])
    versions = tmp_path / "versions"
    spec = [entry("node_network_filter", namespace, target=realnode.NODE_NAME, ports=[port], test_duration=600)]
    cfg = write_config(tmp_path / "run", [(NG, spec)], versions=versions, cluster_journal_namespace=JOURNAL, **LEASE)
    run = Run(cfg, kubeconfig, env={"KRKN_TUI_CONFIG_DIR": str(operator)})
    try:
        run.wait_for(r"holding 600s", timeout=120)
        assert wait_for(lambda: not connects(), timeout=30, interval=0.5, what="the filter to drop the connection")
    finally:
        run.proc.kill()
        run.finish()
    shutil.rmtree(versions)  # the laptop is gone: only the journal, the guard and the pod's trap are left
    assert wait_for(connects, timeout=120, what="the port answering again, by the in-cluster guard")
    journal = Journal(api_client, JOURNAL)
    wait_for(lambda: {e.state for e in journal.entries(run.run_id)} == {"executed"}, timeout=60,
             what="every step recorded executed")
    assert all(e.state_by.startswith("guard@") for e in journal.entries(run.run_id))
    assert chain_rules(real_node["netns"]) == before
    assert not chaos_pods(client.CoreV1Api(api_client), namespace)
    assert run.run_id in kc("-n", GUARD_NS, "logs", pod).stdout
