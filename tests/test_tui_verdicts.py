"""The console's verdicts view (5) and the timeline's jump to pods (`p` in view 4), on plain data:
the verdicts come from krkn-tui's own monitor reading Prometheus's query API with fixed answers
(prometheus_support), and reach the console as a run's events do; the view shows exactly the
rows the report's verdict table has for the same record (one reading, report/verdicts.py)."""

from __future__ import annotations

import time

from krkn_tui import events as ev
from krkn_tui.report.model import decode
from krkn_tui.report.render import verdict_rows
from krkn_tui.tui.widgets.run_panel import RunPanel
from krkn_tui.tui.widgets.virtual_table import VirtualTable
from prometheus_support import T0, monitored_run, prometheus  # noqa: F401 (a fixture)
from tui_support import SIZE, cell, console, fixed_kubeconfig, fixed_pod_table, until

BARE = dict(watch_pods=False, probe_cluster=False)


def table_rows(table: VirtualTable) -> list[list[str]]:
    return [[cell(table, key, c.key) for c in table.columns] for key in table.keys()]


async def test_the_verdicts_view_shows_each_files_slos_alerts_cerberus_and_score(prometheus, tmp_path):
    said = monitored_run(prometheus, tmp_path)
    assert [type(e) for e in said] == [ev.ScenarioVerdicts, ev.ScenarioVerdicts, ev.RunVerdicts]
    app = console(tmp_path, **BARE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        summary = app.screen.query_one("#verdicts-summary")
        assert "no verdicts yet" in str(summary.render())
        app.engine_events.extend(said[:1])  # the first file's verdicts, mid-run
        await until(pilot, lambda: app.screen.query_one(VirtualTable).row_count > 0, what="the first file's rows")
        table = app.screen.query_one(VirtualTable)
        assert [r[1] for r in table_rows(table) if r[0] == "scenario file"] == ["scenarios/pods.yaml"]
        app.engine_events.extend(said[1:])
        await until(pilot, lambda: "whole run" in [r[0] for r in table_rows(table)], what="the run's rows")
        rows = table_rows(table)
        heads = [r for r in rows if r[0] in ("scenario file", "whole run")]
        assert [h[1] for h in heads] == ["scenarios/pods.yaml", "scenarios/scale.yaml", "the whole run"]
        clock = [time.strftime("%H:%M:%S", time.localtime(at)) for at in (T0, T0 + 20)]
        assert heads[0][2:] == ["score 25", f"2 of 5 SLOs passed · {clock[0]} → {clock[1]}"]  # 2 of 8 points kept
        by_what: dict = {}
        for r in rows:
            by_what.setdefault((r[0], r[1]), r[2:])  # the first file's, or the run's own
        # an SLO: its severity and weight, the verdict, the query and the highest sample with its labels
        assert by_what[("SLO critical ×3", "frontend answers errors")] == \
            ["FAILED", "in its window: frontend_errors > 0 → max 3 {app=frontend}"]
        assert by_what[("SLO warning ×2", "replicas missing")][0] == "FAILED"
        assert by_what[("SLO error ×1", "slo_3")] == ["passed", "in its window: nothing_here → no data"]
        assert by_what[("SLO warning ×1", "a query Prometheus refuses")][1].startswith(
            "in its window: broken( → query failed: HTTP 400")
        # the alert profile over the run: fired entries with their severity
        assert by_what[("alert critical", "frontend answers errors")][0] == "fails the run"
        assert by_what[("alert warning", "p99 above one second")][0] == "fired"  # any series fires (krkn's rule)
        assert by_what[("alert warning", "replicas missing")][0] == "skipped"  # krkn reads three keys exactly
        assert by_what[("critical alerts", 'ALERTS{severity="critical"} firing')][0] == "none"
        assert by_what[("cerberus", "go/no-go after pods.yaml")][0] == "go"
        assert by_what[("resiliency score", str(tmp_path / "alerts.yaml"))] == ["25", "2 of 5 SLOs passed over the run"]
        assert str(app.screen.query_one("#verdicts-summary").render()) == \
            "resiliency score 25 · 3 alert(s) fired · the run fails: alerts"
        # the same rows as the report's table for the same record: the console keeps no rule of its own
        record = said[-1].monitoring
        assert [r for r in rows if r[0] not in ("scenario file", "whole run")] == \
            [r for r in verdict_rows(decode({"run_id": "r1", "monitoring": record}, "report.json")) if r[0] != "scenario file"]
        # and the run panel says it in a line, pointing here
        await pilot.press("1")
        await pilot.pause()
        panel = app.views["picker"].query_one(RunPanel)
        assert any("verdicts: resiliency score 25" in line and "(view 5)" in line for line in panel.run_lines())
        # each file's verdicts in its block (no block here: the run's lines), what failed named
        [line] = [x for x in panel.run_lines() if x.startswith("verdicts after scale.yaml: ")]
        assert line.startswith("verdicts after scale.yaml: score 25 (2 of 5 SLOs passed); "
                               "SLO critical ×3 frontend answers errors: FAILED;") and line.endswith("(view 5)")


async def test_p_on_a_timeline_entry_opens_the_pods_it_touched(tmp_path, monkeypatch):
    from krkn_tui.timeline import TimelineEntry
    from krkn_tui.timeline_events import entry_for_event

    monkeypatch.setenv("HOME", str(tmp_path))
    app = console(tmp_path, kubeconfig=str(fixed_kubeconfig(tmp_path / "kubeconfig")), pod_table=fixed_pod_table(),
                  **BARE)
    change = ev.ClusterChange("delete_pod", "pod_disruption_scenarios",
                              {"namespace": "krkn-demo", "name": "frontend-6b4dd954fc-9254z"})
    app.timeline.extend([entry_for_event(ev.RunStarted(1, 1, "v"), at=T0),
                         entry_for_event(change, at=T0 + 1),
                         TimelineEntry(T0 + 2, "pod", "krkn-demo/backend-7f9c added", pods="krkn-demo/backend-7f9c"),
                         entry_for_event(ev.ClusterChange("cordon_node", "node_scenarios", {"node": "kwok-node-1"}),
                                         at=T0 + 3)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause()
        table = app.screen.query_one("#timeline-table", VirtualTable)
        assert [cell(table, k, "what") for k in table.keys()] == [
            "run started", "changed: delete_pod krkn-demo/frontend-6b4dd954fc-9254z",
            "krkn-demo/backend-7f9c added", "changed: cordon_node"]
        assert cell(table, table.keys()[1], "offset") == "+1.0s"
        table.focus()
        await pilot.press("p")  # the run's start touched no pod
        await pilot.pause()
        assert app.current_mode == "timeline"
        await pilot.press("j", "p")  # the killed pod
        await until(pilot, lambda: app.current_mode == "pods" and app.screen.filter_text, what="the pods view")
        assert app.screen.filter_text == "krkn-demo/frontend-6b4dd954fc-9254z"
        pods = app.screen.query_one("#pod-table", VirtualTable)
        assert pods.keys() == ["krkn-demo/frontend-6b4dd954fc-9254z"]
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("G", "p")  # a node's change: the node's pods
        await until(pilot, lambda: app.current_mode == "pods" and app.screen.filter_text == "kwok-node-1",
                    what="the node's pods")
        assert app.screen.query_one("#pod-table", VirtualTable).keys()  # the fixed table has pods there
