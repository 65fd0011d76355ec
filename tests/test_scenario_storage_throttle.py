"""storage_throttle_scenarios on the real node: a pod's write rate to its volume (dd with
oflag=direct, timed by the pod's own /proc/uptime) drops under the configured limit during the
run and recovers after; kill -9 of the runner then `execute-rollback` writes the cgroup's limits
back exactly as they were (a limit set before the run included, which krkn's reset would drop);
a volume with no block device is refused before any change; the blast radius names the node, the
pod, the volume and the device.

The volume: a local PersistentVolume on a folder of the real node's block device (a loop device,
localcluster/blockvol.py), so the limits act on it and on nothing of the machine's disks.
Tolerance: blk-throttle lets a first slice through at full speed, so the rate measured while
limited may exceed the limit slightly; it must stay under 1.25 x the limit, and the free rate
(before and after) must be above 4 x the limit for the drop to mean anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from kubehelpers import claimed_volume, wait_for
from guardhelpers import LEASE, UNDO_WAYS, journal_ns, undo_killed_run  # noqa: F401 (a fixture)
from runhelpers import Run, pending, write_config
from test_real_node import real_node  # noqa: F401 (a fixture)
from test_scenario_app_outage import changes, run_scenario, version_files
from test_scenario_pvc import start_filler, volume  # noqa: F401 (a fixture: a tmpfs volume)
from krkn_tui.config import load_config
from krkn_tui.engine import plan
from krkn_tui.localcluster import realnode
from krkn_tui.kube.podexec import exec_in_pod
from krkn_tui.scenarios.preview import preview_plan

TYPE = "storage_throttle_scenarios"
LIMIT = 1024 * 1024  # write_bps: 1 MiB/s
TOLERANCE = 1.25
PROBE_MIB = 3  # written while limited: about 3 s at the limit


def throttle(namespace: str, duration, **fields) -> dict:
    """krkn's kube/storage_throttle.yaml, aimed at PVC `data`."""
    return {"storage_throttle_scenario": {
        "pvc_name": "data", "pod_name": "", "namespace": namespace, "mount_path": "", "throttle_type": "bandwidth",
        "read_iops": 100, "write_iops": 50, "read_bps": "1Mi", "write_bps": LIMIT, "duration": duration, **fields}}


def write_rate(api_client, namespace: str, pod: str, mib: int) -> float:
    """Bytes per second of a direct write of `mib` MiB to /data, timed inside the pod."""
    script = ('a=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero of=/data/probe bs=64k count=$(($1*16)) oflag=direct '
              '2>/dev/null || exit 3; b=$(cut -d" " -f1 /proc/uptime); rm -f /data/probe; echo "$a $b"')
    r = exec_in_pod(api_client, namespace, pod, "main", ["sh", "-c", script, "sh", str(mib)], timeout=120)
    assert r.ok, r.why()
    start, end = (float(x) for x in r.stdout.split())
    return mib * 1024 * 1024 / max(end - start, 0.01)  # /proc/uptime counts hundredths


def cgroup_dir(api_client, namespace: str, pod: str, node: dict) -> Path:
    """The pod's container's blkio cgroup, as the machine sees it."""
    status = client.CoreV1Api(api_client).read_namespaced_pod(pod, namespace).status.container_statuses[0]
    cid = status.container_id.split("://")[-1]
    [found] = Path(f"/sys/fs/cgroup/blkio{node['cgroup_root']}").rglob(cid)
    return found


def limits(path: Path) -> dict[str, str]:
    return {f.name: f.read_text() for f in sorted(path.glob("blkio.throttle.*_device"))}


def helper_pods(core, namespace: str) -> list[str]:
    return [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector="app=krkn-io-throttle").items]


