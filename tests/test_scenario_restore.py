"""A scenario's own restore (an application outage deleting its NetworkPolicy at the end) passes
only when the change is known undone. On the local cluster: the step replaced, archived or held
by another executor at restore time fails the scenario with one line, and the policy is then
where the rollback rules say; a step another executor ran before the restore counts as undone.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

import pytest

from krkn_tui.engine import Engine
from krkn_tui.events import ClusterChange, RollbackRunFinished, Step
from krkn_tui.rollback import Executor
from krkn_tui.rollback.naming import archive_dir_for
from krkn_tui.rollback.service import RollbackService

from test_scenario_app_outage import APP, archived_files, outage, policies, run_scenario, version_files

pytestmark = pytest.mark.cluster

WAITING = "is being run by another executor; waiting"


def pending_step(engine) -> Path:
    [path] = version_files(engine.config.versions_dir, "*/*.py")
    return path


def outage_policy(events) -> str:
    [change] = [e for e in events if isinstance(e, ClusterChange)]
    return change.fields["name"]


class SlowExecutor:
    """Another executor running a step in a thread: it holds the step's lock and waits for
    ``release`` before it reaches the API server (as one whose server is slow to answer)."""

    def __init__(self, api_client):
        self.entered, self.release = threading.Event(), threading.Event()
        self.results: list = []

        def factory():
            self.entered.set()
            self.release.wait(60)
            return api_client

        self.executor = Executor(factory)
        self.thread: threading.Thread | None = None

    def start(self, path) -> None:
        self.thread = threading.Thread(target=lambda: self.results.extend(self.executor.execute([path])))
        self.thread.start()
        assert self.entered.wait(30), "the other executor never took the step"

    def finish(self) -> list:
        self.release.set()
        self.thread.join(60)
        return self.results


def test_a_replaced_step_fails_the_scenario_and_stays_pending(tmp_path, api_client, namespace):
    def on_event(event, engine):
        if isinstance(event, ClusterChange):  # different bytes renamed over the step, mode kept
            path = pending_step(engine)
            other = path.with_name("replacement.tmp")
            other.write_bytes(path.read_bytes() + b"# edited\n")
            other.chmod(0o600)
            other.replace(path)

    engine, result, events = run_scenario(tmp_path, api_client, APP, outage(namespace, 1), on_event=on_event)

    path, name = pending_step(engine), outage_policy(events)
    assert result.status == "failed"
    message = result.scenarios[0].message
    assert message.startswith(f"restoring {path.name} refused: ") and "sha256" in message, message
    # The run's rollback refuses it too: the policy stays, the step stays pending, nothing archived.
    assert [(s.during, s.status) for s in result.rollback] == [("restore", "refused"), ("rollback", "refused")]
    assert name in policies(api_client, namespace)
    assert not archive_dir_for(engine.config.versions_dir).exists()


def test_an_archived_step_fails_the_scenario_and_the_policy_stays(tmp_path, api_client, namespace):
    def on_event(event, engine):
        if isinstance(event, ClusterChange):  # as `archive --include-pending` from another terminal
            RollbackService(engine.config.versions_dir).archive([pending_step(engine)])

    engine, result, events = run_scenario(tmp_path, api_client, APP, outage(namespace, 1), on_event=on_event)

    name = outage_policy(events)
    [archived] = archived_files(engine)
    assert result.status == "failed"
    assert result.scenarios[0].message == (
        f"restoring {archived} skipped, the change may still be in force: "
        f"{engine.config.versions_dir / engine.run_id / archived} no longer exists and was not executed "
        "(archived or removed meanwhile)")
    # Nothing pending is left for the run's rollback: the policy stays until the archived step runs.
    assert result.rollback == [] and version_files(engine.config.versions_dir) == []
    assert name in policies(api_client, namespace)
    step = archive_dir_for(engine.config.versions_dir) / engine.run_id / archived
    assert [r.status for r in Executor(lambda: api_client).execute([step])] == ["executed"]
    assert name not in policies(api_client, namespace)


def run_while_held(tmp_path, api_client, namespace, on_waiting=None, while_held=None):
    """Run an outage whose step another executor takes as soon as the policy exists.
    ``on_waiting(engine, other)`` when the restore starts waiting for it; ``while_held(engine,
    result, events)`` after the run, before the other executor goes on. Returns the run's engine,
    result and events, and the other executor's results."""
    other = SlowExecutor(api_client)

    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            other.start(pending_step(engine))
        elif isinstance(event, Step) and WAITING in event.message and on_waiting is not None:
            on_waiting(engine, other)

    try:
        engine, result, events = run_scenario(tmp_path, api_client, APP, outage(namespace, 1), on_event=on_event)
        if while_held is not None:
            while_held(engine, result, events)
    finally:
        results = other.finish()
    return engine, result, events, results


def test_a_step_held_by_another_executor_past_the_wait_fails_and_stays_pending(tmp_path, api_client, namespace,
                                                                                 monkeypatch):
    monkeypatch.setattr(Engine, "restore_wait", 1.0)

    def while_held(engine, result, events):
        path, name = pending_step(engine), outage_policy(events)
        assert result.status == "failed"
        assert result.scenarios[0].message == (
            f"restoring {path.name}: still being run by another executor after 1s; the change may still be in force")
        assert any(isinstance(e, Step) and WAITING in e.message for e in events)
        # The run's rollback leaves it to its holder too: still pending, the policy still there.
        [rollback] = [e for e in events if isinstance(e, RollbackRunFinished)]
        assert [s.status for s in rollback.steps] == ["skipped"]
        assert name in policies(api_client, namespace)

    _, _, events, results = run_while_held(tmp_path, api_client, namespace, while_held=while_held)
    assert [r.status for r in results] == ["executed"]
    assert outage_policy(events) not in policies(api_client, namespace)


def test_a_step_held_by_another_executor_that_then_runs_it_is_undone(tmp_path, api_client, namespace):
    engine, result, events, results = run_while_held(
        tmp_path, api_client, namespace, on_waiting=lambda _e, other: threading.Timer(0.5, other.release.set).start())
    assert [r.status for r in results] == ["executed"]
    assert result.status == "passed", result.scenarios
    assert any(isinstance(e, Step) and WAITING in e.message for e in events)
    assert outage_policy(events) not in policies(api_client, namespace)
    assert [p.endswith(".py.executed") for p in archived_files(engine)] == [True]


def test_a_stop_ends_the_wait_for_another_executor(tmp_path, api_client, namespace):
    """With the default wait (minutes), only the stop can end the scenario as interrupted."""

    def while_held(engine, result, events):
        assert result.status == "interrupted"
        assert result.scenarios[0].status == "interrupted"
        assert pending_step(engine).exists()  # left to its holder, not lost

    _, _, events, _ = run_while_held(tmp_path, api_client, namespace, while_held=while_held,
                                     on_waiting=lambda engine, _o: threading.Timer(0.3, engine.stop.set).start())
    assert outage_policy(events) not in policies(api_client, namespace)


def test_a_step_executed_by_another_executor_before_the_restore_counts_as_undone(tmp_path, api_client, namespace):
    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            [done] = Executor(lambda: api_client).execute([pending_step(engine)])
            assert done.status == "executed"

    engine, result, events = run_scenario(tmp_path, api_client, APP, outage(namespace, 1), on_event=on_event)

    assert result.status == "passed", result.scenarios
    assert result.rollback == []  # the restore ran nothing itself
    assert outage_policy(events) not in policies(api_client, namespace)
    assert [p.endswith(".py.executed") for p in archived_files(engine)] == [True]


def test_a_lock_released_without_running_the_step_lets_the_restore_run_it(tmp_path, api_client, namespace):
    held = []

    def on_event(event, engine):
        if isinstance(event, ClusterChange):  # e.g. an archive that gave up, or an executor that failed
            f = open(pending_step(engine), "rb")
            fcntl.flock(f, fcntl.LOCK_EX)
            held.append(f)
        elif isinstance(event, Step) and WAITING in event.message:
            threading.Timer(0.3, held[0].close).start()

    engine, result, events = run_scenario(tmp_path, api_client, APP, outage(namespace, 1), on_event=on_event)

    assert result.status == "passed", result.scenarios
    assert [(s.during, s.status) for s in result.rollback] == [("restore", "executed")]
    assert outage_policy(events) not in policies(api_client, namespace)
