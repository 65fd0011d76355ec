"""The guard on the local cluster: a run killed with SIGKILL whose versions folder is gone is rolled
back from the cluster journal by `krkn-tui guard --once` in another process, once its Lease
expired; forged, tampered or foreign entries are refused (and shown so), a relabelled state makes
nothing skip, no Secret value enters the journal, and a local `execute-rollback` and the guard
never both run a step."""

from __future__ import annotations

import base64
import json
import shutil
import time
import uuid

import pytest
from kubernetes import client

from krkn_tui.kube.identity import read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.journal.guard import lease_events
from krkn_tui.rollback.journal.entries import A_STATE_BY, DATA_KEY, L_STATE, Journal
from krkn_tui.rollback.journal.mirror import JournalSettings, RunMirror
from krkn_tui.rollback.signing import Signer, canonical
from krkn_tui.scenarios.application_outage import delete_network_policy
from kubehelpers import gone_is_fine, wait_for
from guardhelpers import guard_until_done
from runhelpers import Run, Workbench, krkn, pending, wait_equal, write_config

pytestmark = pytest.mark.cluster

# The variants whose scenario leaves a change to undo (a pod kill is healed by its ReplicaSet).
UNDOABLE = ("application_outage", "node_cordon", "node_taint", "node_drain", "service_scale",
            "service_delete_namespace", "hog", "service_hijacking", "syn_flood", "http_load")
LEASE = {"cluster_journal_lease_duration": 2, "cluster_journal_renew_interval": 0.5}
# What the guard leaves to the operator of a deleted namespace (undo_ops.GUARD_LEAVES).
LEFT_TO_THE_OPERATOR = {"Secret": {}, "Role": {}, "RoleBinding": {}}


@pytest.fixture(scope="module")
def journal_ns(api_client):
    name = f"krkn-rollback-{uuid.uuid4().hex[:6]}"
    yield name
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


@pytest.fixture(scope="module")
def bench(api_client):
    made = Workbench(api_client)
    yield made
    made.cleanup()


@pytest.mark.parametrize("variant", UNDOABLE)
def test_a_killed_run_without_its_files_is_rolled_back_by_the_guard(variant, bench, journal_ns, api_client,
                                                                     kubeconfig, tmp_path):
    target = bench.target(variant, 600)  # the change stays in force until the run is killed
    baseline = target.snapshot()
    versions = tmp_path / "versions"
    cfg = write_config(tmp_path, [(target.scenario_type, target.content)], cluster_journal_namespace=journal_ns,
                       **LEASE)
    run = Run(cfg, kubeconfig)
    try:
        run.wait_for("rollback registered", timeout=90)
        wait_for(lambda: target.snapshot() != baseline, timeout=60, what=f"{variant}'s change in force")
    finally:
        run.proc.kill()
        run.finish()
    run_id = run.run_id
    shutil.rmtree(versions)  # the laptop is gone

    journal = Journal(api_client, journal_ns)
    assert journal.entries(run_id, states=("pending",)), run.output
    out = guard_until_done(journal, run_id, kubeconfig, tmp_path)
    entries = journal.entries(run_id)
    if variant == "service_delete_namespace":  # its Secret and RBAC are the operator's to restore
        baseline = {**baseline, **LEFT_TO_THE_OPERATOR}
        [entry] = entries
        assert entry.state == "partial" and "left to the operator" in entry.error, entry
        assert all(f"{kind} {target.namespace}/" in entry.error for kind in LEFT_TO_THE_OPERATOR), entry.error
        assert b"s3cr3t" not in entry.raw and base64.b64encode(b"s3cr3t") not in entry.raw
    wait_equal(target.snapshot, baseline, what=f"{variant} target after the guard\n{''.join(out)}")
    done = "partial" if variant == "service_delete_namespace" else "executed"
    assert entries and {e.state for e in entries} == {done}, entries
    assert all(e.state_by.startswith("guard@") for e in entries)
    reasons = [e["reason"] for e in lease_events(api_client, journal_ns, run_id)]
    reason = "RollbackPartial" if variant == "service_delete_namespace" else "RollbackExecuted"
    assert reasons.count(reason) == len(entries)
    audit = (tmp_path / "guard-versions-audit.jsonl").read_text().splitlines()
    assert sum(json.loads(a)["event"] == f"rollback_{done}" for a in audit) == len(entries)


# ---- refusals -----------------------------------------------------------------------------------


def _policy(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"podSelector": {"matchLabels": {"krkn-tui-test": "none"}},
                                                 "policyTypes": ["Ingress"]}}