@pytest.fixture(autouse=True)
def nothing_left(request, api_client):
    """After each test: no helper pod anywhere, and no blkio limit on the node's block device in
    any cgroup of the cluster (a limit the test itself set is removed by that test)."""
    yield
    if "real_node" not in request.fixturenames:
        return
    node = request.getfixturevalue("real_node")
    pods = client.CoreV1Api(api_client).list_pod_for_all_namespaces(label_selector="app=krkn-io-throttle").items
    assert [p.metadata.name for p in pods if not p.metadata.deletion_timestamp] == []
    mm = (node.get("block") or {}).get("maj_min")
    left = [f"{f}: {line}" for f in Path(f"/sys/fs/cgroup/blkio{node['cgroup_root']}").rglob("blkio.throttle.*_device")
            for line in f.read_text().splitlines() if mm and line.split(" ")[0] == mm]
    assert left == []


@pytest.fixture
def block_volume(real_node, api_client, namespace):  # noqa: F811 (real_node is the imported fixture)
    """PVC `data` bound to a local PersistentVolume on a folder of the real node's block device,
    mounted at /data by pod `filler` (on the real node)."""
    block = real_node.get("block")
    if not block:
        pytest.skip("the running cluster's real node has no block device (`cluster down`, then `up`)")
    where = f"{block['mount']}/{namespace}"
    enter = ["nsenter", f"--mount={Path(real_node['netns']).parent / 'mnt'}", "--"]
    subprocess.run([*enter, "mkdir", "-p", where], check=True, timeout=30)
    core = client.CoreV1Api(api_client)
    try:
        with claimed_volume(core, namespace, f"{namespace}-block", "64Mi", {"local": {"path": where}},
                            node=realnode.NODE_NAME):
            start_filler(core, namespace, "filler")
            yield block
    finally:
        subprocess.run([*enter, "rm", "-rf", where], timeout=30)


@pytest.mark.cluster
def test_the_write_rate_drops_under_the_limit_during_the_run_and_recovers(tmp_path, api_client, namespace,
                                                                          real_node, block_volume):  # noqa: F811
    core = client.CoreV1Api(api_client)
    cgroup = cgroup_dir(api_client, namespace, "filler", real_node)
    found = limits(cgroup)
    free = write_rate(api_client, namespace, "filler", 16)
    assert free > 4 * LIMIT, f"the volume writes only {free:.0f} B/s unlimited: too slow to show a limit"
    during = []

    def on_event(event, _engine):
        if changes([event]) and changes([event])[0].get("file") == "blkio.throttle.write_bps_device":
            during.append((write_rate(api_client, namespace, "filler", PROBE_MIB), limits(cgroup)))

    _, result, events = run_scenario(tmp_path, api_client, TYPE, throttle(namespace, 15), on_event=on_event)
    assert result.status == "passed", result.scenarios
    [(rate, in_force)] = during
    assert rate < TOLERANCE * LIMIT, f"{rate:.0f} B/s with write_bps {LIMIT}"
    d = result.scenarios[0].details
    assert (d["pod"], d["container"], d["pvc"], d["node"], d["device"]) == (
        "filler", "main", "data", realnode.NODE_NAME, block_volume["maj_min"])
    assert in_force["blkio.throttle.write_bps_device"] == f"{block_volume['maj_min']} {LIMIT}\n"
    assert in_force["blkio.throttle.read_bps_device"] == f"{block_volume['maj_min']} 1048576\n"
    assert limits(cgroup) == found  # written back as found
    after = write_rate(api_client, namespace, "filler", 16)
    print(f"write rate: {free:.0f} B/s free, {rate:.0f} B/s limited to {LIMIT}, {after:.0f} B/s after")
    assert after > 4 * LIMIT
    assert [c["action"] for c in changes(events)] == ["create_pod", "write_cgroup", "write_cgroup"]
    assert version_files(tmp_path / "versions") == []
    assert wait_for(lambda: not helper_pods(core, namespace), timeout=60, what="the helper pod gone")


