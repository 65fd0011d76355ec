"""Figure: the cluster journal.

- ``journal_mirror_cost_per_step``: registering a rollback step with the journal on (version file
  durable on disk, then its Secret in the cluster) against local-only registration (the same
  file, no journal), alternating in rounds on the same cluster. Target: <= 2x.
- ``journal_lease_expiry_to_restored``: a run registers a NetworkPolicy deletion, makes the change
  and stops renewing its Lease (it "dies"); a guard in its own process (``krkn-tui guard --grace 0
  --interval 1``) takes the run over. Measured from the moment the Lease expired (its renew time
  plus its duration) to the moment the policy is gone. Target: <= the guard's interval + 1 s.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from krkn_tui.kube.identity import read_identity
from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback.mirror import JournalSettings, RunMirror
from krkn_tui.scenarios.application_outage import delete_network_policy

from .kubeops import count_policies, create_policies
from .record import percentile, result, summary

NAME = "journal"
SCENARIO_TYPE = "application_outages_scenarios"
GUARD_INTERVAL = 1.0


def _registry(versions_dir: Path, namespace: str, api_client=None, settings=None) -> RunRollback:
    """A run's registry; with ``settings`` the journal is on, and its first step (which creates
    the namespace and takes the Lease) is made here, outside the timed steps."""
    registry = RunRollback(versions_dir)
    if settings is not None:
        registry.mirror = RunMirror(lambda: api_client, settings, registry.run_id,
                                    lambda c: read_identity(c, "bench"))
        _step(registry, namespace, "warm-up")
    return registry


def _step(registry: RunRollback, namespace: str, name: str) -> float:
    t = time.perf_counter()
    registry.set_rollback_callable(delete_network_policy, RollbackContent(name, namespace),
                                   scenario_type=SCENARIO_TYPE, verb="delete", kind="NetworkPolicy")
    return time.perf_counter() - t


def mirror_cost(env, n: int, rounds: int) -> dict:
    """Local-only and mirrored registrations alternate step by step, so both see the same load."""
    api = env.api_client()
    settings = JournalSettings(namespace=f"bench-journal-{uuid.uuid4().hex[:6]}")
    local, mirrored = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            for r in range(rounds):
                plain = _registry(Path(tmp) / f"local{r}", "default")
                journaled = _registry(Path(tmp) / f"mirror{r}", "default", api, settings)
                try:
                    for i in range(n):
                        local.append(_step(plain, "default", f"p{r}-{i:04d}"))
                        mirrored.append(_step(journaled, "default", f"p{r}-{i:04d}"))
                finally:
                    journaled.mirror.close()
    finally:
        _delete_namespace(api, settings.namespace)
    value, baseline = percentile(mirrored, 50) * 1000, percentile(local, 50) * 1000
    ratio = value / baseline
    return result("journal_mirror_cost_per_step", value, "ms p50", baseline, "mirrored registration <= 2x local-only",
                  ratio <= 2.0, {"steps": n * rounds, "rounds": rounds, "local_ms": summary(local, 1000),
                                 "mirrored_ms": summary(mirrored, 1000),
                                 "added_ms_p50": round(value - baseline, 2)})


def _delete_namespace(api, name: str) -> None:
    from kubernetes import client

    try:
        client.CoreV1Api(api).delete_namespace(name)
    except client.ApiException:
        pass


def _one_takeover(env, api, settings: JournalSettings, namespace: str, tmp: Path, trial: int) -> float:
    name = f"bench-takeover-{trial}"
    registry = _registry(tmp / f"run{trial}", namespace, api, settings)
    _step(registry, namespace, name)
    create_policies(api, namespace, [name], workers=1)
    registry.mirror.lease.stop_renewing()  # the run dies here
    state = registry.mirror.lease.state
    expired_at = state.renew_time + state.duration
    deadline = time.time() + 60
    while count_policies(api, namespace):
        if time.time() > deadline:
            raise TimeoutError(f"the guard did not restore {name} within 60 s")
        time.sleep(0.02)
    return time.time() - expired_at


def takeover(env, trials: int) -> dict:
    api = env.api_client()
    settings = JournalSettings(namespace=f"bench-journal-{uuid.uuid4().hex[:6]}", lease_duration=2, renew_every=0.5)
    seconds = []
    with env.namespace("journal") as ns, tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        guard = subprocess.Popen(
            [sys.executable, "-m", "krkn_tui", "guard", "--grace", "0", "--interval", str(GUARD_INTERVAL),
             "--journal-namespace", settings.namespace, "-d", str(Path(tmp) / "guard")],
            env=env.env_vars(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True)
        try:
            guard.stdout.readline()  # its banner: started and connected (start-up is not the figure)
            for trial in range(trials):
                seconds.append(_one_takeover(env, api, settings, ns, Path(tmp), trial))
        finally:
            guard.terminate()
            guard.wait(timeout=30)
            _delete_namespace(api, settings.namespace)
    value = percentile(seconds, 50)
    target = GUARD_INTERVAL + 1.0
    return result("journal_lease_expiry_to_restored", value, "s p50", None,
                  f"<= guard interval ({GUARD_INTERVAL:g} s) + 1 s", max(seconds) <= target,
                  {"trials": trials, "seconds": summary(seconds), "grace_s": 0, "lease_duration_s": 2,
                   "guard_interval_s": GUARD_INTERVAL})


def run(env) -> list[dict]:
    n, rounds = (30, 2) if env.quick else (200, 3)
    return [mirror_cost(env, n, rounds), takeover(env, 3 if env.quick else 8)]
