"""`krkn-tui run` under signals and SIGKILL, as a real process against the local cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from krkn_tui.rollback import list_versions
from runhelpers import Run

pytestmark = pytest.mark.cluster


def _write_run(tmp_path: Path, namespace: str, durations: list[float], wait: float = 0) -> Path:
    files = []
    for i, duration in enumerate(durations):
        f = tmp_path / f"outage{i}.yaml"
        f.write_text(f"application_outage:\n  duration: {duration}\n  namespace: {namespace}\n"
                     f"  pod_selector: {{app: web{i}}}\n  block: [Ingress]\n")
        files.append(f.name)
    cfg = tmp_path / "config.yaml"
    listed = "".join(f"        - {f}\n" for f in files)
    cfg.write_text(f"kraken:\n  rollback_versions_directory: {tmp_path / 'versions'}\n  chaos_scenarios:\n"
                   f"    - application_outages_scenarios:\n{listed}tunings:\n  wait_duration: {wait}\n")
    return cfg


def _policies(api_client, namespace) -> list[str]:
    return sorted(p.metadata.name for p in client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_during_a_scenario_rolls_back_and_exits_non_zero(tmp_path, namespace, kubeconfig, api_client, sig):
    run = Run(_write_run(tmp_path, namespace, [60]), kubeconfig)
    run.wait_for(r"created NetworkPolicy")
    assert len(_policies(api_client, namespace)) == 1
    run.proc.send_signal(sig)
    assert run.finish() == 128 + sig
    assert _policies(api_client, namespace) == []
    steps = list_versions(tmp_path / "versions", include_archived=False)
    assert [v.status for v in steps] == ["executed"]


def test_sigint_between_two_scenarios_stops_before_the_second(tmp_path, namespace, kubeconfig, api_client):
    run = Run(_write_run(tmp_path, namespace, [0.5, 60], wait=60), kubeconfig)
    run.wait_for(r"waiting 60")
    run.proc.send_signal(signal.SIGINT)
    assert run.finish() == 130
    assert _policies(api_client, namespace) == []
    steps = list_versions(tmp_path / "versions", include_archived=False)
    assert [v.status for v in steps] == ["executed"]  # only the first scenario ever registered


def test_sigint_before_the_first_scenario(tmp_path, namespace, kubeconfig, api_client):
    cfg = _write_run(tmp_path, namespace, [60])
    # SIGINT's default disposition, whatever this suite inherited: a shell's background job starts
    # with SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
    proc = subprocess.Popen([sys.executable, "-m", "krkn_tui", "run", "-c", str(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "KUBECONFIG": kubeconfig},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.3)  # interpreter start-up: before any scenario has begun
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert _policies(api_client, namespace) == []
    assert [v.status for v in list_versions(tmp_path / "versions") if v.status == "pending"] == []


def test_second_sigint_exits_at_once_and_leaves_files_pending(tmp_path, namespace, kubeconfig, api_client):
    run = Run(_write_run(tmp_path, namespace, [60]), kubeconfig)
    run.wait_for(r"created NetworkPolicy")
    # Stopped, the child gets SIGHUP then SIGINT pending together; Python runs handlers in signal
    # number order on resume, so the SIGINT is surely the second signal it sees.
    run.proc.send_signal(signal.SIGSTOP)
    run.proc.send_signal(signal.SIGHUP)
    run.proc.send_signal(signal.SIGINT)
    run.proc.send_signal(signal.SIGCONT)
    assert run.finish() == 130
    assert "second interrupt" in "".join(run.lines)
    steps = list_versions(tmp_path / "versions", include_archived=False)
    assert [v.status for v in steps] == ["pending"]
    assert len(_policies(api_client, namespace)) == 1
    _execute_rollback(run.run_id, tmp_path, kubeconfig)
    assert _policies(api_client, namespace) == []


def test_sigkill_mid_scenario_then_execute_rollback_leaves_nothing(tmp_path, namespace, kubeconfig, api_client):
    run = Run(_write_run(tmp_path, namespace, [60]), kubeconfig)
    run.wait_for(r"created NetworkPolicy")
    run.proc.kill()
    run.finish()
    assert len(_policies(api_client, namespace)) == 1
    out = _execute_rollback(run.run_id, tmp_path, kubeconfig)
    assert "executed" in out
    assert _policies(api_client, namespace) == []
    assert [v.status for v in list_versions(tmp_path / "versions", include_archived=False)] == ["executed"]


def _execute_rollback(run_id: str, tmp_path: Path, kubeconfig: str) -> str:
    out = subprocess.run([sys.executable, "-m", "krkn_tui", "execute-rollback", "-d", str(tmp_path / "versions"),
                          "-r", run_id], capture_output=True, text=True, env={**os.environ, "KUBECONFIG": kubeconfig},
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout
