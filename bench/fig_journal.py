"""Figure: the cluster journal.

- ``journal_mirror_cost_per_step``: registering a rollback step with the journal on (version file
  durable on disk, then its signed entry created in the cluster) against local-only registration
  (the same file, no journal), alternating in rounds on the same cluster. Target: <= 2x. Its
  detail splits the mirror into ``sign_ms`` (the entry's data built, redacted, made canonical and
  signed, with its first state) and ``create_ms`` (the Secret's create call).
- ``journal_sign_cost_per_step``: that signing alone, for a namespace restore's capture of 50
  objects (the largest data a step holds). Target: <= 5 ms p50.
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
from krkn_tui.rollback.journal.mirror import JournalSettings, RunMirror
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


def _sign_once(signer, identity, content: RollbackContent, i: int) -> float:
    """What the mirror adds on this machine before its create call: the entry's data (redacted)
    made canonical, signed, and its first state signed."""
    from krkn_tui.rollback.journal.entry import build_payload
    from krkn_tui.rollback.journal.entries import state_payload
    from krkn_tui.rollback.signing import canonical

    t = time.perf_counter()
    payload = build_payload(op=f"{SCENARIO_TYPE}.delete_network_policy", run_id="1-bench", file=f"x_{i}_abcd1234.py",
                            scenario_type=SCENARIO_TYPE, created_ns=i, cluster=identity, content=content,
                            signer_id=signer.key_id)
    raw = canonical(payload)
    signer.sign(raw)
    signer.sign_obj(state_payload("step-1", "0" * 64, "pending", "bench", "2026-01-01T00:00:00Z", None))
    return time.perf_counter() - t


def _capture(objects: int) -> dict:
    """A namespace restore's data: ConfigMaps and one Secret, the shape service disruption captures."""
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "labels": {"app": "bench"}},
              "data": {f"k{j}": "v" * 40 for j in range(10)}} for i in range(objects - 1)]
    items.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "data": {"t": "c2VjcmV0"}})
    return {"namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}, "objects": items}


def sign_cost(env, n: int) -> dict:
    from krkn_tui.kube.identity import ClusterIdentity
    from krkn_tui.rollback.signing import Signer

    signer, identity = Signer.generate(), ClusterIdentity("https://bench", "bench", "0" * 8)
    small = RollbackContent("p", "default")
    large = RollbackContent("bench", "bench", _capture(50))
    small_s = [_sign_once(signer, identity, small, i) for i in range(n)]
    large_s = [_sign_once(signer, identity, large, i) for i in range(n)]
    value = percentile(large_s, 50) * 1000
    return result("journal_sign_cost_per_step", value, "ms p50", None, "<= 5 ms p50", value <= 5.0,
                  {"steps": n, "capture_objects": 50, "large_ms": summary(large_s, 1000),
                   "one_object_ms": summary(small_s, 1000)})


def _timed_create(journal, times: list[float]):
    """Wrap the journal's create call so the mirror's create time is measured apart."""
    core = journal._core
    create = core.create_namespaced_secret

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return create(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - t)

    core.create_namespaced_secret = timed


def mirror_cost(env, n: int, rounds: int) -> dict:
    """Local-only and mirrored registrations alternate step by step, so both see the same load."""
    api = env.api_client()
    settings = JournalSettings(namespace=f"bench-journal-{uuid.uuid4().hex[:6]}")
    local, mirrored, creates = [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            for r in range(rounds):
                plain = _registry(Path(tmp) / f"local{r}", "default")
                journaled = _registry(Path(tmp) / f"mirror{r}", "default", api, settings)
                _timed_create(journaled.mirror.journal, creates)
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
    from krkn_tui.rollback.signing import Signer

    signer, identity = Signer.generate(), journaled.mirror.journal.identity
    signs = [_sign_once(signer, identity, RollbackContent(f"p{i}", "default"), i) for i in range(n)]
    return result("journal_mirror_cost_per_step", value, "ms p50", baseline, "mirrored registration <= 2x local-only",
                  ratio <= 2.0, {"steps": n * rounds, "rounds": rounds, "local_ms": summary(local, 1000),
                                 "mirrored_ms": summary(mirrored, 1000),
                                 "added_ms_p50": round(value - baseline, 2), "sign_ms": summary(signs, 1000),
                                 "create_ms": summary(creates, 1000)})


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
    return [mirror_cost(env, n, rounds), sign_cost(env, 50 if env.quick else 300),
            takeover(env, 3 if env.quick else 8)]
