"""Application outage on the local cluster, driven through the engine.

Also home of the small kit the other scenario tests import (run_scenario, version-file listings).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from krkn_tui.config import DEFAULT_PROTECTED_NAMESPACES, Config, ScenarioRef
from krkn_tui.engine import Engine, plan
from krkn_tui.events import ClusterChange, Event
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.naming import archive_dir_for
from krkn_tui.scenarios.application_outage import delete_network_policy

from kubehelpers import deployment, ready_pods, wait_for

pytestmark = pytest.mark.cluster

APP = "application_outages_scenarios"


# ---- kit shared by the scenario tests -------------------------------------------------------


def run_scenario(tmp_path: Path, api_client, scenario_type: str, scenario, *, dry_run=False, on_event=None):
    """Write `scenario` in krkn's format and run it through the engine.

    `on_event(event, engine)` sees every engine event as it happens (the cluster is in its
    changed state when a ClusterChange event arrives). Returns (engine, result, events).
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    file = tmp_path / f"{scenario_type}.yaml"
    file.write_text(yaml.safe_dump(scenario))
    config = Config(path=tmp_path / "config.yaml", kubeconfig_path=None, auto_rollback=True,
                    versions_dir=tmp_path / "versions", protected_namespaces=DEFAULT_PROTECTED_NAMESPACES,
                    allow_protected=False, scenarios=[ScenarioRef(scenario_type, file, 0)], wait_duration=0)
    events: list[Event] = []
    engine: Engine

    def emit(event: Event) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event, engine)

    engine = Engine(config, lambda: api_client, emit=emit, dry_run=dry_run)
    return engine, engine.run(plan(config)), events


def version_files(versions_dir: Path, pattern: str = "*/*.py*") -> list[Path]:
    return sorted(p for p in Path(versions_dir).glob(pattern) if not p.name.endswith(".failed"))


def archived_files(engine: Engine) -> list[str]:
    return sorted(p.name for p in (archive_dir_for(engine.config.versions_dir) / engine.run_id).glob("*.py*"))


def changes(events: list[Event]) -> list[dict]:
    """The audit records of the cluster changes."""
    return [e.record() for e in events if isinstance(e, ClusterChange)]


# ---- helpers for this file ------------------------------------------------------------------


def policies(api_client, namespace: str) -> dict[str, dict]:
    items = client.NetworkingV1Api(api_client).list_namespaced_network_policy(namespace).items
    return {p.metadata.name: api_client.sanitize_for_serialization(p.spec) for p in items}


def outage(namespace: str, duration: float, **extra) -> dict:
    return {"application_outage": {"duration": duration, "namespace": namespace,
                                   "pod_selector": {"app": "web"}, **extra}}


@pytest.fixture
def web(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    wait_for(lambda: len(ready_pods(core, namespace, "app=web")) == 2, what="web ready")
    return namespace


# ---- tests ----------------------------------------------------------------------------------


def test_outage_blocks_with_a_registered_rollback_and_restores(tmp_path, api_client, web):
    before = policies(api_client, web)
    seen = {}

    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            seen["policies"] = policies(api_client, web)
            seen["pending"] = {f.name: f.read_text() for f in version_files(engine.config.versions_dir)}

    engine, result, events = run_scenario(
        tmp_path, api_client, APP, outage(web, 1, block=["Ingress"], exclude_label={"tier": ["canary"]}),
        on_event=on_event)

    assert result.status == "passed", result.scenarios
    [change] = changes(events)
    assert change["action"] == "create_network_policy" and change["namespace"] == web
    name = change["name"]
    assert name.startswith("krkn-outage-")
    # While the policy existed, its rollback file was already on disk.
    [(pending, text)] = seen["pending"].items()
    assert pending.endswith(".py") and repr(name) in text
    assert seen["policies"][name] == {
        "podSelector": {"matchLabels": {"app": "web"},
                        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["canary"]}]},
        "policyTypes": ["Ingress"],
    }
    assert policies(api_client, web) == before
    assert archived_files(engine) == [pending + ".executed"]
    assert version_files(engine.config.versions_dir) == []
    assert result.scenarios[0].details["pods"] == sorted(p.metadata.name for p in ready_pods(
        client.CoreV1Api(api_client), web, "app=web"))


def test_stop_mid_outage_rolls_back(tmp_path, api_client, web):
    before = policies(api_client, web)
    stop_timers = []

    def on_event(event, engine):
        if isinstance(event, ClusterChange):
            assert len(policies(api_client, web)) == len(before) + 1
            timer = threading.Timer(0.5, engine.stop.set)
            timer.start()
            stop_timers.append(timer)

    engine, result, _ = run_scenario(tmp_path, api_client, APP, outage(web, 120), on_event=on_event)

    assert stop_timers, "the policy was never created"
    assert result.status == "interrupted"
    assert result.scenarios[0].status == "interrupted"
    assert policies(api_client, web) == before
    [step] = result.rollback
    assert step.status == "executed"
    files = version_files(engine.config.versions_dir)
    assert [p.name.endswith(".py.executed") for p in files] == [True]
    assert Path(step.file).name + ".executed" == files[0].name


def test_protected_namespace_is_refused_untouched(tmp_path, api_client):
    before = policies(api_client, "kube-system")
    engine, result, events = run_scenario(tmp_path, api_client, APP, outage("kube-system", 1))
    assert result.status == "failed"
    assert "protected" in result.scenarios[0].message
    assert changes(events) == []
    assert policies(api_client, "kube-system") == before
    assert version_files(engine.config.versions_dir) == []


def test_dry_run_changes_nothing(tmp_path, api_client, web):
    before = policies(api_client, web)
    engine, result, events = run_scenario(tmp_path, api_client, APP, outage(web, 1), dry_run=True)
    assert result.status == "passed"
    assert result.scenarios[0].details["dry_run"] is True
    assert changes(events) == []
    assert policies(api_client, web) == before
    assert not engine.config.versions_dir.exists()


def test_missing_namespace_fails_before_registering(tmp_path, api_client):
    engine, result, _ = run_scenario(tmp_path, api_client, APP, outage("t-does-not-exist", 1))
    assert result.status == "failed"
    assert "does not exist" in result.scenarios[0].message
    assert version_files(engine.config.versions_dir) == []


def test_version_file_runs_alone_and_twice(tmp_path, api_client, kubeconfig, namespace):
    net = client.NetworkingV1Api(api_client)
    net.create_namespaced_network_policy(namespace, {
        "metadata": {"name": "krkn-outage-manual"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    path = RunRollback(tmp_path / "versions").set_rollback_callable(
        delete_network_policy, RollbackContent(resource_identifier="krkn-outage-manual", namespace=namespace),
        scenario_type=APP, verb="delete", kind="NetworkPolicy")
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    for _ in range(2):  # the second run finds it gone: still success
        proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert policies(api_client, namespace) == {}
