"""The guard on the local cluster: a run killed with SIGKILL whose versions folder is gone is rolled
back from the cluster journal by `krkn-tui guard --once` in another process, once its Lease
expired; entries that do not match their digest or were written for another cluster are refused;
a local `execute-rollback` and the guard never both run a step."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import time
import uuid

import pytest
from kubernetes import client

from krkn_tui.kube.identity import read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.guard import lease_events
from krkn_tui.rollback.journal import A_UID, Journal
from krkn_tui.rollback.mirror import JournalSettings, RunMirror
from kubehelpers import gone_is_fine, wait_for
from runhelpers import Run, Workbench, krkn, pending, wait_equal, write_config

pytestmark = pytest.mark.cluster

# The variants whose scenario leaves a change to undo (a pod kill is healed by its ReplicaSet).
UNDOABLE = ("application_outage", "node_cordon", "node_taint", "node_drain", "service_scale",
            "service_delete_namespace", "hog")
LEASE = {"cluster_journal_lease_duration": 2, "cluster_journal_renew_interval": 0.5}


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


def guard_until_done(journal: Journal, run_id: str, kubeconfig: str, tmp_path, timeout: float = 120) -> list[str]:
    """`krkn-tui guard --once` from its own process until the run has no pending step; its output lines."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while journal.entries(run_id, states=("pending", "failed")):
        assert time.monotonic() < deadline, "the guard never finished the run:\n" + "".join(lines)
        out = krkn("guard", "--once", "--grace", "0", "--journal-namespace", journal.namespace,
                   "-d", tmp_path / "guard-versions", kubeconfig=kubeconfig)
        assert "Traceback" not in out.stderr, out.stderr
        lines.append(out.stdout + out.stderr)
        time.sleep(0.5)
    return lines


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
    wait_equal(target.snapshot, baseline, what=f"{variant} target after the guard\n{''.join(out)}")
    entries = journal.entries(run_id)
    assert entries and {e.state for e in entries} == {"executed"}, entries
    assert all(e.state_by.startswith("guard@") for e in entries)
    reasons = [e["reason"] for e in lease_events(api_client, journal_ns, run_id)]
    assert reasons.count("RollbackExecuted") == len(entries)
    audit = (tmp_path / "guard-versions-audit.jsonl").read_text().splitlines()
    assert sum(json.loads(a)["event"] == "rollback_executed" for a in audit) == len(entries)


# ---- refusals -----------------------------------------------------------------------------------


def make_marker(content, api_client):
    from kubernetes import client

    client.CoreV1Api(api_client).create_namespaced_config_map(
        content.namespace, {"metadata": {"generateName": content.resource_identifier + "-"}})


def _dead_run(api_client, tmp_path, journal_ns, namespace, steps: int, duration: float = 1) -> RunRollback:
    """A run that registered `steps` marker steps with the journal on, then died (no renewal)."""
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=duration, renew_every=duration / 3)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    for i in range(steps):
        reg.set_rollback_callable(make_marker, RollbackContent(f"m{i:03d}", namespace), scenario_type="fault_markers",
                                  verb="create", kind="ConfigMap")
    reg.mirror.lease.stop_renewing()
    return reg


def markers(api_client, namespace: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cm in client.CoreV1Api(api_client).list_namespaced_config_map(namespace).items:
        if cm.metadata.name.startswith("m") and "-" in cm.metadata.name:
            prefix = cm.metadata.name.rsplit("-", 1)[0]
            counts[prefix] = counts.get(prefix, 0) + 1
    return counts


def test_tampered_bytes_and_another_clusters_entry_are_refused(api_client, journal_ns, namespace, kubeconfig,
                                                               tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 3)
    journal = Journal(api_client, journal_ns)
    first, second, third = journal.entries(reg.run_id)
    core = client.CoreV1Api(api_client)
    tampered = journal.read(first).replace(b"create_namespaced_config_map", b"delete_collection_namespace")
    core.patch_namespaced_secret(first.name, journal_ns, {"data": {"version.py": base64.b64encode(tampered).decode()}})
    core.patch_namespaced_secret(second.name, journal_ns, {"metadata": {"annotations": {
        A_UID: "00000000-0000-4000-8000-000000000000"}}})
    time.sleep(1.2)  # the lease expires

    out = krkn("guard", "--once", "--grace", "0", "--journal-namespace", journal_ns, "-d", tmp_path / "g",
               kubeconfig=kubeconfig)
    assert out.returncode == 1, out.stdout + out.stderr
    states = {e.name: e for e in journal.entries(reg.run_id)}
    assert states[first.name].state == "refused" and "sha256" in states[first.name].error
    assert states[second.name].state == "refused" and "another cluster" in states[second.name].error
    assert states[third.name].state == "executed"
    assert markers(api_client, namespace) == {"m002": 1}  # only the intact step ran
    kinds = sorted(e["reason"] for e in lease_events(api_client, journal_ns, reg.run_id))
    assert kinds == ["RollbackExecuted", "RollbackRefused", "RollbackRefused"]


def test_the_guard_says_what_it_does_with_the_one_renderer(api_client, journal_ns, namespace, kubeconfig, tmp_path,
                                                            monkeypatch, capsys):
    """`krkn-tui guard` prints its typed events through commands/render.py and nothing else: a
    takeover, then each step's outcome; a refused entry is one line naming the entry and why."""
    import re

    from krkn_tui import cli
    from krkn_tui import events as ev
    from krkn_tui.commands import guard as guard_command
    from krkn_tui.commands.render import render

    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2)
    journal = Journal(api_client, journal_ns)
    older, newer = journal.entries(reg.run_id)
    tampered = journal.read(older) + b"# edited after it was journaled\n"
    client.CoreV1Api(api_client).patch_namespaced_secret(
        older.name, journal_ns, {"data": {"version.py": base64.b64encode(tampered).decode()}})
    time.sleep(1.2)  # the lease expires

    said: list[ev.Event] = []
    printer = guard_command._printer  # the command's own printer, watched: what it was given, what it printed
    monkeypatch.setattr(guard_command, "_printer", lambda e: (said.append(e), printer(e)))
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
    assert "refused" in refused and "sha256" in refused, refused
    assert markers(api_client, namespace) == {"m001": 1}


