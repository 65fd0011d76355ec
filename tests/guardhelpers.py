"""Undoing a run killed with -9 the two ways an operator has: `execute-rollback` from its version
files, or the guard (`krkn-tui guard --once` in its own process) from the cluster journal once
the files are gone. The fault tests of the chaos-pod scenarios run both."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui.rollback.journal.entries import Journal
from kubehelpers import gone_is_fine
from runhelpers import Run, krkn, pending, run_dirs

LEASE = {"cluster_journal_lease_duration": 2, "cluster_journal_renew_interval": 0.5}
UNDO_WAYS = ("execute-rollback", "guard")


@pytest.fixture(scope="module")
def journal_ns(api_client):
    name = f"krkn-rollback-{uuid.uuid4().hex[:6]}"
    yield name
    gone_is_fine(client.CoreV1Api(api_client).delete_namespace, name)


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


def undo_killed_run(how: str, run: Run, versions: Path, api_client, journal_ns: str, kubeconfig: str,
                    tmp_path: Path) -> None:
    """Undo a run killed with -9: `execute-rollback` of each of its runs, or, with its versions
    folder removed (the laptop is gone), the guard; every journal entry is then recorded
    executed by it."""
    if how == "execute-rollback":
        for run_id in run_dirs(versions):
            out = krkn("execute-rollback", "-d", versions, "-r", run_id, kubeconfig=kubeconfig)
            assert out.returncode == 0, out.stdout + out.stderr
        assert pending(versions) == []
        return
    shutil.rmtree(versions)
    journal = Journal(api_client, journal_ns)
    lines = guard_until_done(journal, run.run_id, kubeconfig, tmp_path)
    entries = journal.entries(run.run_id)
    assert entries and {(e.state, e.error) for e in entries} == {("executed", None)}, (entries, lines)
    assert all(e.state_by.startswith("guard@") for e in entries), entries