def _dead_run(api_client, tmp_path, journal_ns, namespace, steps: int, duration: float = 1,
              prefix: str = "m") -> RunRollback:
    """A run that made `steps` NetworkPolicies and registered their deletion with the journal on,
    then died (no renewal). Each undo is krkn-tui's own application outage undo."""
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=duration, renew_every=duration / 3)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    net = client.NetworkingV1Api(api_client)
    for i in range(steps):
        name = f"{prefix}{i:03d}"
        reg.set_rollback_callable(delete_network_policy, RollbackContent(name, namespace),
                                  scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
        net.create_namespaced_network_policy(namespace, _policy(name))
    reg.mirror.lease.stop_renewing()
    return reg


def markers(api_client, namespace: str) -> set[str]:
    """The policies still in force (a step's undo deletes its own)."""
    return {p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items}


def _guard_once(journal_ns, tmp_path, kubeconfig, *extra):
    return krkn("guard", "--once", "--grace", "0", "--journal-namespace", journal_ns, "-d", tmp_path / "g", *extra,
                kubeconfig=kubeconfig)


def test_the_guard_goes_on_rolling_back_while_the_cluster_is_halted(api_client, journal_ns, namespace, kubeconfig,
                                                                    tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, prefix="h")
    halted = krkn("halt", "--reason", "guard test", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert halted.returncode == 0, halted.stderr
    try:
        out = _guard_once(journal_ns, tmp_path, kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "cluster halted by" in out.stdout and "guard test: runs are stopped, the guard goes on" in out.stdout
        assert markers(api_client, namespace) == set()
        assert {e.state for e in Journal(api_client, journal_ns).entries(reg.run_id)} == {"executed"}
    finally:
        krkn("resume", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)


def test_tampered_data_and_another_clusters_entry_are_refused(api_client, journal_ns, namespace, kubeconfig,
                                                              tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 3)
    journal = Journal(api_client, journal_ns)
    first, second, third = journal.entries(reg.run_id)
    core = client.CoreV1Api(api_client)
    # the data changed after signing: another target (the admission policy forbids it; the signature too)
    tampered = canonical({**first.payload, "content": {**first.content, "resource_identifier": "m002"}})
    core.patch_namespaced_secret(first.name, journal_ns, {"data": {DATA_KEY: base64.b64encode(tampered).decode()}})
    # signed by a trusted key (ours), but for another cluster
    elsewhere = {**second.payload, "cluster": {**second.payload["cluster"],
                                               "kube_system_uid": "00000000-0000-4000-8000-000000000000"}}
    core.patch_namespaced_secret(second.name, journal_ns, {
        "data": {DATA_KEY: base64.b64encode(canonical(elsewhere)).decode()},
        "metadata": {"annotations": {"krkn-tui.io/signature": journal.signer.sign(canonical(elsewhere))}}})
    time.sleep(1.2)  # the lease expires

    out = _guard_once(journal_ns, tmp_path, kubeconfig)
    assert out.returncode == 1, out.stdout + out.stderr
    states = {e.name: e for e in journal.entries(reg.run_id)}
    assert states[first.name].state == "refused" and "bad signature" in states[first.name].error
    assert states[second.name].state == "refused" and "another cluster" in states[second.name].error
    assert states[third.name].state == "executed"
    assert markers(api_client, namespace) == {"m000", "m001"}  # only the intact step ran
    kinds = sorted(e["reason"] for e in lease_events(api_client, journal_ns, reg.run_id))
    assert kinds == ["RollbackExecuted", "RollbackRefused", "RollbackRefused"]


def _forge(api_client, journal_ns, model, name_of_run: str, *, uid: str, signer: Signer | None,
           target: str) -> str:
    """What anyone who may create a Secret in the journal namespace can write: an entry like
    `model` (a real one), for a run with no Lease, deleting `target`."""
    from krkn_tui.rollback.journal.entries import entry_name

    file = model.file
    payload = {**model.payload, "run_id": name_of_run, "file": file,
               "cluster": {**model.payload["cluster"], "kube_system_uid": uid},
               "content": {**model.content, "resource_identifier": target},
               "signer": signer.key_id if signer else model.payload["signer"]}
    raw = canonical(payload)
    name = entry_name(name_of_run, file)
    annotations = {"krkn-tui.io/run-id": name_of_run}
    if signer is not None:
        annotations["krkn-tui.io/signature"] = signer.sign(raw)
    client.CoreV1Api(api_client).create_namespaced_secret(journal_ns, {
        "type": "krkn-tui.io/rollback-step",
        "metadata": {"name": name, "labels": {"krkn-tui.io/run": name_of_run, L_STATE: "pending"},
                     "annotations": annotations},
        "data": {DATA_KEY: base64.b64encode(raw).decode()}})
    return name


def test_forged_entries_are_refused_by_the_guard_and_shown_refused(api_client, journal_ns, namespace, kubeconfig,
                                                                   tmp_path):
    """A real entry's cluster UID copied into an entry signed by an unknown key, the same unsigned,
    and an entry without a UID signed by a key the guard does trust: none runs, none has a Lease."""
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 1, prefix="real")
    journal = Journal(api_client, journal_ns)
    [model] = journal.entries(reg.run_id)
    uid = model.payload["cluster"]["kube_system_uid"]
    net = client.NetworkingV1Api(api_client)
    for victim in ("victim-a", "victim-b", "victim-c"):
        net.create_namespaced_network_policy(namespace, _policy(victim))
    forged_run = f"{time.time_ns()}-{uuid.uuid4()}"
    names = {
        _forge(api_client, journal_ns, model, forged_run.replace("-", "-a", 1), uid=uid, signer=Signer.generate(),
               target="victim-a"): "unknown key",
        _forge(api_client, journal_ns, model, forged_run.replace("-", "-b", 1), uid=uid, signer=None,
               target="victim-b"): "unsigned",
        _forge(api_client, journal_ns, model, forged_run.replace("-", "-c", 1), uid="", signer=journal.signer,
               target="victim-c"): "records no kube-system UID",
    }
    # the real entry's signed data under another name: refused, and its refusal is recorded on
    # itself, never on the entry its (unverified) run and file point at
    pointer = "step-0-forged"
    client.CoreV1Api(api_client).create_namespaced_secret(journal_ns, {
        "type": "krkn-tui.io/rollback-step",
        "metadata": {"name": pointer, "labels": {"krkn-tui.io/run": reg.run_id, L_STATE: "pending"},
                     "annotations": {"krkn-tui.io/signature": model.signature}},
        "data": {DATA_KEY: base64.b64encode(model.raw).decode()}})
    names[pointer] = "not at the name its run and file give"
    time.sleep(1.2)  # the real run's lease expires: its step is due too
    try:
        out = _guard_once(journal_ns, tmp_path, kubeconfig)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stdout + out.stderr
        assert {"victim-a", "victim-b", "victim-c"} <= markers(api_client, namespace)
        assert "real000" not in markers(api_client, namespace) and journal.entry(model.name).state == "executed"
        for name, why in names.items():
            entry = journal.entry(name)
            assert entry.state == "refused" and why in entry.error, (name, entry)
            assert any(name in line and why in line for line in out.stdout.splitlines()), out.stdout

        listed = krkn("list-rollback", "--cluster", "--json", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
        rows = {r["entry"]: r for r in json.loads(listed.stdout)}
        assert rows[model.name]["check"].startswith("ok: signed by"), rows[model.name]
        for name, why in names.items():
            assert rows[name]["check"].startswith("refused: ") and why in rows[name]["check"], rows[name]
        table = krkn("list-rollback", "--cluster", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
        for name, why in names.items():
            [line] = [x for x in table.stdout.splitlines() if name in x]
            assert "(refused: " in line and why in line, line
        shown = krkn("show-rollback", "--cluster", next(iter(names)), "--journal-namespace", journal_ns,
                     kubeconfig=kubeconfig)
        assert shown.returncode == 0 and "# check: refused: " in shown.stdout, shown.stdout + shown.stderr
    finally:
        reg.mirror.close()


def test_a_relabelled_executed_makes_nothing_skip(api_client, journal_ns, namespace, kubeconfig, tmp_path):
    """`kubectl label ... krkn-tui.io/state=executed` on a pending entry: execute-rollback runs the
    step anyway (and says why), keeps its file as for any step it runs, and the guard still
    counts it pending."""
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, prefix="relabel")
    journal = Journal(api_client, journal_ns)
    older, newer = journal.entries(reg.run_id)
    client.CoreV1Api(api_client).patch_namespaced_secret(older.name, journal_ns, {"metadata": {
        "labels": {L_STATE: "executed"}, "annotations": {A_STATE_BY: "guard@nowhere/1/abcd"}}})
    listed = krkn("list-rollback", "--cluster", "--json", "-r", reg.run_id, "--journal-namespace", journal_ns,
                  kubeconfig=kubeconfig)
    assert [r["state"] for r in json.loads(listed.stdout)] == ["executed (unverified)", "pending"]
    time.sleep(1.2)  # the lease expires
    out = krkn("execute-rollback", "-d", tmp_path / "versions", "-r", reg.run_id, "--journal-namespace", journal_ns,
               kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr
    assert markers(api_client, namespace) == set()  # both undone: nothing was skipped
    [said] = [x for x in out.stderr.splitlines() + out.stdout.splitlines() if "without a trusted" in x
              or "does not verify" in x or "bad signature" in x]
    assert older.file in said and "running it" in said, said
    assert pending(tmp_path / "versions") == []
    assert {e.state for e in journal.entries(reg.run_id)} == {"executed"}


def test_the_guard_says_what_it_does_with_the_one_renderer(api_client, journal_ns, namespace, kubeconfig, tmp_path,
                                                            monkeypatch, capsys):
    """`krkn-tui guard` prints its typed events through commands/render.py and nothing else: a
    takeover, then each step's outcome; a refused entry is one line naming the entry and why."""
    import re

    from krkn_tui import cli
    from krkn_tui import events as ev
    from krkn_tui.commands import guard as guard_command
    from krkn_tui.commands.render import render

    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, prefix="said")
    journal = Journal(api_client, journal_ns)
    older, newer = journal.entries(reg.run_id)
    tampered = older.raw.replace(b"said000", b"said001")
    client.CoreV1Api(api_client).patch_namespaced_secret(
        older.name, journal_ns, {"data": {DATA_KEY: base64.b64encode(tampered).decode()}})
    time.sleep(1.2)  # the lease expires

    said: list[ev.Event] = []
    printer = guard_command.print_event  # the command's own printer, watched: what it was given, what it printed
    monkeypatch.setattr(guard_command, "print_event", lambda e: (said.append(e), printer(e)))
    code = cli.main(["guard", "--once", "--grace", "0", "--journal-namespace", journal_ns, "-d",
                     str(tmp_path / "g"), "--kubeconfig", kubeconfig])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err  # a refused step
    assert out.err == ""

    assert [type(e) for e in said] == [ev.GuardStarted, ev.GuardTakeover, ev.RollbackFromJournal,
                                       ev.RollbackFromJournal]
    takeover = said[1]
    assert (takeover.run_id, takeover.steps) == (reg.run_id, 2) and takeover.holder.startswith("run@")
    assert [(e.status, e.file) for e in said[2:]] == [  # newest first
        ("executed", f"{journal_ns}/{newer.name}"), ("refused", f"{journal_ns}/{older.name}")]
    lines = out.out.splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines), lines
    assert [line[11:] for line in lines] == [render(e) for e in said]
    assert f"run {reg.run_id} lease of run@" in lines[1] and "taking over 2 pending step(s)" in lines[1]

    [refused] = [line for line in lines if older.name in line]
    assert "refused" in refused and "bad signature" in refused, refused
    assert markers(api_client, namespace) >= {"said000"} and "said001" not in markers(api_client, namespace)


def test_an_idle_guard_says_so_once_and_an_unreachable_journal_every_pass(api_client, journal_ns, namespace, tmp_path):
    import socket
    import threading

    from krkn_tui import events as ev
    from krkn_tui.rollback.journal.guard import Guard
    from krkn_tui.rollback.signing import local_trust

    own_ns = f"{journal_ns}-idle"  # a journal of its own: no other test's run is due in it
    settings = JournalSettings(namespace=own_ns)
    identity = read_identity(api_client, "krkn-local")
    said: list[ev.Event] = []
    guard = Guard(api_client, settings, identity, trusted=local_trust(), grace=0, on_event=said.append)
    try:
        assert [guard.once(), guard.once(), guard.once()] == [[], [], []]
        assert said == [ev.GuardIdle()]  # not once per pass

        reg = _dead_run(api_client, tmp_path, own_ns, namespace, 1, prefix="idle")
        time.sleep(1.2)  # its lease expires
        [outcome] = guard.once()
        assert outcome.status == "executed" and outcome.run_id == reg.run_id
        assert guard.once() == []
        assert [type(e) for e in said] == [ev.GuardIdle, ev.GuardTakeover, ev.RollbackFromJournal, ev.GuardIdle]
    finally:
        gone_is_fine(client.CoreV1Api(api_client).delete_namespace, own_ns)

    with socket.socket() as s:  # a port nothing listens on: the API server is away
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = client.Configuration()
    config.host = f"https://127.0.0.1:{port}"
    said.clear()
    away = Guard(client.ApiClient(config), settings, identity, trusted=local_trust(), grace=0, on_event=said.append)
    stop = threading.Event()
    loop = threading.Thread(target=away.run_forever, args=(stop, 0.1), daemon=True)
    loop.start()
    try:
        wait_for(lambda: len(said) >= 2, timeout=60, what="two passes of a guard whose API server is away")
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()
    assert all(isinstance(e, ev.JournalUnavailable) and e.retry_in == 0.1 and "cannot list" in e.error
               for e in said), said


def test_a_lease_renewed_past_its_bound_is_reported_and_listed(api_client, journal_ns, namespace, kubeconfig,
                                                               tmp_path):
    """A run whose Lease someone keeps renewing (here: its planned end long past) is reported by
    the guard, as an Event on the Lease, and shown by list-rollback --cluster; its steps stay."""
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=30, renew_every=1, hold_past_end=0)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"),
                           planned_end=time.time() - 60)
    reg.set_rollback_callable(delete_network_policy, RollbackContent("held000", namespace),
                              scenario_type="application_outages_scenarios", verb="delete", kind="NetworkPolicy")
    client.NetworkingV1Api(api_client).create_namespaced_network_policy(namespace, _policy("held000"))
    config = write_config(tmp_path / "cfg", [], cluster_journal_namespace=journal_ns, cluster_journal_hold_past_end=0)
    try:
        out = krkn("guard", "--once", "--grace", "0", "-c", config, kubeconfig=kubeconfig)
        assert "Traceback" not in out.stderr, out.stderr
        [line] = [x for x in out.stdout.splitlines() if reg.run_id in x]
        assert "past its bound" in line and reg.mirror.holder in line, out.stdout
        reasons = [e["reason"] for e in lease_events(api_client, journal_ns, reg.run_id)]
        assert reasons == ["LeaseHeldPastBound"]
        assert markers(api_client, namespace) == {"held000"}  # reported, not overruled
        listed = krkn("list-rollback", "--cluster", "-c", config, "--json", "-r", reg.run_id, kubeconfig=kubeconfig)
        [row] = json.loads(listed.stdout)
        assert "PAST ITS BOUND" in row["lease"], row
    finally:
        reg.mirror.close()


def test_a_live_run_is_left_alone_by_the_guard_and_by_execute_rollback(api_client, journal_ns, namespace,
                                                                       kubeconfig, tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, duration=30, prefix="live")
    reg.mirror.lease.start_renewing()  # alive after all
    try:
        out = _guard_once(journal_ns, tmp_path, kubeconfig)
        assert out.returncode == 0 and "nothing due" in out.stdout, out.stdout + out.stderr
        ex = krkn("execute-rollback", "-d", tmp_path / "versions", "-r", reg.run_id, "--journal-namespace",
                  journal_ns, kubeconfig=kubeconfig)
        assert ex.returncode == 0 and f"run {reg.run_id} left alone" in ex.stderr, ex.stdout + ex.stderr
        assert "is held by run@" in ex.stderr
        assert len(pending(tmp_path / "versions")) == 2 and markers(api_client, namespace) >= {"live000", "live001"}
    finally:
        reg.mirror.close()


# ---- the race -----------------------------------------------------------------------------------

RACE_STEPS = 100


def test_two_guards_and_execute_rollback_run_each_of_100_steps_exactly_once(api_client, journal_ns, namespace,
                                                                            kubeconfig, tmp_path):
    """Each step's undo is said executed by exactly one of the three processes (the undo is a
    deletion: the outputs count the runs, the cluster the result)."""
    from test_fault_concurrent_executors import _start_together

    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, RACE_STEPS, prefix="race")
    versions = tmp_path / "versions"
    time.sleep(1.2)  # the lease expires
    guard = ["--once", "--grace", "0", "--journal-namespace", journal_ns, "-d", tmp_path / "g"]
    done = _start_together(tmp_path, kubeconfig, [
        [*map(str, guard)], [*map(str, guard)],
        ["-d", str(versions), "-r", reg.run_id, "--journal-namespace", journal_ns]],
        command=["guard", "guard", "execute-rollback"])
    text = "\n".join(d.stdout + d.stderr for d in done)
    assert all(d.returncode == 0 for d in done), text
    assert "Traceback" not in text and "failed" not in text.replace("failed)", "")
    assert not {m for m in markers(api_client, namespace) if m.startswith("race")}
    for path in reg.registered:
        ran = [line for line in text.splitlines() if path.name in line
               and (line.startswith("executed ") or "rollback executed from the cluster journal" in line)]
        assert len(ran) == 1, (path.name, ran)
    journal = Journal(api_client, journal_ns)
    assert {e.state for e in journal.entries(reg.run_id)} == {"executed"}

    # Whoever won, a later execute-rollback runs nothing again: what the guards ran is marked
    # executed on disk too (their states are signed by a key this user trusts: the same one here).
    again = krkn("execute-rollback", "-d", versions, "-r", reg.run_id, "--journal-namespace", journal_ns,
                 kubeconfig=kubeconfig)
    assert again.returncode == 0, again.stdout + again.stderr
    assert pending(versions) == [] and not any(x.startswith("executed ") for x in again.stdout.splitlines())


