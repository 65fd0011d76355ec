"""Two `krkn-tui execute-rollback` processes on the same 200 pending steps: each step runs exactly
once. Every step creates a ConfigMap named after its index, so a second run of any step would
fail with AlreadyExists and show up as a failed step."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui.rollback import RollbackContent, RunRollback, list_versions
from runhelpers import disk_problems, pending

pytestmark = pytest.mark.cluster

STEPS = 200

# Both children reach main() before either starts: the overlap does not depend on start-up luck.
GATED_MAIN = r'''
import os, sys, time
gate, me, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
open(os.path.join(gate, me), "w").close()
while len(os.listdir(gate)) < int(os.environ["GATE_PARTIES"]):
    time.sleep(0.005)
from krkn_tui.cli import main
sys.exit(main(argv))
'''


def create_marker(content, api_client):
    import time

    from kubernetes import client

    time.sleep(0.02)  # 200 steps last seconds, so every executor overlaps the others even on a busy machine
    client.CoreV1Api(api_client).create_namespaced_config_map(
        content.namespace, {"metadata": {"name": content.resource_identifier}})


def _register(versions: Path, namespace: str) -> RunRollback:
    reg = RunRollback(versions)
    for i in range(STEPS):
        reg.set_rollback_callable(create_marker, RollbackContent(f"marker-{i:03d}", namespace),
                                  scenario_type="fault_markers", verb="create", kind="ConfigMap")
    return reg


def _start_together(tmp_path: Path, kubeconfig: str, selections: list[list[str]],
                    command: list[str] | None = None) -> list[subprocess.CompletedProcess]:
    """One child per selection, released together; ``command``: each child's subcommand
    (default execute-rollback for all)."""
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {**os.environ, "KUBECONFIG": kubeconfig, "GATE_PARTIES": str(len(selections))}
    command = command or ["execute-rollback"] * len(selections)
    procs = [subprocess.Popen([sys.executable, "-c", GATED_MAIN, str(gate), f"p{i}", command[i], *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for i, args in enumerate(selections)]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def _lines(out: str, status: str) -> list[str]:
    return [line.split(None, 1)[1] for line in out.splitlines() if line.startswith(status + " ")]


@pytest.mark.parametrize("how", ["both-by-run", "by-run-and-by-type-and-by-files"])
def test_concurrent_executors_run_each_step_exactly_once(how, tmp_path, kubeconfig, api_client, namespace):
    versions = tmp_path / "versions"
    reg = _register(versions, namespace)
    by_run = ["-d", str(versions), "-r", reg.run_id]
    selections = [by_run, by_run]
    if how != "both-by-run":
        files = [str(p) for p in reg.registered]
        selections = [by_run, ["-d", str(versions), "-s", "fault_markers"], ["-d", str(versions), *files[::-1]]]

    results = _start_together(tmp_path, kubeconfig, selections)

    for r in results:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
    executed = [_lines(r.stdout, "executed") for r in results]
    everything = [f for lines in executed for f in lines]
    assert len(everything) == STEPS and len(set(everything)) == STEPS  # each step by exactly one executor
    assert all(executed), "an executor ran nothing: the two did not overlap"
    for r in results:
        *steps, closing = r.stdout.splitlines()
        assert {line.split()[0] for line in steps} <= {"executed", "skipped"}, r.stdout
        # the one count: its own steps and those it saw executed by the other are done; those the
        # other held at the time are "not run here"
        found = re.fullmatch(r"rollback finished: (\d+) done, (\d+) not run here", closing)
        assert found, r.stdout
        done, elsewhere = map(int, found.groups())
        assert done + elsewhere == STEPS and done >= len(_lines(r.stdout, "executed")), r.stdout

    names = sorted(c.metadata.name for c in client.CoreV1Api(api_client).list_namespaced_config_map(namespace).items
                   if c.metadata.name.startswith("marker-"))
    assert names == [f"marker-{i:03d}" for i in range(STEPS)]
    assert [v.status for v in list_versions(versions, include_archived=False)] == ["executed"] * STEPS
    assert pending(versions) == [] and disk_problems(versions) == []
    audit = versions.with_name(versions.name + "-audit.jsonl").read_text().splitlines()
    ran = [json.loads(line)["file"] for line in audit if json.loads(line)["event"] == "rollback_executed"]
    assert sorted(ran) == sorted(str(p) for p in reg.registered)
