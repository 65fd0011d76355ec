"""Figure 7: a big cluster. `--scale N` pods (default 30,000; `--quick` 5,000) on 300 fake nodes,
one fake node per 100 pods beyond that (1,000 nodes for 100,000 pods).

- pods view, press `2` -> first frame holding every pod of the cluster, beside `kubectl get pods
  -A` (process start to exit) on the same cluster, alternated round by round;
- the console's RSS with those rows (child process, VmRSS after a collection) beside the same
  console on an empty namespace, and the bytes each pod costs;
- key latency (`j` and filter keystrokes) while 500 pod events a second arrive, with N pods in
  the table, beside the same console with no events (a synthetic source through the real
  PodWatcher: the rate is then exact whatever the API server manages on the machine);
- pod event on screen at N pods: the `pods` figure's create / patch / delete cycles with the
  console watching every namespace (N rows), beside `kubectl get -w` of the namespace.

The bench pods are created by `bench.scale_fill` (namespaces `bench-scale-NN`) where missing: on
the run's private cluster every run fills them (the cluster goes at the end); on a cluster named
with `--cluster-dir` they are kept, so a second run reuses them.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .env import repo_root
from .fig_pods import _figure, _measure
from .fig_startup import _child_env
from .kubeops import wait_service_account
from .record import result, summary

NODES = 300
PODS_PER_NODE = 100  # beyond 30,000 pods: kwok's default max pods is 110
ROWS_RATIO_TARGET = 1.0
RSS_TARGET_MB = 150.0
# At 100,000 pods (1,000 nodes): a tighter ratio (the console decodes only what it shows) and a
# memory bound for that many rows.
HUGE = 100_000
HUGE_ROWS_RATIO_TARGET = 0.5
HUGE_RSS_TARGET_MB = 250.0
KEY_TARGET_MS = 50.0
EVENT_RATE = 500


def _run_json(argv: list[str], timeout: float) -> dict:
    # from compiled bytecode, as an installed console starts (the startup figure's children too)
    proc = subprocess.run(argv, cwd=repo_root(), capture_output=True, text=True, timeout=timeout, env=_child_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[2]} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pods_in_cluster(env) -> int:
    """Every pod of the cluster, from one item and the server's count of the rest."""
    from kubernetes import client

    listed = client.CoreV1Api(env.api_client()).list_pod_for_all_namespaces(limit=1)
    return len(listed.items) + (listed.metadata.remaining_item_count or 0)


def kubectl_get_all(env, cpu: list[float] | None = None) -> float:
    """Seconds from kubectl's start to its exit; its CPU seconds appended to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([env.kubectl, "--kubeconfig", env.kubeconfig, "get", "pods", "-A"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl get pods -A failed: {proc.stderr.strip()[-300:]}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall


def nodes_for(pods: int) -> int:
    return max(NODES, -(-pods // PODS_PER_NODE))


def targets(pods: int) -> tuple[float, float, str]:
    """Rows' ratio target, memory target (MB) and where the memory target applies."""
    if pods >= HUGE:
        return HUGE_ROWS_RATIO_TARGET, HUGE_RSS_TARGET_MB, "at 100,000"
    return ROWS_RATIO_TARGET, RSS_TARGET_MB, "at 30,000"


def rows_and_memory(env, total: int, rounds: int, nodes: int = NODES) -> list[dict]:
    ours, theirs, runs, kubectl_cpu = [], [], [], []
    child = [sys.executable, "-m", "bench.bigcluster_child", "--kubeconfig", env.kubeconfig]
    for _ in range(rounds):  # alternated, so load from elsewhere hits both sides alike
        run = _run_json([*child, "--expected", str(total), "--t0", repr(time.time())], 900)
        runs.append(run)
        ours.append(run["start_s"])
        theirs.append(kubectl_get_all(env, kubectl_cpu))
    with env.namespace("empty") as empty:
        idle = _run_json([*child, "--expected", "0", "--namespace", empty], 300)
    value, base = statistics.median(ours), statistics.median(theirs)
    ratio_target, rss_target, rss_at = targets(total)
    common = {"pods": total, "nodes": nodes, "rounds": rounds}
    rows = result(f"pods_view_all_rows_{total}", value, "s", base, f"<= {ratio_target:g}x kubectl get pods -A",
                  None, {**common, "krkn_tui_s": summary(ours, 1, 3), "kubectl_s": summary(theirs, 1, 3),
                         "press_to_rows_s": summary([r["rows_s"] for r in runs], 1, 3),
                         "krkn_tui_cpu_s": summary([r["cpu_s"] for r in runs], 1, 3),
                         "kubectl_cpu_s": summary(kubectl_cpu, 1, 3),
                         "measured": "process start -> first frame holding every pod (child process: the "
                                     "console started, `2` pressed at once; press_to_rows_s from the press, "
                                     "krkn_tui_cpu_s its CPU then); kubectl: process start -> exit, table "
                                     "printed to /dev/null"})
    rows["ok"] = rows["ratio"] is not None and rows["ratio"] <= ratio_target
    rss = max(r["rss_mb"] for r in runs)
    per_pod = (rss - idle["rss_mb"]) * 1024 * 1024 / total if total else None
    memory = result(f"console_rss_{total}_pods", rss, "MB", idle["rss_mb"], f"<= {rss_target:g} MB {rss_at}",
                    rss <= rss_target if total >= 30_000 else None,
                    {**common, "bytes_per_pod": None if per_pod is None else round(per_pod),
                     "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                     "baseline": "the same console on an empty namespace",
                     "measured": "VmRSS of the child after every row is shown and a gc.collect()"})
    return [rows, memory]


