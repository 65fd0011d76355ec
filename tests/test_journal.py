"""The cluster journal and the run Lease: plain-data rules, then the real thing on the local cluster."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
import uuid

import pytest
from kubernetes import client

from krkn_tui.kube.identity import ClusterIdentity, read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.journal import (
    A_SHA256,
    CHUNK_BYTES,
    L_STATE,
    STEP_TYPE,
    Entry,
    Journal,
    JournalError,
    entry_name,
    label_value,
    refusal_reason,
)
from krkn_tui.rollback.lease import LeaseHeld, RunLease, lease_name
from krkn_tui.rollback.mirror import JournalSettings, RunMirror
from kubehelpers import gone_is_fine
from rollback_fixtures import noop_rollback

RUN = "1764480000000000000-0b9f3c52-6f7e-4c1e-9a57-2f7a1c9c0d11"
FILE = "node_scenarios_1764480000000000001_abcd1234.py"
HERE = ClusterIdentity("https://127.0.0.1:6443", "krkn-local", "1a2b3c4d-0000-4000-8000-000000000001")
ELSEWHERE = ClusterIdentity("https://127.0.0.1:6443", "krkn-local", "9f9f9f9f-0000-4000-8000-000000000002")


# ---- plain data -------------------------------------------------------------------------------


def test_entry_name_is_the_same_for_the_pending_and_executed_file_and_differs_by_run():
    assert entry_name(RUN, FILE) == entry_name(RUN, FILE + ".executed")
    assert entry_name(RUN, FILE) != entry_name(RUN.replace("0d11", "0d12"), FILE)
    assert entry_name(RUN, FILE).startswith("step-1764480000000000001-")


def test_a_run_id_too_long_for_a_label_is_hashed():
    assert label_value(RUN) == RUN
    long = "1-" + "a" * 100
    assert label_value(long).startswith("h-") and len(label_value(long)) <= 63


def _entry(data: bytes, cluster: ClusterIdentity = HERE, sha: str | None = None) -> Entry:
    return Entry(name="step-1", run_id=RUN, file=FILE, sha256=sha or hashlib.sha256(data).hexdigest(),
                 scenario_type="node_scenarios", created_ns=1, state="pending", cluster=cluster,
                 origin_host="laptop", chunks=1, size=len(data))


def _version_bytes(run_id: str = RUN) -> bytes:
    return (f'# krkn-tui-meta: {{"run_id": "{run_id}", "format": 1}}\n'
            "def ROLLBACK(content, api_client):\n    pass\n").encode()


def test_an_intact_entry_of_this_cluster_is_accepted():
    assert refusal_reason(_entry(_version_bytes()), _version_bytes(), HERE) is None


def test_bytes_that_do_not_match_their_digest_are_refused():
    data = _version_bytes()
    reason = refusal_reason(_entry(data), data + b"# edited\n", HERE)
    assert reason and "sha256" in reason


def test_an_entry_written_for_another_cluster_is_refused():
    data = _version_bytes()
    reason = refusal_reason(_entry(data, cluster=ELSEWHERE), data, HERE)
    assert reason and "another cluster" in reason


def test_an_entry_without_our_header_or_of_another_run_is_refused():
    foreign = b"def rollback_x(content, telemetry):\n    pass\n"
    assert "not a krkn-tui version file" in refusal_reason(_entry(foreign), foreign, HERE)
    other = _version_bytes(run_id="1-other")
    assert "names run" in refusal_reason(_entry(other), other, HERE)


@pytest.mark.parametrize("hidden", [b"# \x1b[8m\nimport os\n# \x1b[0m\n", b"x = 1 #\rimport os\n",
                                    b"# coding: utf-7\n"])
def test_an_entry_that_breaks_the_text_rule_is_refused_as_unsafe(hidden):
    data = hidden + _version_bytes() if hidden.startswith(b"# coding") else _version_bytes() + hidden
    reason = refusal_reason(_entry(data), data, HERE)
    assert reason and "is unsafe:" in reason


def test_an_entry_reads_back_from_its_secret_object():
    obj = {"type": STEP_TYPE, "metadata": {"name": "step-1", "resourceVersion": "7",
                                           "labels": {L_STATE: "failed"},
                                           "annotations": {A_SHA256: "ab", "krkn-tui.io/chunks": "3"}},
           "data": {"version.py": base64.b64encode(b"abc").decode()}}
    entry = Entry.from_secret(obj)
    assert (entry.state, entry.sha256, entry.chunks, entry.head_data, entry.resource_version) == (
        "failed", "ab", 3, b"abc", "7")


# ---- on the local cluster ---------------------------------------------------------------------


@pytest.fixture
def journal_ns(api_client):
    name = f"krkn-rollback-{uuid.uuid4().hex[:6]}"
    yield name
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


@pytest.fixture(scope="module")
def identity(api_client):
    return read_identity(api_client, "krkn-local")


@pytest.mark.cluster
def test_the_namespace_is_created_with_the_first_step_and_a_step_reads_back_whole(api_client, journal_ns,
                                                                                  identity):
    core = client.CoreV1Api(api_client)
    with pytest.raises(client.ApiException):
        core.read_namespace(journal_ns)
    journal = Journal(api_client, journal_ns, identity, host="laptop-1")
    small = _version_bytes()
    big = _version_bytes() + (b"#" * 199 + b"\n") * (2 * CHUNK_BYTES // 200 + 5)  # three chunks, lines a screen shows
    for i, data in enumerate((small, big)):
        journal.record(run_id=RUN, file=FILE.replace("0001_", f"000{i + 2}_"), data=data,
                       sha256=hashlib.sha256(data).hexdigest(), scenario_type="node_scenarios",
                       created_ns=10 + i)
    assert core.read_namespace(journal_ns).status.phase == "Active"
    entries = journal.entries(RUN)
    assert [e.chunks for e in entries] == [1, 3]
    for entry, data in zip(entries, (small, big)):
        assert journal.read(entry) == data
        assert refusal_reason(entry, journal.read(entry), identity) is None
        assert (entry.state, entry.origin_host, entry.cluster.kube_system_uid) == (
            "pending", "laptop-1", identity.kube_system_uid)
    secrets = core.list_namespaced_secret(journal_ns).items
    assert sorted(s.type for s in secrets if s.type.startswith("krkn-tui.io/")) == [
        "krkn-tui.io/rollback-step", "krkn-tui.io/rollback-step", "krkn-tui.io/rollback-step-chunk",
        "krkn-tui.io/rollback-step-chunk"]

    journal.set_state(RUN, entries[1].file + ".executed", "executed", by="guard-x")
    journal.set_state(RUN, entries[0].file, "failed", error="boom\nline two")
    got = {e.file: e for e in journal.entries(RUN)}
    assert (got[entries[1].file].state, got[entries[1].file].state_by) == ("executed", "guard-x")
    assert (got[entries[0].file].state, got[entries[0].file].error) == ("failed", "boom line two")
    assert [e.file for e in journal.entries(states=("failed",))] == [entries[0].file]
    journal.set_state(RUN, entries[0].file, "executed")
    assert journal.entry_for(RUN, entries[0].file).error is None  # a later state clears the error


@pytest.mark.cluster
def test_one_lease_holder_at_a_time_and_an_expired_lease_is_taken(api_client, journal_ns):
    Journal(api_client, journal_ns).ensure_namespace()
    run = RunLease(api_client, journal_ns, RUN, duration=1, renew_every=0.3)
    run.acquire()
    other = RunLease(api_client, journal_ns, RUN, duration=1, renew_every=0.3)
    with pytest.raises(LeaseHeld, match="is held by"):
        other.acquire()
    run.start_renewing()
    time.sleep(1.5)  # longer than the duration: only the renewals keep it
    with pytest.raises(LeaseHeld):
        other.acquire()
    run.stop_renewing()  # the run "dies"
    deadline = time.monotonic() + 30
    while True:
        try:
            other.acquire()
            break
        except LeaseHeld:
            assert time.monotonic() < deadline, "the expired lease was never taken"
            time.sleep(0.2)
    assert not run.renew() and run.lost_to == other.holder
    assert other.release()
    lease = client.CoordinationV1Api(api_client).read_namespaced_lease(lease_name(RUN), journal_ns)
    assert lease.spec.holder_identity is None and lease.spec.lease_transitions == 1


@pytest.mark.cluster
def test_of_many_takers_of_one_expired_lease_exactly_one_wins(api_client, journal_ns):
    Journal(api_client, journal_ns).ensure_namespace()
    dead = RunLease(api_client, journal_ns, RUN, duration=1)
    dead.acquire()
    time.sleep(1.2)
    takers = [RunLease(api_client, journal_ns, RUN, duration=15) for _ in range(6)]
    barrier = threading.Barrier(len(takers))
    won: list[str] = []

    def take(lease: RunLease) -> None:
        barrier.wait()
        try:
            lease.acquire()
            won.append(lease.holder)
        except LeaseHeld:
            pass

    threads = [threading.Thread(target=take, args=(t,)) for t in takers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


@pytest.mark.cluster
def test_a_registration_is_mirrored_and_the_lease_is_held_until_the_run_closes(api_client, journal_ns, tmp_path,
                                                                               identity):
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=5, renew_every=1)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    path = reg.set_rollback_callable(noop_rollback, RollbackContent("x", "default"), scenario_type="fault_markers",
                                     verb="noop", kind="Thing")
    journal = Journal(api_client, journal_ns)
    [entry] = journal.entries(reg.run_id)
    assert journal.read(entry) == path.read_bytes()
    assert entry.cluster == identity
    leases = client.CoordinationV1Api(api_client)
    assert leases.read_namespaced_lease(lease_name(reg.run_id), journal_ns).spec.holder_identity == reg.mirror.holder
    reg.mirror.close()
    assert leases.read_namespaced_lease(lease_name(reg.run_id), journal_ns).spec.holder_identity is None


@pytest.mark.cluster
def test_a_journal_that_cannot_be_written_fails_the_registration_in_one_line(api_client, journal_ns, tmp_path):
    """A namespace being deleted refuses new objects: the step stays on disk, the caller is told."""
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": journal_ns}})
    core.create_namespaced_config_map(journal_ns, {"metadata": {"name": "hold", "finalizers": ["krkn-tui.io/test"]}})
    core.delete_namespace(journal_ns)
    try:
        reg = RunRollback(tmp_path / "versions")
        reg.mirror = RunMirror(lambda: api_client, JournalSettings(namespace=journal_ns), reg.run_id,
                               lambda c: read_identity(c, "krkn-local"))
        with pytest.raises(JournalError) as caught:
            reg.set_rollback_callable(noop_rollback, RollbackContent("x", "default"), scenario_type="fault_markers",
                                      verb="noop", kind="Thing")
        assert "\n" not in str(caught.value) and journal_ns in str(caught.value)
        assert len(reg.registered) == 1 and reg.registered[0].exists()
    finally:
        core.patch_namespaced_config_map("hold", journal_ns, {"metadata": {"finalizers": None}})


@pytest.mark.cluster
def test_a_lease_held_by_a_dead_process_of_this_host_is_taken_at_once(api_client, journal_ns):
    import subprocess
    import sys

    from krkn_tui.rollback.journal import origin_host

    Journal(api_client, journal_ns).ensure_namespace()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = RunLease(api_client, journal_ns, RUN, holder=f"run@{origin_host()}/{gone.stdout.strip()}/abcd1234",
                    duration=600)
    dead.acquire()
    RunLease(api_client, journal_ns, RUN, duration=600).acquire()  # no wait for the 600 s

    live = RunLease(api_client, journal_ns, RUN + "0", holder=f"run@{origin_host()}/{os.getpid()}/abcd1234",
                    duration=600)
    live.acquire()
    with pytest.raises(LeaseHeld):
        RunLease(api_client, journal_ns, RUN + "0", duration=600).acquire()
    elsewhere = RunLease(api_client, journal_ns, RUN + "1", holder="run@another-host/1/abcd1234", duration=600)
    elsewhere.acquire()
    with pytest.raises(LeaseHeld):
        RunLease(api_client, journal_ns, RUN + "1", duration=600).acquire()


@pytest.mark.cluster
def test_a_scenario_whose_step_the_journal_cannot_take_fails_in_one_line_and_changes_nothing(
        api_client, journal_ns, namespace, tmp_path):
    import yaml

    from krkn_tui.config import DEFAULT_PROTECTED_NAMESPACES, Config, ScenarioRef
    from krkn_tui.engine import Engine, plan

    from kubehelpers import deployment, ready_pods, wait_for

    core = client.CoreV1Api(api_client)
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("web", namespace, 1))
    wait_for(lambda: ready_pods(core, namespace, "app=web"), what="the web pod Ready")
    core.create_namespace({"metadata": {"name": journal_ns}})
    core.create_namespaced_config_map(journal_ns, {"metadata": {"name": "hold", "finalizers": ["krkn-tui.io/test"]}})
    core.delete_namespace(journal_ns)  # terminating: it refuses new Secrets
    try:
        scenario = tmp_path / "outage.yaml"
        scenario.write_text(yaml.safe_dump({"application_outage": {
            "duration": 30, "namespace": namespace, "pod_selector": {"app": "web"}}}))
        config = Config(path=tmp_path / "config.yaml", kubeconfig_path=None, auto_rollback=True,
                        versions_dir=tmp_path / "versions", protected_namespaces=DEFAULT_PROTECTED_NAMESPACES,
                        allow_protected=False, scenarios=[ScenarioRef("application_outages_scenarios", scenario, 0)],
                        wait_duration=0, journal=JournalSettings(namespace=journal_ns))
        result = Engine(config, lambda: api_client).run(plan(config))
        [outcome] = result.scenarios
        assert outcome["status"] == "failed" and outcome["message"].startswith("cluster journal: ")
        assert "\n" not in outcome["message"] and "the change was not made" in outcome["message"]
        assert client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items == []
    finally:
        core.patch_namespaced_config_map("hold", journal_ns, {"metadata": {"finalizers": None}})


def test_an_entry_whose_own_header_names_another_cluster_is_refused():
    """The annotations say this cluster, but the file's record (covered by its digest) does not."""
    import json as _json

    meta = {"run_id": RUN, "format": 1, "cluster": ELSEWHERE.to_dict()}
    data = (f"# krkn-tui-meta: {_json.dumps(meta)}\ndef ROLLBACK(content, api_client):\n    pass\n").encode()
    reason = refusal_reason(_entry(data), data, HERE)
    assert reason and "recorded for cluster" in reason
