"""Helpers for the console's Pilot tests: configs in tmp_path, waiting, reading table cells."""

from __future__ import annotations

import time
from pathlib import Path

from krkn_files import krkn_version
from krkn_tui.tui import app as app_module
from krkn_tui.tui.app import KrknConsole
from krkn_tui.tui.settings import ConsoleSettings

SIZE = (140, 45)


async def until(pilot, predicate, timeout: float = 60.0, what: str = "condition"):
    """Let the app run until ``predicate()`` is truthy; the timeout only bounds a broken test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


def outage_config(tmp_path: Path, namespace: str, duration: float = 2, extra: str = "") -> Path:
    """A config with one application outage on ``namespace`` (plus ``extra`` chaos entries)."""
    (tmp_path / "outage.yaml").write_text(
        f"application_outage:\n  duration: {duration}\n  namespace: {namespace}\n"
        "  pod_selector: {app: web}\n  block: [Ingress]\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        "kraken:\n  chaos_scenarios:\n    - application_outages_scenarios:\n        - outage.yaml\n"
        f"{extra}tunings:\n  wait_duration: 0\n  iterations: 1\n")
    return config


class Console(KrknConsole):
    """The console as a test drives it, keeping what it told the user (``App.notify``, public)
    so a test reads notices without Textual's private toast list."""

    CSS_PATH = Path(app_module.__file__).with_name(KrknConsole.CSS_PATH)  # a relative one is read beside the subclass

    def __init__(self, settings: ConsoleSettings, **kwargs):
        super().__init__(settings, **kwargs)
        self.said: list[str] = []

    def notify(self, message, **kwargs) -> None:
        self.said.append(str(message))
        super().notify(message, **kwargs)

    def told(self, text: str) -> bool:
        """Whether any notice so far holds ``text``."""
        return any(text in line for line in self.said)


def console(tmp_path: Path, *, pod_table=None, **settings) -> Console:
    settings.setdefault("versions_dir", tmp_path / "versions")
    settings.setdefault("config_path", tmp_path / "config.yaml")
    return Console(ConsoleSettings(**settings), pod_table=pod_table)


def keys(table) -> list[str]:
    """Row keys in display order."""
    return table.keys()


def cell(table, row_key: str, column: str) -> str:
    return table.cell(row_key, column).plain


def footer_keys(app) -> set[str]:
    """Keys the footer shows for the active screen."""
    return {key for key, (_node, binding, enabled, _tip) in app.screen.active_bindings.items()
            if binding.show and enabled}


# -- fixed data for snapshots -----------------------------------------------------------------

FROZEN_NOW = 1767261600.0  # 2026-01-01 10:00:00 UTC
RUN_A = "1767261000000000000-5cd89fc6-2732-4fbb-a303-1b2dcec26720"
RUN_B = "1767261300000000000-9e1f0a42-77c1-4d0e-9d5b-3f0c2b7a11e8"
RUN_OLD = "1767170000000000000-0b7d6e55-1c2a-4e8f-b1d3-6a9c4f2e8d10"


def fixed_kubeconfig(path: Path) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: krkn-local\n"
        "clusters: [{name: local, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: krkn-local-admin, user: {token: x}}]\n"
        "contexts: [{name: krkn-local, context: {cluster: local, user: krkn-local-admin}}]\n")
    return path


def _pod(name, ns, phase, ready, node, age_s, restarts=0, deleting=False):
    from datetime import datetime, timezone

    created = datetime.fromtimestamp(FROZEN_NOW - age_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {"name": name, "namespace": ns, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = created
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [{"name": "c"}]},
            "status": {"phase": phase, "containerStatuses": [{"ready": ready, "restartCount": restarts}]}}