def _burst(total: int, seconds: float, idle: bool) -> dict:
    argv = [sys.executable, "-m", "bench.burst_child", "--rate", str(EVENT_RATE), "--seconds", str(seconds),
            "--steady", str(total), "--churn", "200", "--filter", "bench-0001"] + (["--idle"] if idle else [])
    return _run_json(argv, seconds + 600)


def keys_under_events(total: int, seconds: float) -> dict:
    idle, burst = _burst(total, seconds, True), _burst(total, seconds, False)
    keys = burst["key_latencies_s"] + burst["filter_latencies_s"]
    keys_idle = idle["key_latencies_s"] + idle["filter_latencies_s"]
    p95 = summary(keys, 1000).get("p95")
    rec = result(f"key_latency_{total}_pods_{EVENT_RATE}_events_per_s", p95, "ms p95",
                 summary(keys_idle, 1000).get("p95"), f"<= {KEY_TARGET_MS:g} ms", None,
                 {"pods": total, "rate_per_s": EVENT_RATE, "seconds": seconds,
                  "events_sent": burst["events_sent"], "all_applied": burst["all_applied"],
                  "cursor_ms": summary(burst["key_latencies_s"], 1000),
                  "filter_keystroke_ms": summary(burst["filter_latencies_s"], 1000),
                  "idle_cursor_ms": summary(idle["key_latencies_s"], 1000),
                  "idle_filter_keystroke_ms": summary(idle["filter_latencies_s"], 1000),
                  "missed": burst["key_missed"], "peak_rss_mb": burst["peak_rss_mb"],
                  "measured": "j and typed filter characters -> first frame showing the result; synthetic "
                              "events through the real PodWatcher; baseline: same console, no events"})
    rec["ok"] = p95 is not None and p95 <= KEY_TARGET_MS and burst["key_missed"] == 0 and burst["all_applied"]
    return rec


def event_on_screen(env, total: int, cycles: int) -> dict:
    api = env.api_client()
    with env.namespace("bigpods") as ns, tempfile.TemporaryDirectory(prefix="bench-bigpods-") as tmp:
        wait_service_account(api, ns)
        samples = asyncio.run(_measure(env, ns, cycles, Path(tmp), watch_namespace=None, expect_rows=total))
    rec = _figure(f"pod_event_latency_screen_{total}_pods", samples, "screen",
                  {"pods": total, "cycles": cycles, "krkn_tui_side": "console watching every namespace, first "
                   "frame holding the change", "kubectl_side": "kubectl get -w of the namespace",
                   "frame_period_ms": 16.7})
    return rec


def run(env) -> list[dict]:
    total_wanted = env.scale
    nodes = nodes_for(total_wanted)
    env.ensure_cluster(nodes=nodes)
    env.say(f"bench: {total_wanted} pods on {nodes} fake nodes")
    filled = _run_json([sys.executable, "-m", "bench.scale_fill", "--kubeconfig", env.kubeconfig,
                        "--pods", str(total_wanted), "--nodes", str(nodes)], 3600)
    env.say(f"bench: created {filled['created']} pods in {filled['seconds']}s")
    total = pods_in_cluster(env)
    records = rows_and_memory(env, total, 1 if env.quick else 3, nodes)
    records.append(keys_under_events(total_wanted, 4 if env.quick else 10))
    records.append(event_on_screen(env, total, 8 if env.quick else 30))
    return records
