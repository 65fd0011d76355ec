"""Figure: the timeline and history views' first paint at 10,000 entries.

- ``timeline_view_first_paint_10000``: a console whose session timeline was given 10,000 entries
  (it keeps its first 5,000, as a long run does), press `4` -> the first frame holding every kept
  row;
- ``history_view_first_paint_10000``: 10,000 run reports shaped like the engine's
  (``fig_history.fake_report``, ~16 KB each) beside the versions folder, press `6` -> the first
  frame holding a row per report.

Both run headless in this process, alternated with their baseline round by round; the wall time
and the process's CPU time over the same window (``detail.cpu_s``: what a loaded machine does not
inflate) are reported. Baseline: the same rows as ready strings in a plain DataTable (the widget's
own cost, no reading and no formatting).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from krkn_tui.report.history import HEAD, cells, history
from krkn_tui.timeline import MAX_ENTRIES, TimelineEntry
from krkn_tui.tui.rows import local_time
from krkn_tui.tui.screens.timeline import COLUMNS as TIMELINE_COLUMNS

from .fig_history import fill
from .plain_table import PlainTableApp
from .probe import ProbeConsole, frame_showing, settings, table
from .record import result, summary

NAME = "views"
ENTRIES = 10_000
TARGET_S = 0.3
LANES = ("scenario", "pod", "check", "rollback")


def timeline_entries(n: int, start: float = 1_790_000_000.0) -> list[TimelineEntry]:
    """``n`` entries of a long run, every lane, some failures, added out of time order."""
    return [TimelineEntry(start + ((i * 7919) % n) / 10, LANES[i % 4],
                          f"bench-scale-{i % 100:02d}/scale-{i:06d} changed: Running, 1/1 ready, {i % 5} restarts",
                          ("info", "good", "bad")[i % 3], pods=f"bench-scale-{i % 100:02d}/scale-{i:06d}")
            for i in range(n)]


async def _paint(app, pilot, key: str, holds, timeout: float = 300) -> tuple[float, float]:
    """Wall and CPU seconds from pressing ``key`` to the first frame after which ``holds()``."""
    app.expect("paint", holds)
    t0, c0 = app.clock(), time.process_time()
    await pilot.press(key)
    await frame_showing(app, "paint", timeout, f"the view of key {key} never showed its rows")
    return app.frame_seen.pop("paint") - t0, app.frame_cpu.pop("paint") - c0


def _view_holds(app, view: str, table_id: str, rows: int):
    def check() -> bool:
        screen = app.views.get(view)
        return screen is not None and screen.is_mounted and app.screen is screen \
            and table(app, view, table_id).row_count == rows
    return check


async def _console(versions: Path, key: str, view: str, table_id: str, rows: int,
                   entries: list[TimelineEntry] = ()) -> tuple[float, float]:
    app = ProbeConsole(settings(None, None, versions, watch_pods=False, probe_cluster=False))
    app.timeline.extend(entries)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        return await _paint(app, pilot, key, _view_holds(app, view, table_id, rows))


async def _plain(rows: list[tuple[str, ...]], columns: list[str]) -> tuple[float, float]:
    app = PlainTableApp(rows, columns)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        return await _paint(app, pilot, "3", app.holds(len(rows)))


def _figure(name: str, ours: list[tuple[float, float]], plain: list[tuple[float, float]], detail: dict) -> dict:
    wall, cpu = [w for w, _ in ours], [c for _, c in ours]
    value, base = statistics.median(wall), statistics.median([w for w, _ in plain])
    detail = {**detail, "krkn_tui_s": summary(wall, 1, 3), "cpu_s": summary(cpu, 1, 3),
              "plain_datatable_s": summary([w for w, _ in plain], 1, 3),
              "plain_datatable_cpu_s": summary([c for _, c in plain], 1, 3),
              "measured": "key -> first headless frame holding every row; cpu_s: the process's CPU time "
                          "over the same window"}
    return result(name, value, "s", base, f"< {TARGET_S:g} s", value < TARGET_S, detail)


def timeline_figure(rounds: int, n: int = ENTRIES) -> dict:
    entries = timeline_entries(n)
    kept = sorted(entries[:MAX_ENTRIES], key=lambda e: e.at)
    origin = kept[0].at
    rows = [(local_time(e.at, with_date=False), f"+{e.at - origin:.1f}s", e.lane, e.text) for e in kept]
    ours, plain = [], []
    with tempfile.TemporaryDirectory(prefix="bench-timeline-") as tmp:
        for _ in range(rounds):
            ours.append(asyncio.run(_console(Path(tmp) / "versions", "4", "timeline", "timeline-table",
                                             len(kept), entries)))
            plain.append(asyncio.run(_plain(rows, [c.key for c in TIMELINE_COLUMNS])))
    return _figure(f"timeline_view_first_paint_{n}", ours, plain, {"entries": n, "kept": len(kept)})


def history_figure(rounds: int, n: int = ENTRIES) -> dict:
    ours, plain = [], []
    with tempfile.TemporaryDirectory(prefix="bench-history-view-") as tmp:
        versions = Path(tmp) / "versions"
        fill(versions, n)
        rows = [tuple(cells(r)) for r in history(versions)]
        for _ in range(rounds):
            ours.append(asyncio.run(_console(versions, "6", "history", "history-table", n)))
            plain.append(asyncio.run(_plain(rows, HEAD)))
    return _figure(f"history_view_first_paint_{n}", ours, plain, {"reports": n})


def run(env) -> list[dict]:
    rounds = 1 if env.quick else 3
    return [timeline_figure(rounds), history_figure(rounds)]
