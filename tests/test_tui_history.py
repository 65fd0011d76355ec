"""The console's history view (6): the runs of the versions folder's reports, newest first, the
same cells `krkn-tui history` prints (one reading, report/history.py); read again when the view
is shown again, so a run reported meanwhile appears; an unreadable report is a row saying so."""

from __future__ import annotations

import json

from bench.fig_history import fake_report, fill
from krkn_tui.records import reports_dir
from krkn_tui.report.history import HEAD, cells, history
from krkn_tui.tui.widgets.virtual_table import VirtualTable
from tui_support import SIZE, cell, console, until

BARE = dict(watch_pods=False, probe_cluster=False)


async def open_history(pilot, app) -> VirtualTable:
    """Key 6, then the history view's table."""
    await pilot.press("6")
    await until(pilot, lambda: app.screen.id == "history", what="the history view")
    return app.screen.query_one(VirtualTable)


def shown(table: VirtualTable) -> list[list[str]]:
    return [[cell(table, key, c.key) for c in table.columns] for key in table.keys()]


async def test_the_history_view_lists_the_folders_runs_newest_first_and_follows_new_reports(tmp_path):
    versions = tmp_path / "versions"
    fill(versions, 3)
    app = console(tmp_path, versions_dir=versions, **BARE)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_history(pilot, app)
        assert [c.key for c in table.columns] == HEAD
        await until(pilot, lambda: table.row_count == 3, what="three runs")
        assert shown(table) == [cells(r) for r in history(versions)]
        assert "3 run(s) in" in str(app.screen.query_one("#history-summary").render())

        # a run reported while another view is shown, and a report that cannot be read
        await pilot.press("1")
        newer = fake_report(99)
        (reports_dir(versions) / f"{newer['run_id']}.json").write_text(json.dumps(newer))
        (reports_dir(versions) / "broken.json").write_text("{nope")
        await pilot.press("6")
        await until(pilot, lambda: table.row_count == 5, what="the new and the broken report")
        rows = shown(table)
        assert rows == [cells(r) for r in history(versions)]
        assert [r[1] for r in rows].count("unreadable") == 1 and rows[-1][-1].startswith("broken")


async def test_the_history_view_says_when_there_is_no_report(tmp_path):
    app = console(tmp_path, **BARE)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_history(pilot, app)
        assert "no run reports in" in str(app.screen.query_one("#history-summary").render())
        assert table.row_count == 0


async def test_a_long_history_shows_the_reports_names_first_then_every_report_read(tmp_path, monkeypatch):
    from krkn_tui.tui.screens import history as history_screen

    monkeypatch.setattr(history_screen, "READ_AT_ONCE", 2)
    versions = tmp_path / "versions"
    fill(versions, 5)
    app = console(tmp_path, versions_dir=versions, **BARE)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_history(pilot, app)
        summary = app.screen.query_one("#history-summary")
        await until(pilot, lambda: "5 run(s) in" in str(summary.render()), what="every report read")
        assert shown(table) == [cells(r) for r in history(versions)]


def test_rows_from_names_are_in_the_order_of_the_read_reports(tmp_path):
    from krkn_tui.report.history import READING, named, report_paths

    versions = tmp_path / "versions"
    fill(versions, 6)
    (reports_dir(versions) / "not-a-run-id.json").write_text("{}")
    rows = named(report_paths(versions))
    assert [r.status for r in rows] == [READING] * 7
    assert [r.run_id for r in rows][:6] == [r.run_id for r in history(versions) if r.status != "unreadable"]
    assert rows[-1].run_id == "not-a-run-id" and rows[-1].started is None  # no start in its name: last
    assert cells(rows[0])[1:] == [READING, "-", "-", "-", rows[0].run_id]