# ---- visible --------------------------------------------------------------------------------------


def test_list_and_show_rollback_read_the_cluster_journal(api_client, journal_ns, namespace, kubeconfig, tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, duration=60, prefix="shown")
    journal = Journal(api_client, journal_ns)
    first, second = journal.entries(reg.run_id)
    client.CoreV1Api(api_client).patch_namespaced_secret(
        second.name, journal_ns, {"data": {DATA_KEY: base64.b64encode(b"# edited\n").decode()}})

    out = krkn("list-rollback", "--cluster", "--json", "-r", reg.run_id, "--journal-namespace", journal_ns,
               kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["entry"], r["state"], r["file"]) for r in rows] == [(first.name, "pending", first.file)]
    assert rows[0]["lease"].startswith("held by run@") and rows[0]["origin_host"]
    assert rows[0]["op"] == "application_outages_scenarios.delete_network_policy" and rows[0]["created_by"]
    every = krkn("list-rollback", "--cluster", "--json", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    [broken] = [r for r in json.loads(every.stdout) if r["entry"] == second.name]
    assert broken["check"] == f"refused: {second.name} (?): {DATA_KEY} is not JSON"
    table = krkn("list-rollback", "--cluster", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert first.name in table.stdout and "pending" in table.stdout and "delete_network_policy" in table.stdout

    good = krkn("show-rollback", "--cluster", first.name, "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert good.returncode == 0 and "# check: ok: signed by" in good.stdout, good.stdout + good.stderr
    assert '"resource_identifier": "shown000"' in good.stdout and "def " not in good.stdout  # data, not code
    by_file = krkn("show-rollback", "--cluster", first.file, "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert f"# entry: {first.name}" in by_file.stdout
    missing = krkn("show-rollback", "--cluster", "step-0-nothing", "--journal-namespace", journal_ns,
                   kubeconfig=kubeconfig)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no entry" in missing.stderr
    reg.mirror.close()


# ---- captured Secret values -------------------------------------------------------------------

SECRET_VALUE = "c2VjcmV0LXZhbHVlLW9mLWEtY2FwdHVyZWQtc2VjcmV0"


def _namespace_with_a_secret(api_client, name: str) -> dict:
    """A deleted namespace's capture (what service disruption's delete_namespace registers)."""
    return {"namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            "objects": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"},
                         "data": {"t": SECRET_VALUE}},
                        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                         "data": {"k": "v"}}]}


