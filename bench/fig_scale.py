"""Figure 3: scale.

- First render of the version table with 10,000 files (press `3` -> first frame with every row),
  beside a plain DataTable given the same rows as strings (the widget's own cost).
- A burst of 2,000 synthetic pod events a second through the real PodWatcher into the console,
  in a child process (peak RSS is then the console's alone); the same console idle is the baseline.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .env import repo_root
from .fig_versions import first_render
from .plain_table import PlainTableApp, rows_like_versions
from .probe import ProbeConsole, settings
from .record import result, summary
from .versionfiles import VersionFiles

NAME = "scale"
FILES = 10_000
RENDER_TARGET_S = 0.5
KEY_TARGET_MS = 100.0
RSS_TARGET_MB = 250.0
RATE = 2000


async def _console_render(versions_dir: Path) -> tuple[float, float]:
    app = ProbeConsole(settings(None, None, versions_dir, watch_pods=False, probe_cluster=False))
    async with app.run_test(size=(160, 50)) as pilot:
        return await first_render(app, pilot, FILES, 120)


async def _plain_render(rows) -> float:
    app = PlainTableApp(rows)
    async with app.run_test(size=(160, 50)) as pilot:
        app.expect("first-render", app.holds(len(rows)))
        t0 = app.clock()
        await pilot.press("3")
        deadline = time.monotonic() + 120
        while "first-render" not in app.frame_seen and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return app.frame_seen["first-render"] - t0


def render_figure(rounds: int) -> dict:
    ours, complete, plain = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        versions_dir = Path(tmp) / "versions"
        VersionFiles(versions_dir).fill(FILES)
        rows = rows_like_versions(versions_dir)
        for _ in range(rounds):  # alternate, so load from elsewhere hits both sides alike
            rows_s, complete_s = asyncio.run(_console_render(versions_dir))
            ours.append(rows_s)
            complete.append(complete_s)
            plain.append(asyncio.run(_plain_render(rows)))
    value, base = statistics.median(ours), statistics.median(plain)
    detail = {"files": FILES, "krkn_tui_s": summary(ours, 1, 3), "plain_datatable_s": summary(plain, 1, 3),
              "krkn_tui_every_file_read_s": summary(complete, 1, 3),
              "measured": "press 3 -> first headless frame holding every row (krkn-tui: rows from the file "
                          "names, action and origin filled in once the files are read: "
                          "krkn_tui_every_file_read_s); the plain table gets ready-made strings"}
    return result("version_table_first_render_10000", value, "s", base, f"<= {RENDER_TARGET_S:g} s",
                  value <= RENDER_TARGET_S, detail)


def _child(seconds: float, idle: bool, presses: int = 30) -> dict:
    argv = [sys.executable, "-m", "bench.burst_child", "--rate", str(RATE), "--seconds", str(seconds),
            "--presses", str(presses)] + (["--idle"] if idle else [])
    proc = subprocess.run(argv, cwd=repo_root(), capture_output=True, text=True, timeout=seconds + 180)
    if proc.returncode != 0:
        raise RuntimeError(f"burst child failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def burst_figures(seconds: float) -> list[dict]:
    idle = _child(seconds, idle=True)
    burst = _child(seconds, idle=False)
    keys, keys_idle = burst["key_latencies_s"], idle["key_latencies_s"]
    common = {"rate_per_s": RATE, "seconds": seconds, "events_sent": burst["events_sent"],
              "achieved_rate_per_s": round(burst["events_sent"] / burst["send_seconds"], 1) if burst["send_seconds"] else None,
              "max_backlog_events": burst["max_backlog"]}
    key_p95 = percentile_ms(keys)
    key_rec = result("burst_key_latency_p95", key_p95, "ms p95", percentile_ms(keys_idle), f"<= {KEY_TARGET_MS:g} ms",
                     None, {**common, "krkn_tui_ms": summary(keys, 1000), "idle_console_ms": summary(keys_idle, 1000),
                            "missed": burst["key_missed"], "measured": "j in the pod table -> first frame with the cursor moved"})
    key_rec["ok"] = key_p95 is not None and key_p95 <= KEY_TARGET_MS and burst["key_missed"] == 0
    applied = result("burst_all_applied", 1.0 if burst["all_applied"] else 0.0, "fraction", None, "every event applied",
                     burst["all_applied"], {**common, "apply_lag_after_last_event_s": _round(burst["apply_lag_s"])})
    rss = result("burst_peak_rss", burst["peak_rss_mb"], "MB", idle["peak_rss_mb"], f"<= {RSS_TARGET_MB:g} MB",
                 burst["peak_rss_mb"] <= RSS_TARGET_MB, {**common, "baseline": "same console, idle, same presses",
                                                          "measured": "VmHWM (peak RSS) of the child process"})
    return [key_rec, applied, rss]


def percentile_ms(values: list[float]) -> float | None:
    return summary(values, 1000).get("p95")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run(env) -> list[dict]:
    return [render_figure(1 if env.quick else 3), *burst_figures(4 if env.quick else 10)]
