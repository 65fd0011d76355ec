"""The cluster journal and the run Lease: plain-data rules (format 2 entries, signatures, states,
the undo operations, the Lease bound, retention), then the real thing on the local cluster."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid

import pytest
from kubernetes import client

from krkn_tui.kube.identity import ClusterIdentity, read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.journal.entry import build_payload, refusal, shown_state, state_refusal, trusted_state
from krkn_tui.rollback.journal.entries import (
    A_CREATED_BY,
    A_SIGNATURE,
    A_STATE_BY,
    A_STATE_SIGNATURE,
    A_STATE_TIME,
    DATA_KEY,
    L_STATE,
    STEP_TYPE,
    Entry,
    Journal,
    JournalError,
    entry_name,
    label_value,
    state_payload,
)
from krkn_tui.rollback.journal.lease import LeaseHeld, LeaseState, RunLease, held_past_bound, hold_bound, lease_name
from krkn_tui.rollback.journal.mirror import JournalSettings, RunMirror
from krkn_tui.rollback.signing import Signer, TrustedKeys, canonical
from krkn_tui.scenarios.application_outage import delete_network_policy
from krkn_tui.scenarios.service_disruption import recreate_namespace
from kubehelpers import gone_is_fine
from rollback_fixtures import noop_rollback

RUN = "1764480000000000000-0b9f3c52-6f7e-4c1e-9a57-2f7a1c9c0d11"
FILE = "node_scenarios_1764480000000000001_abcd1234.py"
HERE = ClusterIdentity("https://127.0.0.1:6443", "krkn-local", "1a2b3c4d-0000-4000-8000-000000000001")
ELSEWHERE = ClusterIdentity("https://127.0.0.1:6443", "krkn-local", "9f9f9f9f-0000-4000-8000-000000000002")
OPERATOR = Signer.generate()
STRANGER = Signer.generate()
TRUSTED = TrustedKeys([OPERATOR.public_raw])
SECRET_VALUE = "c2VjcmV0LXZhbHVl"


# ---- plain data -------------------------------------------------------------------------------


def test_entry_name_is_the_same_for_the_pending_and_executed_file_and_differs_by_run():
    assert entry_name(RUN, FILE) == entry_name(RUN, FILE + ".executed")
    assert entry_name(RUN, FILE) != entry_name(RUN.replace("0d11", "0d12"), FILE)
    assert entry_name(RUN, FILE).startswith("step-1764480000000000001-")


def test_a_run_id_too_long_for_a_label_is_hashed():
    assert label_value(RUN) == RUN
    long = "1-" + "a" * 100
    assert label_value(long).startswith("h-") and len(label_value(long)) <= 63


def _payload(cluster: ClusterIdentity = HERE, op: str = "node_scenarios.restore_node_taints",
             signer: Signer = OPERATOR, **content) -> dict:
    return build_payload(op=op, run_id=RUN, file=FILE, scenario_type="node_scenarios", created_ns=1,
                         cluster=cluster, content=RollbackContent("node-1", None, content or {"taints": []}),
                         signer_id=signer.key_id)


def _secret(payload: dict | None = None, *, signer: Signer | None = OPERATOR, raw: bytes | None = None,
            name: str | None = None, state: str = "pending", state_signer: Signer | None = OPERATOR) -> dict:
    raw = canonical(payload if payload is not None else _payload()) if raw is None else raw
    name = name or entry_name(RUN, FILE)
    ann = {A_STATE_BY: "laptop", A_STATE_TIME: "2026-01-01T00:00:00Z", A_CREATED_BY: "alice"}
    if signer is not None:
        ann[A_SIGNATURE] = signer.sign(raw)
    if state_signer is not None:
        import hashlib

        ann[A_STATE_SIGNATURE] = state_signer.sign_obj(state_payload(
            name, hashlib.sha256(raw).hexdigest(), state, "laptop", "2026-01-01T00:00:00Z", None))
    return {"type": STEP_TYPE, "metadata": {"name": name, "labels": {L_STATE: state}, "annotations": ann,
                                            "creationTimestamp": "2026-01-01T00:00:00Z"},
            "data": {DATA_KEY: base64.b64encode(raw).decode()}}


def _entry(**kw) -> Entry:
    return Entry.from_secret(_secret(**kw))


def test_a_signed_entry_of_this_cluster_naming_one_of_our_operations_is_accepted():
    entry = _entry()
    assert refusal(entry, TRUSTED, HERE) is None
    assert (entry.op, entry.run_id, entry.file, entry.created_by) == (
        "node_scenarios.restore_node_taints", RUN, FILE, "alice")


@pytest.mark.parametrize("how, why", [
    (dict(signer=None), "unsigned"),
    (dict(signer=STRANGER), "unknown key"),
    (dict(payload=_payload(signer=STRANGER), signer=STRANGER), "unknown key"),
    (dict(payload=_payload(cluster=ClusterIdentity("https://10.96.0.1:443", "", ""))), "records no kube-system UID"),
    (dict(payload=_payload(cluster=ELSEWHERE)), "another cluster"),
    (dict(payload=_payload(op="node_scenarios.exec")), "unknown undo operation"),
    (dict(payload=_payload(op="hog_scenarios.delete_hog_pod")), "not of its scenario type"),
    (dict(name="step-1764480000000000001-000000000000"), "not at the name its run and file give"),
    (dict(raw=b"import os\n"), "not JSON"),
    (dict(raw=b"[1]"), "not a JSON object"),
])
def test_an_entry_that_is_not_verifiably_ours_for_this_cluster_is_refused(how, why):
    reason = refusal(_entry(**how), TRUSTED, HERE)
    assert reason and why in reason and "\n" not in reason


def test_data_changed_after_signing_is_refused():
    secret = _secret()
    forged = canonical({**_payload(), "op": "node_scenarios.restore_node_schedulable"})
    secret["data"][DATA_KEY] = base64.b64encode(forged).decode()
    assert "bad signature" in refusal(Entry.from_secret(secret), TRUSTED, HERE)


def test_a_state_counts_only_with_its_own_signature():
    assert state_refusal(_entry(state="executed"), TRUSTED) is None
    relabelled = Entry.from_secret({**_secret(), "metadata": {**_secret()["metadata"], "labels": {L_STATE: "executed"}}})
    assert "bad signature" in state_refusal(relabelled, TRUSTED)
    assert trusted_state(relabelled, TRUSTED) == "pending" and shown_state(relabelled, TRUSTED) == "executed (unverified)"
    assert trusted_state(_entry(state="executed", state_signer=STRANGER), TRUSTED) == "pending"
    assert trusted_state(_entry(state="executed", state_signer=None), TRUSTED) == "pending"
    # a good state signature of another entry does not verify on this one
    other = _secret(name=entry_name(RUN, FILE.replace("0001_", "0002_")), state="executed")
    moved = _secret(state="executed")
    moved["metadata"]["annotations"][A_STATE_SIGNATURE] = other["metadata"]["annotations"][A_STATE_SIGNATURE]
    assert trusted_state(Entry.from_secret(moved), TRUSTED) == "pending"


def test_the_entry_holds_captured_secrets_redacted_and_leaves_the_content_alone():
    captured = {"objects": [{"kind": "Secret", "metadata": {"name": "db"}, "data": {"p": SECRET_VALUE}},
                            {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}]}
    content = RollbackContent("team", "team", captured)
    payload = build_payload(op="service_disruption_scenarios.recreate_namespace", run_id=RUN, file=FILE + ".executed",
                            scenario_type="service_disruption_scenarios", created_ns=1, cluster=HERE,
                            content=content, signer_id=OPERATOR.key_id)
    assert SECRET_VALUE.encode() not in canonical(payload) and payload["file"] == FILE
    assert payload["content"]["data"]["objects"][1]["data"] == {"k": "v"}
    assert content.data["objects"][0]["data"]["p"] == SECRET_VALUE  # the local file keeps it


def test_the_undo_operations_are_the_plugins_own_functions():
    from krkn_tui.rollback.undo_ops import UnknownOperation, lookup, registered_op, undo_ops

    ops = undo_ops()
    assert {"application_outages_scenarios.delete_network_policy", "hog_scenarios.delete_hog_pod",
            "node_scenarios.restore_node_schedulable", "node_scenarios.restore_node_taints",
            "service_disruption_scenarios.scale_back", "service_disruption_scenarios.recreate_namespace",
            "pvc_scenarios.remove_fill_file", "network_chaos_ng_scenarios.delete_hog_pod",
            "network_chaos_ng_scenarios.delete_network_rule", "service_hijacking_scenarios.restore_service_selector",
            "network_chaos_scenarios.delete_hog_pod", "network_chaos_scenarios.delete_network_rule",
            "ingress_node_scenarios.delete_hog_pod", "ingress_node_scenarios.delete_network_rule",
            "syn_flood_scenarios.delete_pods", "http_load_scenarios.delete_pods",
            "pod_network_scenarios.delete_hog_pod", "pod_network_scenarios.delete_network_rule",
            "storage_throttle_scenarios.delete_hog_pod", "storage_throttle_scenarios.restore_io_limits"} == set(ops)
    assert lookup("service_disruption_scenarios.recreate_namespace") is recreate_namespace
    with pytest.raises(UnknownOperation, match="unknown undo operation 'os.system'"):
        lookup("os.system")
    assert registered_op("application_outages_scenarios", delete_network_policy).endswith(".delete_network_policy")
    with pytest.raises(ValueError, match="not an undo operation of scenario type"):
        registered_op("hog_scenarios", delete_network_policy)
    with pytest.raises(ValueError, match="not an undo operation"):
        registered_op("fault_markers", noop_rollback)


def test_the_guard_leaves_a_namespaces_secrets_and_rbac_to_the_operator():
    from krkn_tui.rollback.undo_ops import guard_content, left_note

    objects = [{"kind": k, "metadata": {"name": k.lower()}} for k in ("ServiceAccount", "Role", "RoleBinding",
                                                                       "Secret", "ConfigMap", "Deployment")]
    content = RollbackContent("team", "team", {"namespace": {"metadata": {"name": "team"}}, "objects": objects})
    kept, left = guard_content(content)
    assert [o["kind"] for o in kept.data["objects"]] == ["ServiceAccount", "ConfigMap", "Deployment"]
    assert left == ["Role team/role", "RoleBinding team/rolebinding", "Secret team/secret"]
    assert kept.data["namespace"] == content.data["namespace"] and len(content.data["objects"]) == 6
    assert "left to the operator" in left_note(left) and "Secret team/secret" in left_note(left)
    assert guard_content(RollbackContent("n", None, {"taints": []})) == (RollbackContent("n", None, {"taints": []}), [])


def test_the_operations_that_exec_are_marked_for_the_operator():
    from krkn_tui.rollback.journal.entries import STATES
    from krkn_tui.rollback.undo_ops import OPERATOR_NOTE, needs_exec, undo_ops
    from krkn_tui.scenarios import load_plugins

    assert {op for op in undo_ops() if needs_exec(op)} == {"pvc_scenarios.remove_fill_file",
                                                           "network_chaos_ng_scenarios.delete_network_rule",
                                                           "network_chaos_ng_scenarios.delete_hog_pod",
                                                           "storage_throttle_scenarios.delete_hog_pod",
                                                           "storage_throttle_scenarios.restore_io_limits"} | {
        f"{kind}.{fn}" for kind in ("network_chaos_scenarios", "ingress_node_scenarios", "pod_network_scenarios")
        for fn in ("delete_network_rule", "delete_hog_pod")}
    for plugin in load_plugins().values():  # a marked function is one of the plugin's operations
        assert set(plugin.undo_needs_exec) <= set(plugin.undo_functions), plugin.scenario_type
        # what the guard calls instead (a chaos pod's trap) replaces only an operation that execs
        assert set(plugin.guard_undo) <= set(plugin.undo_needs_exec), plugin.scenario_type
    assert not needs_exec("os.system") and not needs_exec(None)
    assert "operator" in STATES and label_value("operator") == "operator"
    assert "needs pods/exec" in OPERATOR_NOTE and "execute-rollback" in OPERATOR_NOTE and "\n" not in OPERATOR_NOTE


def _lease(created: float, planned_end: float | None = None, renewed: float | None = None,
           holder: str = "run@h/1/a") -> LeaseState:
    return LeaseState("run-x", "x", holder, 15.0, renewed if renewed is not None else created, "1", 0, {},
                      created=created, planned_end=planned_end)


def test_a_lease_renewed_past_its_bound_is_reported_and_a_planned_end_only_shortens_it():
    settings = JournalSettings(hold_past_end=3600, max_hold=12 * 3600)
    assert hold_bound(_lease(0), settings) == 12 * 3600
    assert hold_bound(_lease(0, planned_end=600), settings) == 4200
    assert hold_bound(_lease(0, planned_end=10 ** 9), settings) == 12 * 3600  # a far planned end is capped
    live = _lease(0, planned_end=600, renewed=5000)
    assert held_past_bound(live, settings, now=5001) == pytest.approx(801)
    assert held_past_bound(_lease(0, planned_end=600, renewed=4000), settings, now=4001) is None
    assert held_past_bound(_lease(0, planned_end=600, renewed=100), settings, now=5001) is None  # expired: due
    assert held_past_bound(_lease(0, renewed=5000, holder=""), settings, now=5001) is None  # released


def test_a_run_without_a_lease_is_due_only_once_its_newest_entry_is_older_than_the_grace():
    from krkn_tui.rollback.journal.guard import due_runs

    made = _entry().created_at
    assert due_runs([_entry()], [], TRUSTED, grace=30, now=made + 10) == []
    assert due_runs([_entry()], [], TRUSTED, grace=30, now=made + 31) == [(RUN, None)]
    assert due_runs([_entry(state="executed")], [], TRUSTED, grace=30, now=made + 31) == []
    relabelled = _entry(state="executed", state_signer=STRANGER)  # not verifiably executed: still due
    assert due_runs([relabelled], [], TRUSTED, grace=30, now=made + 31) == [(RUN, None)]


class _Journal:
    def __init__(self, entries):
        self.items, self.deleted = entries, []

    def entries(self, run_id=None):
        return [e for e in self.items if run_id is None or e.run_id == run_id]

    def delete(self, entry):
        self.deleted.append(entry.name)


def test_a_run_whose_entries_are_all_verifiably_archived_is_deleted_after_the_retention():
    from krkn_tui.rollback.journal.retention import prune

    archived = _entry(state="archived")
    when = archived.created_at  # its state time in _secret
    journal = _Journal([archived])
    assert prune(journal, 3600, TRUSTED, now=when + 60) == [] and journal.deleted == []
    assert prune(journal, 3600, TRUSTED, now=when + 3601) == [archived.name]
    assert prune(_Journal([archived]), 0, TRUSTED, now=when) == [archived.name]
    relabelled = _Journal([_entry(state="archived", state_signer=STRANGER)])
    assert prune(relabelled, 0, TRUSTED, now=when + 10 ** 6) == []  # a relabel deletes nothing
    half = _Journal([archived, _entry(name="step-2", state="pending")])
    assert prune(half, 0, TRUSTED, now=when + 10) == []


def test_a_journaled_run_refuses_a_callable_that_is_no_undo_operation_before_writing_anything(tmp_path):
    reg = RunRollback(tmp_path / "versions")
    reg.mirror = object()  # never reached
    with pytest.raises(ValueError, match="not an undo operation"):
        reg.set_rollback_callable(noop_rollback, RollbackContent("x", "default"), scenario_type="fault_markers",
                                  verb="noop", kind="Thing")
    assert reg.registered == () and not (tmp_path / "versions").exists()


def test_key_show_prints_the_public_key_line_made_on_first_use(tmp_path, monkeypatch, capsys):
    from krkn_tui import cli
    from krkn_tui.rollback.signing import TrustedKeys, load_or_create

    monkeypatch.setenv("KRKN_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert cli.main(["key", "show"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["key", "show"]) == 0 and capsys.readouterr().out == first  # the same key, not a new one
    signer = load_or_create()
    assert first == f"{signer.public_text}  # key id {signer.key_id}\n"
    assert (tmp_path / "cfg" / "signing-key").stat().st_mode & 0o777 == 0o600
    trusted = TrustedKeys()
    trusted.add_lines(first, "pasted")  # a trusted-keys file takes the line as printed
    assert trusted.ids == {signer.key_id}


@pytest.mark.parametrize("flags, says", [
    (["--trusted-keys", "/nonexistent/keys"], "no such trusted-keys file"),
    (["--trust-key", "ed25519:notbase64!"], "not base64"),
])
def test_a_bad_trusted_key_stops_the_guard_in_one_line_before_it_connects(flags, says, tmp_path, monkeypatch, capsys):
    from krkn_tui import cli

    monkeypatch.setenv("KRKN_TUI_CONFIG_DIR", str(tmp_path / "cfg"))
    code = cli.main(["guard", "--once", *flags, "--kubeconfig", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1, err


# ---- on the local cluster ---------------------------------------------------------------------


def journal_trust():
    from krkn_tui.rollback.signing import local_trust

    return local_trust()


@pytest.fixture
def journal_ns(api_client):
    name = f"krkn-rollback-{uuid.uuid4().hex[:6]}"
    yield name
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


@pytest.fixture(scope="module")
def identity(api_client):
    return read_identity(api_client, "krkn-local")


@pytest.mark.cluster
def test_the_namespace_is_created_with_the_first_step_and_states_are_signed_changes(api_client, journal_ns,
                                                                                   identity):
    core = client.CoreV1Api(api_client)
    with pytest.raises(client.ApiException):
        core.read_namespace(journal_ns)
    journal = Journal(api_client, journal_ns, identity, host="laptop-1", signer=OPERATOR)
    files = [FILE.replace("0001_", f"000{i + 2}_") for i in range(2)]
    for i, file in enumerate(files):
        payload = build_payload(op="node_scenarios.restore_node_taints", run_id=RUN, file=file,
                                scenario_type="node_scenarios", created_ns=10 + i, cluster=identity,
                                content=RollbackContent("node-1", None, {"taints": [{"key": f"k{i}"}]}),
                                signer_id=OPERATOR.key_id)
        assert journal.record(payload, RUN, file) == entry_name(RUN, file)
    assert core.read_namespace(journal_ns).status.phase == "Active"
    entries = journal.entries(RUN)
    assert [e.file for e in entries] == files
    for entry in entries:
        assert refusal(entry, TRUSTED, identity) is None and state_refusal(entry, TRUSTED) is None
        assert (entry.state, entry.origin_host, entry.cluster.kube_system_uid) == (
            "pending", "laptop-1", identity.kube_system_uid)
        assert entry.created_by  # the API server's name for us, which the admission policy checks
    before = [e.raw for e in entries]

    journal.set_state(RUN, files[1] + ".executed", "executed", by="guard-x")
    journal.set_state(RUN, files[0], "failed", error="boom\nline two")
    got = {e.file: e for e in journal.entries(RUN)}
    assert (got[files[1]].state, got[files[1]].state_by) == ("executed", "guard-x")
    assert (got[files[0]].state, got[files[0]].error) == ("failed", "boom line two")
    assert all(state_refusal(e, TRUSTED) is None for e in got.values())
    assert [e.raw for e in journal.entries(RUN)] == before  # a state change never touches the data
    assert [e.file for e in journal.entries(states=("failed",))] == [files[0]]
    journal.set_state(RUN, files[0], "executed")
    assert journal.entry_for(RUN, files[0]).error is None  # a later state clears the error


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
    path = reg.set_rollback_callable(delete_network_policy, RollbackContent("x", "default"),
                                     scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
    journal = Journal(api_client, journal_ns)
    [entry] = journal.entries(reg.run_id)
    assert b"def delete_network_policy" in path.read_bytes()  # the file: code, as krkn's files are
    assert entry.op == "application_outages_scenarios.delete_network_policy" and entry.file == path.name
    assert entry.content == {"namespace": "default", "resource_identifier": "x", "data": None}  # the entry: data
    assert entry.cluster == identity and refusal(entry, journal_trust(), identity) is None
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
            reg.set_rollback_callable(delete_network_policy, RollbackContent("x", "default"),
                                      scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
        assert "\n" not in str(caught.value) and journal_ns in str(caught.value)
        assert len(reg.registered) == 1 and reg.registered[0].exists()
    finally:
        core.patch_namespaced_config_map("hold", journal_ns, {"metadata": {"finalizers": None}})


@pytest.mark.cluster
def test_a_lease_held_by_a_dead_process_of_this_host_is_taken_at_once(api_client, journal_ns):
    import subprocess
    import sys

    from krkn_tui.rollback.journal.entries import origin_host

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
        assert outcome.status == "failed" and outcome.message.startswith("cluster journal: ")
        assert "\n" not in outcome.message and "the change was not made" in outcome.message
        assert client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items == []
    finally:
        core.patch_namespaced_config_map("hold", journal_ns, {"metadata": {"finalizers": None}})
