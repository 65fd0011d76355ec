import fcntl
import json
import multiprocessing
import os
import sys
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from krkn_tui.events import RollbackExecuted, RollbackFailed, RollbackRefused, RollbackStarted
from krkn_tui.rollback import Executor, RollbackContent, RunRollback, StepResult, list_versions
from krkn_tui.rollback import manifest
from krkn_tui.rollback.naming import parse_version_name

from krkn_files import KRKN_NAME, KRKN_RUN, marker_writer  # noqa: E402
from rollback_fixtures import KUBECONFIG  # noqa: E402  (a kubeconfig that loads but reaches nothing)

# --- rollback callables (module level, self-contained, as version files need) -------------


def append_marker(content, api_client):
    with open(content.data["marker"], "a") as f:
        f.write(content.resource_identifier + "\n")


def slow_append_marker(content, api_client):
    import time

    with open(content.data["marker"], "a") as f:
        f.write(content.resource_identifier + "\n")
    time.sleep(0.002)  # widen the window in which a second executor could interfere


def fail_if_named_bad(content, api_client):
    with open(content.data["marker"], "a") as f:
        f.write(content.resource_identifier + "\n")
    if content.resource_identifier == "bad":
        raise RuntimeError("cannot restore bad")


def needs_gate(content, api_client):
    import os

    if not os.path.exists(content.data["gate"]):
        raise RuntimeError("gate closed")
    with open(content.data["marker"], "a") as f:
        f.write("ran\n")


def flaky(content, api_client):
    """Raises the error named in data for the first ``fail_times`` calls, then succeeds."""
    import os

    counter = content.data["counter"]
    calls = int(open(counter).read()) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(calls + 1))
    if calls < content.data["fail_times"]:
        kind = content.data["error"]
        if kind == "connection":
            raise ConnectionRefusedError("connection refused")
        if kind == "wrapped":
            try:
                raise ConnectionResetError("reset")
            except ConnectionResetError as exc:
                raise RuntimeError("patch failed") from exc
        from kubernetes.client.exceptions import ApiException

        raise ApiException(status=int(kind), reason="HTTP " + kind)


def records_client(content, api_client):
    with open(content.data["marker"], "a") as f:
        f.write(f"{id(api_client)}\n")


# --- helpers ------------------------------------------------------------------------------


def register(run, fn, ident="x", **data):
    return run.set_rollback_callable(
        fn,
        RollbackContent(ident, "demo", data),
        scenario_type="pod_disruption_scenarios",
        verb="restore",
        kind="Pod",
    )


def executor(**kw):
    kw.setdefault("sleep", lambda s: None)  # retries are about order and count here, not wall time
    return Executor(lambda: object(), **kw)


def krkn_file(versions, marker, fail=False):
    run_dir = versions / KRKN_RUN
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = run_dir / KRKN_NAME
    path.write_text(marker_writer(str(marker), fail))
    os.chmod(path, 0o600)
    return path


def untouched(path, data):
    return path.exists() and path.read_bytes() == data and not Path(str(path) + ".failed").exists()


@pytest.fixture
def run(tmp_path):
    return RunRollback(tmp_path / "versions")


# --- order and failure policy ------------------------------------------------------------


def test_newest_first_whatever_order_is_given(tmp_path, run):
    marker = tmp_path / "order"
    paths = [register(run, append_marker, f"step{i}", marker=str(marker)) for i in range(5)]
    results = executor().execute([paths[2], paths[0], paths[4], paths[1], paths[3]])
    assert [r.path for r in results] == paths[::-1]
    assert [r.status for r in results] == ["executed"] * 5
    assert marker.read_text().split() == ["step4", "step3", "step2", "step1", "step0"]
    assert all(Path(str(p) + ".executed").exists() and not p.exists() for p in paths)
    assert all(isinstance(r, StepResult) and r.seconds >= 0 for r in results)


