"""Figure 2: version table sync, a file created / renamed .executed / deleted by another thread,
until the first frame that shows it, beside a bare watchfiles loop (own process, same folder,
the console's debounce and step) with 0, 1,000 and 10,000 files already in the folder."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

from krkn_tui.rollback.naming import pending_name
from krkn_tui.tui.screens import versions as versions_screen

from .folder_watch import BareWatch
from .probe import ProbeConsole, frame_showing, settings, table
from .record import result, summary
from .versionfiles import VersionFiles

NAME = "versions"
WAIT_S = 15.0
P95_TARGET_MS = 150.0
RATIO_TARGET = 1.3


def row_key(path: Path) -> str:
    """The table's key for an active step (stable across the .executed rename)."""
    return f"active/{path.parent.name}/{pending_name(path.name)}"


def cell_text(grid, key: str, column: str) -> str:
    return grid.cell(key, column).plain


def versions_table_holds(app, count: int, complete: bool = True):
    """A frame check: the versions view is up and shows ``count`` rows; ``complete``: from a
    listing that read every file (not only the rows made from file names)."""
    def check() -> bool:
        view = app.views.get("versions")
        return bool(view is not None and view.is_mounted and (view.listings if complete else view.partial_listings
                                                              or view.listings)
                    and table(app, "versions", "version-table").row_count == count)
    return check


async def first_render(app, pilot, count: int, timeout: float) -> tuple[float, float]:
    """Seconds from pressing `3` until the first frame showing all ``count`` rows, and until the
    first frame showing them with every file read."""
    app.expect("first-render", versions_table_holds(app, count, complete=False))
    app.expect("complete-render", versions_table_holds(app, count))
    t0 = app.clock()
    await pilot.press("3")
    await frame_showing(app, "complete-render", timeout, f"the version table never showed the {count} files")
    return app.frame_seen.pop("first-render") - t0, app.frame_seen.pop("complete-render") - t0


async def _measure(n_files: int, cycles: int, root: Path) -> dict:
    versions_dir = root / "versions"
    files = VersionFiles(versions_dir)
    files.fill(n_files)
    bare = BareWatch(versions_dir, versions_screen.DEBOUNCE_MS, versions_screen.STEP_MS).start()
    app = ProbeConsole(settings(None, None, versions_dir, watch_pods=False, probe_cluster=False))
    jitter = random.Random(2)
    samples = []
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            first, _complete = await first_render(app, pilot, n_files, 120)
            grid = table(app, "versions", "version-table")

            async def one(op: str, fs_op, bare_key, check) -> None:
                await asyncio.sleep(jitter.uniform(0, 0.05))
                app.expect(op, check)
                t0 = await asyncio.to_thread(fs_op)
                deadline = time.monotonic() + WAIT_S
                while time.monotonic() < deadline and not (op in app.frame_seen and bare_key in bare.seen):
                    await asyncio.sleep(0.002)
                app.frame_checks.pop(op, None)
                shown, seen = app.frame_seen.pop(op, None), bare.seen.get(bare_key)
                samples.append({"op": op, "krkn_tui": None if shown is None else shown - t0,
                                "bare": None if seen is None else seen - t0})

            def timed(fn):
                def run():
                    t0 = time.time()
                    fn()
                    return t0
                return run

            for _ in range(cycles):
                path = files.new_path()
                done = Path(str(path) + ".executed")
                key = row_key(path)
                await one("create", timed(lambda: files.write(path)), ("added", str(path)),
                          lambda: grid.record(key) is not None)
                await one("rename", timed(lambda: os.rename(path, done)), ("added", str(done)),
                          lambda: grid.record(key) is not None and cell_text(grid, key, "status") == "executed")
                await one("delete", timed(lambda: os.unlink(done)), ("deleted", str(done)),
                          lambda: grid.record(key) is None)
    finally:
        bare.stop()
    return {"samples": samples, "first_render_s": first}


def _record(n_files: int, measured: dict) -> dict:
    samples = measured["samples"]
    ours = [s["krkn_tui"] for s in samples if s["krkn_tui"] is not None]
    bare = [s["bare"] for s in samples if s["bare"] is not None]
    missing = sum(1 for s in samples if s["krkn_tui"] is None or s["bare"] is None)
    ours_s, bare_s = summary(ours, 1000), summary(bare, 1000)
    by_op = {op: {"krkn_tui_ms": summary([s["krkn_tui"] for s in samples if s["op"] == op and s["krkn_tui"] is not None], 1000),
                  "bare_ms": summary([s["bare"] for s in samples if s["op"] == op and s["bare"] is not None], 1000)}
             for op in ("create", "rename", "delete")}
    detail = {"files_in_folder": n_files, "krkn_tui_ms": ours_s, "bare_watchfiles_ms": bare_s, "by_op": by_op,
              "missing": missing, "first_render_s": round(measured["first_render_s"], 3),
              "watch_params": f"debounce {versions_screen.DEBOUNCE_MS} ms, step {versions_screen.STEP_MS} ms (both sides)"}
    target = f"p95 <= {RATIO_TARGET}x bare loop" + (f" and <= {P95_TARGET_MS:g} ms" if n_files >= 10_000 else "")
    rec = result(f"version_sync_{n_files}_files", ours_s.get("p95"), "ms p95", bare_s.get("p95"), target, None, detail)
    ok = rec["ratio"] is not None and rec["ratio"] <= RATIO_TARGET and missing == 0
    if n_files >= 10_000:
        ok = ok and rec["value"] <= P95_TARGET_MS
    rec["ok"] = ok
    return rec


def figure(n_files: int, cycles: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-versions-") as tmp:
        return _record(n_files, asyncio.run(_measure(n_files, cycles, Path(tmp))))


def run(env) -> list[dict]:
    plan = [(0, 5), (1_000, 4), (10_000, 2)] if env.quick else [(0, 20), (1_000, 20), (10_000, 15)]
    return [figure(n_files, cycles) for n_files, cycles in plan]
