"""One burst run in its own process, so its peak RSS is the console's alone.

`python -m bench.burst_child --rate R --seconds S [--idle] [--steady N --churn M] [--filter TEXT]`
prints one JSON object: key-press latencies (``j`` in the pod table, press -> first frame with
the cursor on the next row; with --filter, after ten of them each character of TEXT typed into
`/`, press -> first frame with the table filtered, then esc), whether
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

import krkn_tui.kube.podstream as podstream_module

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
        # the table draws a row's cells from its record: the model's record is what it shows
        return all(rows[k].restarts == r and grid.record(k) is rows[k] for k, r in expected.items())
    return check


async def _type_filter(pilot, app, view, text: str, latencies: list, missed: list) -> None:
    """`/`, then each character timed to the first frame with the table filtered by it, then esc."""
    await pilot.press("slash")
    for n in range(1, len(text) + 1):
        typed = text[:n]
        app.expect(("filter", n), lambda t=typed: view.filter_text == t)
        t0 = app.clock()
        app.simulate_key(text[n - 1])
        if await _wait(lambda k=("filter", n): k in app.frame_seen, 2.0):
            latencies.append(app.frame_seen.pop(("filter", n)) - t0)
        else:
            missed.append(n)
            app.frame_checks.pop(("filter", n), None)
        await asyncio.sleep(0.05)
    app.simulate_key("enter")
    await asyncio.sleep(0.05)
    app.simulate_key("escape")
    await _wait(lambda: view.filter_text == "", 5.0)


async def run(rate: float, seconds: float, idle: bool, presses_idle: int, steady: int = STEADY,
              churn: int = CHURN, filter_text: str = "") -> dict:
    source = BurstSource(steady, churn, rate, 0 if idle else seconds)
    # The console's own start_pod_watch runs (it imports the source class when it starts the
    # watch); only the source it builds is swapped.
    podstream_module.KubePodSource = lambda *_args, **_kwargs: source
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        kubeconfig = dummy_kubeconfig(Path(tmp) / "kubeconfig")
        app = ProbeConsole(settings(str(kubeconfig), None, Path(tmp) / "versions", probe_cluster=False))
        jitter = random.Random(4)
        latencies, missed, backlog = [], 0, []
        filter_latencies, filter_missed = [], []
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("2")
            grid = table(app, "pods", "pod-table")
            if not await _wait(lambda: grid.row_count == steady + churn, 300):
                raise TimeoutError("the initial pod list never showed")
            source.go.set()
            i = 0
            deadline = time.monotonic() + seconds + 60  # a stalled producer must not hang the bench
            while time.monotonic() < deadline and (source.finished is None if not idle else i < presses_idle):
                if not idle and source.started is None:
                    await asyncio.sleep(0.01)
                    continue
                await asyncio.sleep(jitter.uniform(0.05, 0.15))
                if filter_text and i == 10:
                    await _type_filter(pilot, app, app.views["pods"], filter_text, filter_latencies, filter_missed)
                row = grid.cursor_row
                if row + 1 >= steady:
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
            # A frame to look at: the console draws nothing while nothing changes (ages redraw
            # only what moved), so the last change may have been drawn before this check came;
            # then the lag below is this check's time, an upper bound by one key step.
            app.screen.refresh()
            applied = await _wait(lambda: "final" in app.frame_seen, 60)
            lag = app.frame_seen["final"] - source.finished if applied and source.finished else None
    return {
        "idle": idle,
        "events_sent": source.sent,
        "send_seconds": None if not source.finished else source.finished - source.started,
        "all_applied": applied,
        "apply_lag_s": lag,
        "key_latencies_s": latencies,
        "key_missed": missed + len(filter_missed),
        "filter_latencies_s": filter_latencies,
        "max_backlog": max(backlog, default=0),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument("--presses", type=int, default=30, help="key presses of the idle run")
    parser.add_argument("--steady", type=int, default=STEADY, help="pods listed at the start")
    parser.add_argument("--churn", type=int, default=CHURN, help="of which deleted and added during the burst")
    parser.add_argument("--filter", default="", help="also time each character of this filter text")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rate, args.seconds, args.idle, args.presses, args.steady, args.churn,
                                     args.filter))))


if __name__ == "__main__":
    main()