def test_an_idle_guard_says_so_once_and_an_unreachable_journal_every_pass(api_client, journal_ns, namespace, tmp_path):
    import socket
    import threading

    from krkn_tui import events as ev
    from krkn_tui.rollback.guard import Guard

    own_ns = f"{journal_ns}-idle"  # a journal of its own: no other test's run is due in it
    settings = JournalSettings(namespace=own_ns)
    identity = read_identity(api_client, "krkn-local")
    said: list[ev.Event] = []
    guard = Guard(api_client, settings, identity, grace=0, on_event=said.append)
    try:
        assert [guard.once(), guard.once(), guard.once()] == [[], [], []]
        assert said == [ev.GuardIdle()]  # not once per pass

        reg = _dead_run(api_client, tmp_path, own_ns, namespace, 1)
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
    away = Guard(client.ApiClient(config), settings, identity, grace=0, on_event=said.append)
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


def test_a_live_run_is_left_alone_by_the_guard_and_by_execute_rollback(api_client, journal_ns, namespace,
                                                                       kubeconfig, tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, duration=30)
    reg.mirror.lease.start_renewing()  # alive after all
    try:
        out = krkn("guard", "--once", "--grace", "0", "--journal-namespace", journal_ns, "-d", tmp_path / "g",
                   kubeconfig=kubeconfig)
        assert out.returncode == 0 and "nothing due" in out.stdout, out.stdout + out.stderr
        ex = krkn("execute-rollback", "-d", tmp_path / "versions", "-r", reg.run_id, "--journal-namespace",
                  journal_ns, kubeconfig=kubeconfig)
        assert ex.returncode == 0 and f"run {reg.run_id} left alone" in ex.stderr, ex.stdout + ex.stderr
        assert "is held by run@" in ex.stderr
        assert len(pending(tmp_path / "versions")) == 2 and markers(api_client, namespace) == {}
    finally:
        reg.mirror.close()


# ---- the race -----------------------------------------------------------------------------------

RACE_STEPS = 100


def test_two_guards_and_execute_rollback_run_each_of_100_steps_exactly_once(api_client, journal_ns, namespace,
                                                                            kubeconfig, tmp_path):
    from test_fault_concurrent_executors import _start_together

    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, RACE_STEPS)
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
    wait_for(lambda: len(markers(api_client, namespace)) == RACE_STEPS, timeout=30, what="every marker")
    assert set(markers(api_client, namespace).values()) == {1}, text
    journal = Journal(api_client, journal_ns)
    assert {e.state for e in journal.entries(reg.run_id)} == {"executed"}

    # Whoever won, a later execute-rollback runs nothing again: what the guards ran is marked
    # executed on disk too.
    again = krkn("execute-rollback", "-d", versions, "-r", reg.run_id, "--journal-namespace", journal_ns,
                 kubeconfig=kubeconfig)
    assert again.returncode == 0, again.stdout + again.stderr
    assert pending(versions) == []
    assert set(markers(api_client, namespace).values()) == {1}


# ---- visible --------------------------------------------------------------------------------------