def _journal_holds(api_client, journal_ns, value: str) -> list[str]:
    """Every object of the journal namespace whose data or annotations hold ``value``."""
    found = []
    for s in client.CoreV1Api(api_client).list_namespaced_secret(journal_ns).items:
        blob = json.dumps([s.data, s.metadata.annotations])
        decoded = "".join(base64.b64decode(v).decode("utf-8", "replace") for v in (s.data or {}).values())
        if value in blob or value in decoded:
            found.append(s.metadata.name)
    return found


@pytest.mark.parametrize("who", ["guard", "execute-rollback"])
def test_no_secret_value_enters_the_journal_and_the_operator_restores_what_the_guard_left(
        who, api_client, journal_ns, kubeconfig, tmp_path):
    from krkn_tui.scenarios.service_disruption import recreate_namespace

    from runhelpers import disk_problems

    target = f"sec-{uuid.uuid4().hex[:6]}"
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=1, renew_every=0.3)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    path = reg.set_rollback_callable(recreate_namespace, RollbackContent(target, target, _namespace_with_a_secret(
        api_client, target)), scenario_type="service_disruption_scenarios", verb="recreate", kind="Namespace")
    reg.mirror.lease.stop_renewing()
    core = client.CoreV1Api(api_client)
    try:
        assert SECRET_VALUE in path.read_text()  # the local file keeps it: it must recreate the Secret
        assert _journal_holds(api_client, journal_ns, SECRET_VALUE) == []  # pending: never in the cluster
        journal = Journal(api_client, journal_ns)
        [entry] = journal.entries(reg.run_id)
        assert b"<redacted>" in entry.raw
        time.sleep(1.2)  # the lease expires
        versions = tmp_path / "versions"
        if who == "guard":
            out = _guard_once(journal_ns, tmp_path, kubeconfig)
            assert out.returncode == 1 and "left to the operator" in out.stdout, out.stdout + out.stderr
            [entry] = journal.entries(reg.run_id)
            assert entry.state == "partial" and f"Secret {target}/token" in entry.error
            assert core.read_namespaced_config_map("settings", target).data == {"k": "v"}
            assert [s.metadata.name for s in core.list_namespaced_secret(target).items
                    if s.type != "kubernetes.io/service-account-token"] == []
        # the operator's execute-rollback runs the step whole (a partial restore is not skipped)
        out = krkn("execute-rollback", "-d", versions, "-r", reg.run_id, "--journal-namespace", journal_ns,
                   kubeconfig=kubeconfig)
        assert out.returncode == 0 and out.stdout.startswith("executed "), out.stdout + out.stderr
        assert core.read_namespaced_secret("token", target).data == {"t": SECRET_VALUE}
        [entry] = journal.entries(reg.run_id)
        assert entry.state == "executed" and _journal_holds(api_client, journal_ns, SECRET_VALUE) == []
        [executed] = [p for p in (versions / reg.run_id).iterdir() if p.name.endswith(".py.executed")]
        assert SECRET_VALUE not in executed.read_text()
        assert pending(versions) == [] and disk_problems(versions) == []
    finally:
        gone_is_fine(core.delete_namespace, target)


# ---- an undo that needs pods/exec ------------------------------------------------------------------


def test_an_undo_that_execs_is_left_to_the_operator_and_run_by_their_execute_rollback(
        api_client, journal_ns, namespace, kubeconfig, tmp_path):
    """pvc_scenarios' fill-file removal execs into a pod, which the guard may not: it records the
    step `operator` without calling it, releases the run, and the operator's execute-rollback runs
    it (here the pod is gone and no pod mounts the claim: the real function says so, and fails)."""
    from krkn_tui.rollback.journal.lease import Leases, lease_name
    from krkn_tui.rollback.undo_ops import OPERATOR_NOTE
    from krkn_tui.scenarios.pvc_fill import remove_fill_file

    pod = f"gone-{uuid.uuid4().hex[:6]}"
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=1, renew_every=0.3)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    reg.set_rollback_callable(remove_fill_file, RollbackContent(pod, namespace, {
        "pod": pod, "container": "app", "path": "/data/krkn-tui-fill-x.tmp", "size_kb": 1024, "pvc": "no-claim"}),
        scenario_type="pvc_scenarios", verb="remove", kind="fill file")
    reg.mirror.lease.stop_renewing()
    journal = Journal(api_client, journal_ns)
    [entry] = journal.entries(reg.run_id)
    assert entry.op == "pvc_scenarios.remove_fill_file" and entry.state == "pending"

    def run_lease():
        [lease] = [le for le in Leases(api_client, journal_ns).list() if le.name == lease_name(reg.run_id)]
        return lease

    wait_for(lambda: run_lease().expired_for() >= 0, timeout=30, what="the run's lease to expire")

    out = _guard_once(journal_ns, tmp_path, kubeconfig)
    said = out.stdout + out.stderr
    assert out.returncode == 1 and OPERATOR_NOTE in said, said
    # never called (the run id and pod name are random digits, so a bare "403" could be in them)
    assert "is gone and no running pod" not in said and "(403)" not in said and "Forbidden" not in said
    [entry] = journal.entries(reg.run_id)
    assert (entry.state, entry.error) == ("operator", OPERATOR_NOTE)
    assert entry.state_by.startswith("guard@")
    assert run_lease().holder == ""  # released: the run waits for its operator, no guard takes it again
    again = _guard_once(journal_ns, tmp_path, kubeconfig)
    assert again.returncode == 0 and "nothing due" in again.stdout, again.stdout + again.stderr
    listed = krkn("list-rollback", "--cluster", "--json", "-r", reg.run_id, "--journal-namespace", journal_ns,
                  kubeconfig=kubeconfig)
    assert [r["state"] for r in json.loads(listed.stdout)] == ["operator"], listed.stdout + listed.stderr

    # the operator's execute-rollback runs it (the step is theirs, not skipped as done)
    ex = krkn("execute-rollback", "-d", tmp_path / "versions", "-r", reg.run_id, "--journal-namespace",
              journal_ns, kubeconfig=kubeconfig)
    assert ex.returncode != 0 and f"pod {pod} is gone and no running pod mounts PVC no-claim" in ex.stdout + ex.stderr
    [entry] = journal.entries(reg.run_id)
    assert entry.state == "failed" and entry.state_by and not entry.state_by.startswith("guard@")
    assert len(pending(tmp_path / "versions")) == 1
    reg.mirror.close()


# ---- the entry is the file's data twin -------------------------------------------------------------


def test_the_undo_from_the_file_and_from_the_entry_leave_the_cluster_identical(api_client, journal_ns, tmp_path):
    """The same namespace deleted twice from identical set-ups: once restored by running the
    version file, once by the guard's path from the journal entry. What comes back is the same."""
    from krkn_tui.rollback import Executor
    from krkn_tui.rollback.journal.guard import Guard
    from krkn_tui.rollback.signing import load_or_create, local_trust
    from krkn_tui.scenarios.service_disruption import capture_namespace, recreate_namespace

    from runhelpers import create_namespace, deployments_ready, fill_namespace, namespace_snapshot

    ns = create_namespace(api_client, "twin")
    core = client.CoreV1Api(api_client)
    labels = core.read_namespace(ns).metadata.labels  # the second set-up is made the same

    def set_up() -> None:
        fill_namespace(api_client, ns, {"web": 2})
        core.create_namespaced_config_map(ns, {"metadata": {"name": "settings", "labels": {"a": "b"}},
                                               "data": {"k": "v"}})
        core.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"}, "ports": [{"port": 80}]}})

    def deleted_after_registering() -> tuple[RunRollback, object]:
        reg = RunRollback(tmp_path / f"versions-{uuid.uuid4().hex[:4]}")
        reg.mirror = RunMirror(lambda: api_client, JournalSettings(namespace=journal_ns), reg.run_id,
                               lambda c: read_identity(c, "krkn-local"))
        path = reg.set_rollback_callable(recreate_namespace, RollbackContent(ns, ns, capture_namespace(api_client, ns)),
                                         scenario_type="service_disruption_scenarios", verb="recreate",
                                         kind="Namespace")
        core.delete_namespace(ns)
        wait_for(lambda: namespace_snapshot(api_client, ns) == {"namespace": None}, timeout=120,
                 what=f"namespace {ns} gone")
        return reg, path

    try:
        set_up()
        reg, path = deleted_after_registering()
        [from_file] = Executor(lambda: api_client).execute([path])
        assert from_file.status == "executed", from_file
        wait_for(lambda: deployments_ready(api_client, ns), timeout=90, what="restored from the file")
        by_file = namespace_snapshot(api_client, ns)
        reg.mirror.close()

        core.delete_namespace(ns)
        wait_for(lambda: namespace_snapshot(api_client, ns) == {"namespace": None}, timeout=120, what="gone again")
        core.create_namespace({"metadata": {"name": ns, "labels": labels}})
        set_up()
        reg, _path = deleted_after_registering()
        reg.mirror.close()  # the run's Lease released: the guard takes it as a free one
        guard = Guard(api_client, JournalSettings(namespace=journal_ns), read_identity(api_client, "krkn-local"),
                      trusted=local_trust(), signer=load_or_create())
        [outcome] = guard.roll_back(reg.run_id, lease_existed=False)
        assert (outcome.status, outcome.error) == ("executed", None), outcome
        wait_for(lambda: deployments_ready(api_client, ns), timeout=90, what="restored from the entry")
        by_entry = namespace_snapshot(api_client, ns)
        assert by_entry == by_file and by_file["ConfigMap"] == {"settings": {"k": "v"}}
        assert by_file["Deployment"]["web"]["ready"] == 2 and "web" in by_file["Service"]
    finally:
        gone_is_fine(core.delete_namespace, ns)


def test_a_run_archived_with_retention_zero_leaves_no_entry(api_client, journal_ns, namespace, kubeconfig,
                                                            tmp_path):
    """Whoever archives the last step of a run deletes its entries once the retention has passed
    (here 0: at archive); a run with a step not archived keeps them."""
    versions = tmp_path / "versions"
    config = write_config(tmp_path / "cfg", [], versions=versions, cluster_journal_namespace=journal_ns,
                          cluster_journal_retention=0)
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, prefix="kept")
    time.sleep(1.2)  # the lease expires
    out = krkn("execute-rollback", "-c", config, "-r", reg.run_id, kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr
    journal = Journal(api_client, journal_ns)
    first, second = sorted(p for p in (versions / reg.run_id).iterdir() if p.name.endswith(".py.executed"))
    out = krkn("archive-rollback", "-c", config, str(first), kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(e.state for e in journal.entries(reg.run_id)) == ["archived", "executed"]
    out = krkn("archive-rollback", "-c", config, "-r", reg.run_id, kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr
    assert journal.entries(reg.run_id) == []