def fixed_pod_table():
    from krkn_tui.kube.podmodel import ADDED, DELETED, MODIFIED, SYNC, BufferedEvent, PodTable

    pods = [
        _pod("frontend-6b4dd954fc-9254z", "krkn-demo", "Running", True, "kwok-node-2", 3600 * 5),
        _pod("frontend-6b4dd954fc-hk6lb", "krkn-demo", "Running", True, "kwok-node-1", 3600 * 5),
        _pod("frontend-6b4dd954fc-m2dqh", "krkn-demo", "Running", True, "kwok-node-0", 3600 * 5),
        _pod("backend-66468fc649-bsmxk", "krkn-demo", "Running", True, "kwok-node-0", 86400 * 2, restarts=1),
        _pod("backend-66468fc649-xrrh5", "krkn-demo", "Running", True, "kwok-node-1", 86400 * 2),
    ]
    killed = _pod("frontend-6b4dd954fc-m2dqh", "krkn-demo", "Running", True, "kwok-node-0", 3600 * 5, deleting=True)
    replacement = _pod("frontend-6b4dd954fc-2cmsk", "krkn-demo", "Pending", False, "", 4)
    ready = _pod("frontend-6b4dd954fc-2cmsk", "krkn-demo", "Running", True, "kwok-node-1", 4)
    draining = _pod("backend-66468fc649-xrrh5", "krkn-demo", "Running", True, "kwok-node-1", 86400 * 2,
                    deleting=True)
    table = PodTable()
    t = FROZEN_NOW - 6
    table.apply([BufferedEvent(SYNC, pods, t)])
    table.apply([
        BufferedEvent(MODIFIED, killed, t + 1),
        BufferedEvent(ADDED, replacement, t + 1.02),
        BufferedEvent(MODIFIED, ready, t + 1.05),
        BufferedEvent(DELETED, killed, t + 2),
        BufferedEvent(MODIFIED, draining, t + 5),
    ])
    return table


def restore_nothing(content, api_client):
    return None


KRKN_FILE = krkn_version(namespace="krkn-demo")  # a file krkn wrote, in the fixed folder


def fixed_versions(root: Path) -> Path:
    """A versions folder with every status and both origins, at fixed names and times."""
    import json

    from krkn_tui.rollback import RollbackContent
    from krkn_tui.kube.identity import ClusterIdentity
    from krkn_tui.rollback.meta import VersionMeta
    from krkn_tui.rollback.writer import render_version_file, write_version_file

    versions, archive = root / "versions", root / "versions-archive"

    def step(folder, run, scenario, created_ns, suffix, verb, kind, ns, name):
        # The old run was written before version files recorded their cluster.
        cluster = None if run == RUN_OLD else ClusterIdentity("https://127.0.0.1:6443", "krkn-local",
                                                              "3f0c2b7a-1d2e-4c5b-9a8f-0e1d2c3b4a59")
        meta = VersionMeta(run_id=run, scenario_type=scenario, created_ns=created_ns, verb=verb, kind=kind,
                           namespace=ns, name=name, callable="restore_nothing", cluster=cluster)
        text = render_version_file(restore_nothing, RollbackContent(name, ns), meta)
        (folder / run).mkdir(parents=True, exist_ok=True, mode=0o700)
        return write_version_file(folder / run, f"{scenario}_{created_ns}_{suffix}.py", text, created_ns)

    base_a, base_b = int(RUN_A.split("-")[0]), int(RUN_B.split("-")[0])
    step(archive, RUN_OLD, "pod_disruption_scenarios", 1767170000500000000, "k3j9x0aa", "recreate", "Pod",
         "krkn-demo", "frontend-6b4dd954fc-aaaaa")
    executed = step(versions, RUN_A, "application_outages_scenarios", base_a + 10**9, "04aboo7k", "delete",
                    "NetworkPolicy", "krkn-demo", "krkn-outage-6a80eb")
    executed.rename(str(executed) + ".executed")
    failed = step(versions, RUN_A, "node_scenarios", base_a + 2 * 10**9, "q8w7e6r5", "uncordon", "Node",
                  None, "kwok-node-1")
    (failed.parent / (failed.name + ".failed")).write_text(json.dumps(
        {"error": "ApiException: (503) Service Unavailable", "attempts": 3}))
    step(versions, RUN_B, "service_disruption_scenarios", base_b + 10**9, "m1n2b3v4", "scale", "Deployment",
         "krkn-demo", "backend")
    step(versions, RUN_B, "pod_disruption_scenarios", base_b + 2 * 10**9, "z9y8x7w6", "delete", "NetworkPolicy",
         "krkn-demo", "krkn-outage-77aa01")
    krkn_run = versions / RUN_OLD.replace("0b7d6e55", "7a7a7a7a")
    krkn_run.mkdir(parents=True, mode=0o700)
    (krkn_run / "hog_scenarios_1767171000000000000_abcd1234.py").write_text(KRKN_FILE)
    return versions