def test_continues_after_a_failure(tmp_path, run):
    marker = tmp_path / "m"
    old = register(run, fail_if_named_bad, "old", marker=str(marker))
    bad = register(run, fail_if_named_bad, "bad", marker=str(marker))
    new = register(run, fail_if_named_bad, "new", marker=str(marker))
    results = executor().execute([old, bad, new])
    assert [(r.path, r.status) for r in results] == [
        (new, "executed"),
        (bad, "failed"),
        (old, "executed"),
    ]
    assert "RuntimeError: cannot restore bad" in results[1].error
    assert marker.read_text().split() == ["new", "bad", "old"]
    assert bad.exists()  # still runnable
    record = json.loads(Path(str(bad) + ".failed").read_text())
    assert "cannot restore bad" in record["error"] and record["attempts"] == 1 and record["time"]
    assert [i.status for i in list_versions(run.versions_dir)] == ["executed", "failed", "executed"]


def test_failed_step_stays_runnable_and_later_succeeds(tmp_path, run):
    gate, marker = tmp_path / "gate", tmp_path / "m"
    path = register(run, needs_gate, gate=str(gate), marker=str(marker))
    assert executor().execute([path])[0].status == "failed"
    assert executor().execute([path])[0].status == "failed"
    sidecar = Path(str(path) + ".failed")
    assert json.loads(sidecar.read_text())["attempts"] == 2
    assert path.exists() and not marker.exists()

    gate.touch()
    result = executor().execute([path])[0]
    assert (result.status, result.error) == ("executed", None)
    assert marker.read_text() == "ran\n"
    assert Path(str(path) + ".executed").exists()
    assert not path.exists() and not sidecar.exists()
    assert executor().execute([Path(str(path) + ".executed")])[0].status == "skipped"
    assert executor().execute([path])[0].status == "skipped"
    assert marker.read_text() == "ran\n"


def test_dry_run_runs_nothing(tmp_path, run):
    marker = tmp_path / "m"
    paths = [register(run, append_marker, str(i), marker=str(marker)) for i in range(3)]
    tampered = register(run, append_marker, "t", marker=str(marker))
    with open(tampered, "a") as f:
        f.write("# edit\n")
    results = executor().execute(paths + [tampered], dry_run=True)
    assert [(r.path, r.status) for r in results] == [(tampered, "refused")] + [
        (p, "would-run") for p in paths[::-1]
    ]
    assert not marker.exists()
    assert all(p.exists() for p in paths)


# --- at most once ------------------------------------------------------------------------


def _execute_in_child(paths, barrier, queue):
    barrier.wait()
    results = Executor(lambda: object()).execute(paths)
    queue.put([(str(r.path), r.status) for r in results])