def test_list_and_show_rollback_read_the_cluster_journal(api_client, journal_ns, namespace, kubeconfig, tmp_path):
    reg = _dead_run(api_client, tmp_path, journal_ns, namespace, 2, duration=60)
    journal = Journal(api_client, journal_ns)
    first, second = journal.entries(reg.run_id)
    client.CoreV1Api(api_client).patch_namespaced_secret(
        second.name, journal_ns, {"data": {"version.py": base64.b64encode(b"# edited\n").decode()}})

    out = krkn("list-rollback", "--cluster", "--json", "-r", reg.run_id, "--journal-namespace", journal_ns,
               kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["entry"], r["state"], r["file"]) for r in rows] == [
        (first.name, "pending", first.file), (second.name, "pending", second.file)]
    assert rows[0]["lease"].startswith("held by run@") and rows[0]["origin_host"]
    table = krkn("list-rollback", "--cluster", "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert first.name in table.stdout and "pending" in table.stdout

    good = krkn("show-rollback", "--cluster", first.name, "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert good.returncode == 0 and "# check: ok" in good.stdout and "def make_marker" in good.stdout, good.stderr
    by_file = krkn("show-rollback", "--cluster", second.file, "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
    assert "# check: " in by_file.stdout and "do not match their sha256" in by_file.stdout
    missing = krkn("show-rollback", "--cluster", "step-0-nothing", "--journal-namespace", journal_ns,
                   kubeconfig=kubeconfig)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no entry" in missing.stderr
    reg.mirror.close()


# ---- captured Secret values -------------------------------------------------------------------

SECRET_VALUE = "c2VjcmV0LXZhbHVlLW9mLWEtY2FwdHVyZWQtc2VjcmV0"


def _run_with_a_captured_secret(api_client, tmp_path, journal_ns, namespace) -> RunRollback:
    reg = RunRollback(tmp_path / "versions")
    settings = JournalSettings(namespace=journal_ns, lease_duration=1, renew_every=0.3)
    reg.mirror = RunMirror(lambda: api_client, settings, reg.run_id, lambda c: read_identity(c, "krkn-local"))
    captured = {"objects": [{"kind": "Secret", "metadata": {"name": "token"}, "data": {"t": SECRET_VALUE}}]}
    reg.set_rollback_callable(make_marker, RollbackContent("m900", namespace, captured), scenario_type="fault_markers",
                              verb="create", kind="ConfigMap")
    reg.mirror.lease.stop_renewing()
    time.sleep(1.2)  # the lease expires
    return reg


@pytest.mark.parametrize("who", ["guard", "execute-rollback"])
def test_an_executed_step_keeps_no_secret_value_in_the_journal_nor_on_disk(who, api_client, journal_ns, namespace,
                                                                           kubeconfig, tmp_path):
    from runhelpers import disk_problems

    reg = _run_with_a_captured_secret(api_client, tmp_path, journal_ns, namespace)
    journal = Journal(api_client, journal_ns)
    [entry] = journal.entries(reg.run_id)
    assert SECRET_VALUE.encode() in journal.read(entry)  # pending: it must be able to recreate it
    versions = tmp_path / "versions"
    if who == "execute-rollback":  # shown masked, revealed only when asked, and audited
        shown = krkn("show-rollback", "--cluster", entry.name, "--journal-namespace", journal_ns, kubeconfig=kubeconfig)
        assert shown.returncode == 0 and SECRET_VALUE not in shown.stdout, shown.stderr
        assert "# secrets: 1 Secret value(s) masked; --reveal shows them" in shown.stdout
        shown = krkn("show-rollback", "--cluster", entry.name, "--journal-namespace", journal_ns, "--reveal",
                     "-d", versions, kubeconfig=kubeconfig)
        assert shown.returncode == 0 and SECRET_VALUE in shown.stdout, shown.stderr
        [line] = [json.loads(x) for x in (tmp_path / "versions-audit.jsonl").read_text().splitlines()]
        assert (line["event"], line["file"], line["count"]) == ("secrets_revealed", f"{journal_ns}/{entry.name}", 1)
    if who == "guard":
        out = krkn("guard", "--once", "--grace", "0", "--journal-namespace", journal_ns, "-d", tmp_path / "g",
                   kubeconfig=kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr
    # after the guard, the local run marks its file executed without running it again
    out = krkn("execute-rollback", "-d", versions, "-r", reg.run_id, "--journal-namespace", journal_ns,
               kubeconfig=kubeconfig)
    assert out.returncode == 0, out.stdout + out.stderr
    [entry] = journal.entries(reg.run_id)
    data = journal.read(entry)
    assert entry.state == "executed" and SECRET_VALUE.encode() not in data and b"<redacted>" in data
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    [executed] = [p for p in (versions / reg.run_id).iterdir() if p.name.endswith(".py.executed")]
    assert SECRET_VALUE not in executed.read_text()
    assert pending(versions) == [] and disk_problems(versions) == []
    assert markers(api_client, namespace) == {"m900": 1}
