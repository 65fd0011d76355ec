"""One burst run in its own process, so its peak RSS is the console's alone.

`python -m bench.burst_child --rate R --seconds S [--idle]` prints one JSON object: key-press
latencies (``j`` in the pod table, press -> first frame with the cursor on the next row), whether
every event was applied, how long after the last event the table was final, and peak RSS.
With --idle no events are sent (the baseline: same console, same presses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from pathlib import Path

import yaml

import krkn_tui.tui.app as console_module

from .fakepods import BurstSource
from .probe import ProbeConsole, settings, table

STEADY, CHURN = 400, 50


def dummy_kubeconfig(path: Path) -> Path:
    """Never contacted (the pod source is synthetic and the probe is off), but must parse."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "bench",
        "clusters": [{"name": "bench", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "bench", "user": {}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
    }))
    return path


def peak_rss_mb() -> float:
    """VmHWM: this process image's peak RSS. (ru_maxrss would carry the parent's peak across fork+exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _wait(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.002)
    return False


def _final_check(app, grid, expected: dict[str, int]):
    def check() -> bool:
        rows = app.pod_table.rows
        if rows.keys() != expected.keys() or grid.row_count != len(expected):
            return False
        return all(rows[k].restarts == r and grid.cell(k, "restarts").plain == str(r)
                   for k, r in expected.items())
    return check


async def run(rate: float, seconds: float, idle: bool, presses_idle: int) -> dict:
    source = BurstSource(STEADY, CHURN, rate, 0 if idle else seconds)
    # The console's own start_pod_watch runs; only the source it builds is swapped.
    console_module.KubePodSource = lambda *_args, **_kwargs: source
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        kubeconfig = dummy_kubeconfig(Path(tmp) / "kubeconfig")
        app = ProbeConsole(settings(str(kubeconfig), None, Path(tmp) / "versions", probe_cluster=False))
        jitter = random.Random(4)
        latencies, missed, backlog = [], 0, []
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("2")
            grid = table(app, "pods", "pod-table")
            if not await _wait(lambda: grid.row_count == STEADY + CHURN, 30):
                raise TimeoutError("the initial pod list never showed")
            source.go.set()
            i = 0
            deadline = time.monotonic() + seconds + 60  # a stalled producer must not hang the bench
            while time.monotonic() < deadline and (source.finished is None if not idle else i < presses_idle):
                if not idle and source.started is None:
                    await asyncio.sleep(0.01)
                    continue
                await asyncio.sleep(jitter.uniform(0.05, 0.15))
                row = grid.cursor_row
                if row + 1 >= STEADY:
                    break
                expected_key = grid.key_at(row + 1)
                app.expect(("key", i), lambda k=expected_key: grid.current_key == k)
                t0 = app.clock()
                app.simulate_key("j")
                if await _wait(lambda k=("key", i): k in app.frame_seen, 2.0):
                    latencies.append(app.frame_seen.pop(("key", i)) - t0)
                else:
                    missed += 1
                    app.frame_checks.pop(("key", i), None)
                backlog.append(len(app.pod_watcher.buffer))
                i += 1
            expected = source.expected_rows()
            app.expect("final", _final_check(app, grid, expected))
            applied = await _wait(lambda: "final" in app.frame_seen, 60)
            lag = app.frame_seen["final"] - source.finished if applied and source.finished else None
    return {
        "idle": idle,
        "events_sent": source.sent,
        "send_seconds": None if not source.finished else source.finished - source.started,
        "all_applied": applied,
        "apply_lag_s": lag,
        "key_latencies_s": latencies,
        "key_missed": missed,
        "max_backlog": max(backlog, default=0),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--presses", type=int, default=30, help="key presses of the idle run")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rate, args.seconds, args.idle, args.presses))))


if __name__ == "__main__":
    main()