def test_two_executor_processes_run_each_step_exactly_once(tmp_path, run):
    markers = tmp_path / "markers"
    markers.mkdir()
    paths = [
        register(run, slow_append_marker, str(i), marker=str(markers / f"{i}.txt"))
        for i in range(200)
    ]
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_execute_in_child, args=(paths, barrier, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    for i in range(200):
        assert (markers / f"{i}.txt").read_text().splitlines() == [str(i)]
    executed = [s for out in outcomes for _, s in out if s == "executed"]
    assert len(executed) == 200
    assert {s for out in outcomes for _, s in out} <= {"executed", "skipped"}
    assert all(Path(str(p) + ".executed").exists() for p in paths)


def test_a_step_locked_by_another_executor_is_skipped(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    with open(path, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = executor().execute([path])[0]
    assert result.status == "skipped" and "another executor" in result.error
    assert (result.undone, result.busy) == (False, True)  # ask again once it lets go
    assert path.exists() and not marker.exists()
    after = executor().execute([path])[0]  # let go without running it: now it runs here
    assert (after.status, after.undone, after.busy) == ("executed", True, False)


# --- whether the change is known undone ----------------------------------------------------
# "skipped" is a verdict for display; only ``undone`` says the step ran, here or verifiably elsewhere.


def test_executed_here_or_renamed_executed_elsewhere_is_undone(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    first = executor().execute([path])[0]
    assert (first.status, first.undone, first.busy) == ("executed", True, False)
    again = executor().execute([path])[0]  # another executor renamed it .executed
    assert (again.status, again.undone) == ("skipped", True)
    assert again.error == f"{path.name} was executed by another executor"
    named = executor().execute([Path(str(path) + ".executed")])[0]
    assert (named.status, named.undone) == ("skipped", True)
    assert marker.read_text() == "x\n"


def test_a_step_archived_meanwhile_is_not_undone(tmp_path, run):
    from krkn_tui.rollback.archive import archive

    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    [moved] = archive([path], run.versions_dir)
    result = executor().execute([path])[0]
    assert (result.status, result.undone, result.busy) == ("skipped", False, False)
    assert "no longer exists and was not executed" in result.error and str(path) in result.error
    assert moved.exists() and not marker.exists()


def _while_taking_the_lock(monkeypatch, change):
    """Make ``change(path of the locked fd)`` happen between the executor's open and its lock,
    the window in which another executor or an archive can act."""
    real, pending = fcntl.flock, [change]

    def flock(fd, op):
        if pending:  # once: an archive takes the same lock
            pending.pop()()
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)


@pytest.mark.parametrize("change", ["replaced", "archived", "executed"])
def test_what_happens_while_waiting_for_the_lock_decides_undone(tmp_path, run, monkeypatch, change):
    from krkn_tui.rollback.archive import archive

    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    data = path.read_bytes()

    def act():
        if change == "replaced":  # different bytes, renamed over the step
            other = path.with_name("other.tmp")
            other.write_bytes(data + b"# edit\n")
            os.chmod(other, 0o600)
            os.replace(other, path)
        elif change == "archived":
            archive([path], run.versions_dir)
        else:
            os.rename(path, str(path) + ".executed")

    _while_taking_the_lock(monkeypatch, act)
    result = executor().execute([path])[0]
    monkeypatch.undo()
    expected = {"replaced": (False, f"{path.name} was replaced meanwhile; not running it"),
                "archived": (False, f"{path} no longer exists and was not executed (archived or removed meanwhile)"),
                "executed": (True, f"{path.name} was executed by another executor")}[change]
    assert (result.status, result.undone, result.error) == ("skipped", *expected)
    assert not marker.exists()


class _JournalSays:
    """The journal's answer for a step (rollback.journal.mirror.JournalLinks' interface)."""

    def __init__(self, verdict):
        self.verdict, self.states = verdict, []

    def before_run(self, path):
        return self.verdict

    def after(self, path, state, error=None, data=None):
        self.states.append(state)


@pytest.mark.parametrize("verdict, undone", [
    (("done", "already executed from the cluster journal by guard-1"), True),
    (("skipped", "run r is held by run-2 (renewed 1s ago)"), False),
])
def test_the_journal_gate_says_whether_it_is_undone(tmp_path, run, verdict, undone):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    result = executor(journal=_JournalSays(verdict)).execute([path])[0]
    assert (result.status, result.undone, result.busy) == ("skipped", undone, False)
    assert result.error.startswith(verdict[1]) and not marker.exists()
    assert Path(str(path) + ".executed").exists() == undone  # "done" is marked executed here too


def test_an_executed_the_executor_cannot_verify_runs_the_step_and_says_so(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    said = []
    journal = _JournalSays(("distrusted", "the cluster journal says executed, but state 'executed' of step-1: "
                                          "signed by unknown key 'abcd'"))
    [result] = executor(on_event=said.append, journal=journal).execute([path])
    assert (result.status, result.undone) == ("executed", True) and marker.exists()
    assert journal.states == ["executed"]
    [distrusted] = [e for e in said if e.EVENT == "journal_state_distrusted"]
    assert "signed by unknown key" in distrusted.error


# --- refusals -----------------------------------------------------------------------------


def test_tampered_file_is_refused(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    text = path.read_text().replace('"x"', '"y"').replace("'x'", "'y'")
    path.write_text(text)
    events = []
    result = Executor(lambda: object(), on_event=events.append).execute([path])[0]
    assert result.status == "refused" and "sha256" in result.error
    assert untouched(path, text.encode()) and not marker.exists()
    assert events == [RollbackRefused(str(path), result.error)]
    assert events[0].record() == {"event": "rollback_refused", "file": str(path), "error": result.error}


def test_our_file_missing_from_the_manifest_is_refused(tmp_path, run):
    path = register(run, append_marker, marker=str(tmp_path / "m"))
    (run.run_dir / manifest.MANIFEST_NAME).write_text("")
    result = executor().execute([path])[0]
    assert result.status == "refused" and "manifest" in result.error
    assert path.exists() and not (tmp_path / "m").exists()


def test_symlink_is_refused(tmp_path, run):
    marker = tmp_path / "m"
    real = register(run, append_marker, marker=str(marker))
    link = run.run_dir / "pod_disruption_scenarios_1_abcdefgh.py"
    link.symlink_to(real)
    result = executor().execute([link])[0]
    assert result.status == "refused" and "symlink" in result.error
    assert link.is_symlink() and real.exists() and not marker.exists()


def test_group_writable_file_is_refused(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    os.chmod(path, 0o620)
    result = executor().execute([path])[0]
    assert result.status == "refused" and "writable" in result.error
    assert path.exists() and not marker.exists()


@pytest.mark.parametrize("which", ["run_dir", "versions_dir"])
def test_loose_directory_is_refused(tmp_path, run, which):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    os.chmod(path.parent if which == "run_dir" else path.parent.parent, 0o777)
    result = executor().execute([path])[0]
    assert result.status == "refused" and "writable" in result.error
    assert path.exists() and not marker.exists()


def test_symlinked_run_dir_is_refused(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    alias = run.versions_dir / "1-alias"
    alias.symlink_to(run.run_dir)
    result = executor().execute([alias / path.name])[0]
    assert result.status == "refused" and "symlink" in result.error
    assert path.exists() and not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_file_owned_by_someone_else_is_refused(tmp_path, run):
    marker = tmp_path / "m"
    path = register(run, append_marker, marker=str(marker))
    os.chown(path, 65534, -1)
    result = executor().execute([path])[0]
    assert result.status == "refused" and "owned by uid 65534" in result.error
    assert path.exists() and not marker.exists()


def test_non_version_name_is_refused(tmp_path):
    stray = tmp_path / "script.py"
    stray.write_text("raise SystemExit(1)")
    assert executor().execute([stray])[0].status == "refused"


# --- krkn's files -------------------------------------------------------------------------


def test_krkn_file_is_refused_without_allow_foreign(tmp_path):
    marker = tmp_path / "m"
    path = krkn_file(tmp_path / "versions", marker)
    (info,) = list_versions(tmp_path / "versions")
    assert (info.origin, info.namespace, info.name) == (
        "krkn",
        "test-application-outage",
        "memory-hog-ngdjp",
    )
    result = executor().execute([path])[0]
    assert result.status == "refused" and "not written by krkn-tui" in result.error
    assert path.exists() and not marker.exists()


def test_krkn_file_runs_as_a_subprocess_with_allow_foreign(tmp_path):
    marker, kubeconfig = tmp_path / "m", tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    path = krkn_file(tmp_path / "versions", marker)
    result = executor(allow_foreign=True, kubeconfig=str(kubeconfig)).execute([path])[0]
    assert (result.status, result.error) == ("executed", None)
    assert marker.read_text() == f"test-application-outage/memory-hog-ngdjp {kubeconfig}\n"
    assert Path(str(path) + ".executed").exists() and not path.exists()


def test_krkn_file_exit_code_decides(tmp_path):
    marker = tmp_path / "m"
    path = krkn_file(tmp_path / "versions", marker, fail=True)
    result = executor(allow_foreign=True, python=sys.executable).execute([path])[0]
    assert result.status == "failed" and "exit status 3" in result.error
    assert path.exists() and Path(str(path) + ".failed").exists() and not marker.exists()


# --- retries and the shared client --------------------------------------------------------


@pytest.mark.parametrize("error", ["connection", "wrapped", "503", "429", "0"])
def test_transient_errors_are_retried_with_backoff(tmp_path, run, error):
    path = register(run, flaky, counter=str(tmp_path / "c"), fail_times=6, error=error)
    delays: list[float] = []
    ex = executor(sleep=delays.append)
    result = ex.execute([path])[0]
    assert result.status == "executed", result.error
    assert (tmp_path / "c").read_text() == "7"
    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]


@pytest.mark.parametrize("error", ["404", "403", "422"])
def test_other_errors_fail_at_once(tmp_path, run, error):
    path = register(run, flaky, counter=str(tmp_path / "c"), fail_times=1, error=error)
    ex = executor(sleep=lambda s: pytest.fail("must not retry"))
    result = ex.execute([path])[0]
    assert result.status == "failed" and f"({error})" in result.error
    assert (tmp_path / "c").read_text() == "1"


def test_retries_stop_at_the_deadline_and_later_steps_get_one_attempt(tmp_path, run):
    def step(name, counter, fail_times):
        return register(
            run, flaky, name, counter=str(tmp_path / counter), fail_times=fail_times, error="503"
        )

    first, second, third = step("first", "c1", 99), step("second", "c2", 99), step("third", "c3", 1)
    now = [0.0]
    ex = executor(retry_deadline=3.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    results = ex.execute([first, second, third])
    # third is newest: it runs first, retries once, and succeeds.
    assert [r.status for r in results] == ["executed", "failed", "failed"]
    assert (tmp_path / "c3").read_text() == "2"
    assert (tmp_path / "c2").read_text() == "5"  # 0.2 + 0.4 + 0.8 + 1.6 = 3.0 s of backoff
    assert "gave up after 5 attempts" in results[1].error
    assert (tmp_path / "c1").read_text() == "1"  # cluster known down: a single attempt
    assert json.loads(Path(str(second) + ".failed").read_text())["attempts"] == 5


def test_one_api_client_for_all_steps(tmp_path, run):
    marker = tmp_path / "m"
    paths = [register(run, records_client, str(i), marker=str(marker)) for i in range(20)]
    built = []

    def factory():
        built.append(object())
        return built[-1]

    results = Executor(factory).execute(paths)
    assert [r.status for r in results] == ["executed"] * 20
    assert len(built) == 1
    assert set(marker.read_text().split()) == {str(id(built[0]))}


def test_factory_failure_fails_the_step_and_is_retried_for_the_next(tmp_path, run):
    marker = tmp_path / "m"
    paths = [register(run, append_marker, str(i), marker=str(marker)) for i in range(2)]
    calls = []

    def factory():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("no kubeconfig")
        return object()

    results = Executor(factory).execute(paths)
    assert [r.status for r in results] == ["failed", "executed"]
    assert "no kubeconfig" in results[0].error


def test_default_client_comes_from_the_kubeconfig(tmp_path, run):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    ex = Executor(None, kubeconfig=str(kubeconfig), context="nowhere")
    client = ex.api_client()
    assert client.configuration.host == "https://127.0.0.1:1"
    assert ex.api_client() is client


def test_events_for_the_audit_log(tmp_path, run):
    marker = tmp_path / "m"
    ok = register(run, fail_if_named_bad, "ok", marker=str(marker))
    bad = register(run, fail_if_named_bad, "bad", marker=str(marker))
    events = []
    Executor(lambda: object(), on_event=events.append).execute([ok, bad])
    assert [(type(e), e.file) for e in events] == [
        (RollbackStarted, str(bad)),
        (RollbackFailed, str(bad)),
        (RollbackStarted, str(ok)),
        (RollbackExecuted, str(ok)),
    ]
    assert "cannot restore bad" in events[1].error
    assert events[3].error is None


def test_order_uses_the_file_time_not_the_path(tmp_path):
    older = RunRollback(tmp_path / "versions", run_uuid="zzz")
    newer = RunRollback(tmp_path / "versions", run_uuid="aaa")
    marker = tmp_path / "m"
    a = register(older, append_marker, "a", marker=str(marker))
    b = register(newer, append_marker, "b", marker=str(marker))
    assert parse_version_name(b.name)[1] > parse_version_name(a.name)[1]
    executor().execute([a, b])
    assert marker.read_text().split() == ["b", "a"]