@pytest.mark.cluster
@pytest.mark.parametrize("undo", UNDO_WAYS)
def test_kill_9_then_its_undo_writes_the_limits_back_as_they_were(tmp_path, api_client, kubeconfig, namespace,
                                                                 real_node, block_volume, journal_ns,  # noqa: F811
                                                                 undo):
    """execute-rollback from the version files, or the guard (no pods/exec) from the journal:
    it deletes the helper pod, whose TERM trap writes the limits back."""
    core = client.CoreV1Api(api_client)
    cgroup = cgroup_dir(api_client, namespace, "filler", real_node)
    mm = block_volume["maj_min"]
    # A limit set before the run (by an operator, another tool): krkn's reset to 0 would drop it.
    (cgroup / "blkio.throttle.read_bps_device").write_text(f"{mm} 33554432\n")
    before = limits(cgroup)
    assert before["blkio.throttle.read_bps_device"] == f"{mm} 33554432\n"
    versions = tmp_path / "versions"
    run = Run(write_config(tmp_path, [(TYPE, throttle(namespace, "10m"))], versions=versions,
                           cluster_journal_namespace=journal_ns, **LEASE), kubeconfig)
    try:
        run.wait_for(r"holding 600s", timeout=120)
        assert limits(cgroup)["blkio.throttle.write_bps_device"] == f"{mm} {LIMIT}\n"
        assert write_rate(api_client, namespace, "filler", PROBE_MIB) < TOLERANCE * LIMIT
        run.proc.kill()
        run.finish()
        assert len(pending(versions)) == 2  # the helper pod and the limits, still in force
        assert limits(cgroup)["blkio.throttle.read_bps_device"] == f"{mm} 1048576\n"
        undo_killed_run(undo, run, versions, api_client, journal_ns, kubeconfig, tmp_path)
        assert limits(cgroup) == before  # exactly as found, the earlier limit included
        assert wait_for(lambda: not helper_pods(core, namespace), timeout=60, what="the helper pod gone")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
        (cgroup / "blkio.throttle.read_bps_device").write_text(f"{mm} 0\n")
    assert write_rate(api_client, namespace, "filler", 16) > 4 * LIMIT


@pytest.mark.cluster
def test_a_stop_mid_hold_writes_the_limits_back(tmp_path, api_client, namespace, real_node,
                                                block_volume):  # noqa: F811
    cgroup = cgroup_dir(api_client, namespace, "filler", real_node)
    before = limits(cgroup)

    def on_event(event, engine):  # the stop request a signal or the console's E-STOP makes
        if changes([event]) and changes([event])[0].get("file") == "blkio.throttle.write_bps_device":
            engine.stop.set()

    _, result, _ = run_scenario(tmp_path, api_client, TYPE, throttle(namespace, 120), on_event=on_event)
    assert result.status == "interrupted"
    assert [step.status for step in result.rollback] == ["executed", "executed"]
    assert limits(cgroup) == before


@pytest.mark.cluster
def test_the_blast_radius_names_node_pod_volume_and_device(tmp_path, api_client, namespace, real_node,
                                                           block_volume):  # noqa: F811
    cfg = load_config(write_config(tmp_path, [(TYPE, throttle(namespace, 30))]))
    [preview] = preview_plan(plan(cfg), api_client, cfg)
    assert preview.ok, preview.problem
    by_kind = {t.kind: t.names for t in preview.targets}
    assert by_kind == {"nodes": (realnode.NODE_NAME,), "pods": (f"{namespace}/filler",),
                       "PVCs": (f"{namespace}/data",), "devices": (block_volume["maj_min"],)}


@pytest.mark.cluster
def test_a_volume_without_a_block_device_is_refused_before_any_change(tmp_path, api_client, namespace, real_node,
                                                                      volume):  # noqa: F811 (tmpfs)
    core = client.CoreV1Api(api_client)
    _, result, events = run_scenario(tmp_path, api_client, TYPE, throttle(namespace, 30))
    assert result.status == "failed"
    assert "has no block device" in result.scenarios[0].message
    assert changes(events) == [] and version_files(tmp_path / "versions") == []
    assert helper_pods(core, namespace) == []
