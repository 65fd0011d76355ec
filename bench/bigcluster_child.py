"""The pods view on a big cluster, in a process of its own (its RSS is the console's alone).

`python -m bench.bigcluster_child --kubeconfig K --expected N [--namespace NS] [--t0 T]` starts
the console on the cluster, presses `2` at once and prints one JSON object: seconds from the
press to the first frame whose pod table holds N rows (`rows_s`), from T (the parent's
time.time() just before it started us: process start, as kubectl's time is) to that frame
(`start_s`), the process's CPU seconds then (`cpu_s`), then the RSS (VmRSS after a collection,
and the peak VmHWM) with those rows shown.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path

from .probe import ProbeConsole, settings, table


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(kubeconfig: str, expected: int, namespace: str | None, timeout: float,
              start: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        app = ProbeConsole(settings(kubeconfig, namespace, Path(tmp) / "versions", probe_cluster=False))
        async with app.run_test(size=(160, 50)) as pilot:

            def all_rows() -> bool:
                view = app.views.get("pods")
                return bool(view is not None and view.is_mounted
                            and table(app, "pods", "pod-table").row_count >= expected)

            app.expect("rows", all_rows)
            t0 = app.clock()
            await pilot.press("2")
            deadline = time.monotonic() + timeout
            while "rows" not in app.frame_seen:
                if time.monotonic() > deadline:
                    shown = table(app, "pods", "pod-table").row_count
                    raise TimeoutError(f"{shown} of {expected} rows after {timeout:.0f}s")
                await asyncio.sleep(0.005)
            seconds = app.frame_seen["rows"] - t0
            since_start = app.frame_seen["rows"] - (start if start is not None else t0)
            cpu = app.frame_cpu["rows"]
            await pilot.pause(1.0)  # ages tick, the event log settles
            gc.collect()
            rows = table(app, "pods", "pod-table").row_count
            return {"rows_s": seconds, "start_s": since_start, "cpu_s": cpu, "rows": rows, "rss_mb": rss_mb(),
                    "peak_rss_mb": rss_mb("VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--namespace")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--t0", type=float, help="the parent's time.time() just before starting this process")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.kubeconfig, args.expected, args.namespace, args.timeout, args.t0))))


if __name__ == "__main__":
    main()
