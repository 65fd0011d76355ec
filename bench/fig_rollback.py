"""Figure 4: rollback throughput.

N pending version files (one NetworkPolicy deletion each) run three ways against the same
cluster: krkn-tui's in-process Executor, one `python FILE` per file (krkn's model), and the
bare deletions in a loop on one client (what the API server allows).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from krkn_tui.rollback import Executor, RollbackContent, RunRollback
from krkn_tui.scenarios.application_outage import delete_network_policy

from .kubeops import count_policies, create_policies
from .record import result, summary

NAME = "rollback"
SCENARIO_TYPE = "application_outages_scenarios"


def _register(versions_dir: Path, namespace: str, names: list[str]) -> tuple[list[Path], float]:
    registry = RunRollback(versions_dir)
    started = time.perf_counter()
    paths = [
        registry.set_rollback_callable(
            delete_network_policy, RollbackContent(resource_identifier=n, namespace=namespace),
            scenario_type=SCENARIO_TYPE, verb="delete", kind="NetworkPolicy")
        for n in names
    ]
    return paths, time.perf_counter() - started


def _sign_ms_per_file(paths: list[Path]) -> float:
    """What signing a manifest line adds to each registration (the key is loaded by then): the
    same lines signed again, timed alone, as registration's fsyncs would drown it."""
    from krkn_tui.rollback import manifest
    from krkn_tui.rollback.folder_trust import sign_entry

    entries = [e for p in {p.parent for p in paths} for e in manifest.read_entries(p).values()]
    started = time.perf_counter()
    for e in entries:
        sign_entry(paths[0].parent.name, e)
    return (time.perf_counter() - started) / max(len(entries), 1) * 1000


def _api_loop(api_client, namespace: str, names: list[str]) -> tuple[float, list[float]]:
    from kubernetes import client

    net = client.NetworkingV1Api(api_client)
    steps = []
    started = time.perf_counter()
    for n in names:
        t = time.perf_counter()
        net.delete_namespaced_network_policy(n, namespace)
        steps.append(time.perf_counter() - t)
    return time.perf_counter() - started, steps


def _executor(kubeconfig: str, paths: list[Path]) -> tuple[float, list[float], dict]:
    from krkn_tui.kube.client import load_api_client

    # The factory is part of what the executor costs: it builds its client on first use.
    executor = Executor(lambda: load_api_client(kubeconfig))
    started = time.perf_counter()
    results = executor.execute(paths)
    total = time.perf_counter() - started
    statuses: dict = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return total, [r.seconds for r in results], statuses


def _processes(env_vars: dict, paths: list[Path]) -> tuple[float, list[float], int]:
    steps, failures = [], 0
    started = time.perf_counter()
    for path in paths:
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path)], env=env_vars, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=120)
        steps.append(time.perf_counter() - t)
        failures += proc.returncode != 0
    return time.perf_counter() - started, steps, failures


def run(env) -> list[dict]:
    n = 500
    sampled = 10 if env.quick else n  # process-per-file is ~0.5 s a file: quick runs time a sample
    rounds = 1 if env.quick else 3  # API bound and executor back to back, median over rounds
    api = env.api_client()
    api_totals, exec_totals, api_steps, exec_steps, statuses, left = [], [], [], [], {}, 0
    with env.namespace("rollback") as ns, tempfile.TemporaryDirectory(prefix="bench-rb-") as tmp:
        names = [f"bench-np-{i:04d}" for i in range(n)]
        for r in range(rounds):
            create_policies(api, ns, names)
            total, steps = _api_loop(api, ns, names)
            api_totals.append(total)
            api_steps += steps

            create_policies(api, ns, names)
            paths, register_s = _register(Path(tmp) / f"a{r}", ns, names)
            sign_ms = _sign_ms_per_file(paths)
            total, steps, round_statuses = _executor(env.kubeconfig, paths)
            exec_totals.append(total)
            exec_steps += steps
            for k, v in round_statuses.items():
                statuses[k] = statuses.get(k, 0) + v
            left += count_policies(api, ns)

        create_policies(api, ns, names[:sampled])
        paths, _ = _register(Path(tmp) / "b", ns, names[:sampled])
        proc_sample, proc_steps, proc_failures = _processes(env.env_vars(), paths)
        left_after_processes = count_policies(api, ns)
    proc_total = proc_sample * n / sampled
    exec_total, api_total = statistics.median(exec_totals), statistics.median(api_totals)
    all_ran = statuses == {"executed": n * rounds} and left == 0

    common = {
        "files": n,
        "rounds": rounds,
        "executor_s_per_round": [round(t, 3) for t in exec_totals],
        "executor_step_ms": summary(exec_steps, 1000),
        "executor_statuses": statuses,
        "policies_left_after_executor": left,
        "register_ms_per_file": round(register_s / n * 1000, 2),
        "manifest_sign_ms_per_file": round(sign_ms, 3),  # included in register_ms_per_file
    }
    process_detail = {
        **common,
        "process_step_ms": summary(proc_steps, 1000),
        "process_files_timed": sampled,
        "process_failures": proc_failures,
        "policies_left_after_processes": left_after_processes,
    }
    if sampled < n:
        process_detail["extrapolated"] = f"timed {sampled} processes, scaled to {n}"
    vs_process = result("rollback_vs_process_per_file", exec_total, f"s/{n} files", proc_total,
                        "ratio <= 0.1 (>= 10x faster)", None, process_detail)
    vs_process["ok"] = all_ran and vs_process["ratio"] is not None and vs_process["ratio"] <= 0.1
    vs_api = result("rollback_vs_api_bound", exec_total, f"s/{n} files", api_total, "ratio <= 2", None,
                    {**common, "api_s_per_round": [round(t, 3) for t in api_totals],
                     "api_step_ms": summary(api_steps, 1000)})
    vs_api["ok"] = all_ran and vs_api["ratio"] is not None and vs_api["ratio"] <= 2
    return [vs_process, vs_api]
