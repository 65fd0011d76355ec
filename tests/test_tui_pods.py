"""The live pod view on the local cluster, and what the console shows when the cluster is away."""

from __future__ import annotations

import pytest
from kubernetes import client

from tui_support import SIZE, cell, console, keys, until


def make_pod(core, namespace: str, name: str, app: str = "web") -> None:
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": app}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")],
                              termination_grace_period_seconds=0)))


def log_lines(app) -> list[str]:
    return list(app.views["pods"].query_one("#pod-events").lines)


@pytest.mark.cluster
async def test_pod_rows_appear_update_and_vanish_live_with_the_cursor_on_its_pod(tmp_path, kubeconfig, namespace,
                                                                                api_client):
    core = client.CoreV1Api(api_client)
    app = console(tmp_path, kubeconfig=kubeconfig, namespace=namespace, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#pod-table")
        await until(pilot, lambda: app.watch_state == "connected", what="watch connected")

        make_pod(core, namespace, "pod-b")
        b = f"{namespace}/pod-b"
        await until(pilot, lambda: b in keys(table) and cell(table, b, "phase") == "Running", what="pod-b running")
        assert cell(table, b, "ready") == "1/1" and cell(table, b, "node") != "-"
        # the log is drawn a frame after the rows
        await until(pilot, lambda: any("ADDED" in line and b in line for line in log_lines(app)), what="ADDED logged")

        # a pod that sorts above: the cursor stays on pod-b, not on its old index
        make_pod(core, namespace, "pod-a")
        a = f"{namespace}/pod-a"
        await until(pilot, lambda: a in keys(table), what="pod-a row")
        assert keys(table) == [a, b]
        assert table.current_key == b

        core.delete_namespaced_pod("pod-b", namespace, grace_period_seconds=0)
        await until(pilot, lambda: b not in keys(table), what="pod-b gone")
        assert keys(table) == [a] and table.current_key == a
        await until(pilot, lambda: any("DELETED" in line and b in line for line in log_lines(app)),
                    what="DELETED logged")
        status = str(app.screen.query_one("#pods-status").render())
        assert status.startswith("1 pods in namespace " + namespace) and "connected" in status


@pytest.mark.cluster
async def test_a_label_selector_typed_after_slash_narrows_the_watch_on_the_server(tmp_path, kubeconfig, namespace,
                                                                              api_client):
    core = client.CoreV1Api(api_client)
    make_pod(core, namespace, "web-1")
    make_pod(core, namespace, "db-1", app="db")
    app = console(tmp_path, kubeconfig=kubeconfig, namespace=namespace, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#pod-table")
        web, db = f"{namespace}/web-1", f"{namespace}/db-1"
        await until(pilot, lambda: keys(table) == [db, web], what="both pods")
        first_watcher = app.pod_watcher
        await pilot.press("slash", *"-l app=web", "enter")
        await until(pilot, lambda: app.pod_watcher is not first_watcher and keys(table) == [web]
                    and app.watch_state == "connected", what="only the web pod")
        assert app.pod_watcher.source.label_selector == "app=web"
        assert "labels app=web (server-side)" in str(app.screen.query_one("#pods-status").render())
        make_pod(core, namespace, "db-2", app="db")  # never reaches the narrowed watch
        make_pod(core, namespace, "web-2")
        await until(pilot, lambda: f"{namespace}/web-2" in keys(table), what="web-2")
        assert f"{namespace}/db-2" not in app.pod_table.rows
        await pilot.press("escape")
        await until(pilot, lambda: len(keys(table)) == 4, what="every pod again")
        assert app.pod_watcher.source.label_selector is None


async def test_an_unreachable_cluster_is_reported_and_the_console_keeps_running(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: gone, cluster: {server: 'https://127.0.0.1:9', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: me, user: {token: x}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: me}}]\n")
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.watch_state.startswith("reconnecting: "), what="reconnecting")
        await until(pilot, lambda: app.server_version.startswith("unreachable: "), what="probe result")
        assert "refused" in app.watch_state and "refused" in app.server_version
        header = str(app.screen.query_one("#header").render())
        assert "reconnecting: connection refused" in header and "https://127.0.0.1:9" in header
        await pilot.press("2")
        assert "reconnecting" in str(app.screen.query_one("#pods-status").render())


async def test_a_missing_kubeconfig_is_reported_in_the_header(tmp_path):
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "nope"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        header = str(app.screen.query_one("#header").render())
        assert "no cluster: " in header and "kubeconfig not found" in header
        assert app.watch_state.startswith("cannot watch")
        await pilot.press("2", "3", "1")
        assert app.current_mode == "picker"


async def test_a_burst_of_events_ends_in_the_right_rows_with_the_log_capped(tmp_path):
    from krkn_tui.kube.podmodel import ADDED, DELETED, MODIFIED, SYNC, BufferedEvent
    from krkn_tui.kube.podwatch import PodWatcher

    def pod(i, phase="Running"):
        return {"metadata": {"name": f"p{i:04d}", "namespace": "burst"},
                "spec": {"nodeName": f"n{i % 3}", "containers": [{"name": "c"}]},
                "status": {"phase": phase, "containerStatuses": [{"ready": phase == "Running"}]}}

    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#pod-table")
        watcher = PodWatcher(source=None)  # never started: the test is the producer
        app.pod_watcher = watcher
        events = [BufferedEvent(SYNC, [], 0.0)]
        events += [BufferedEvent(ADDED, pod(i, "Pending"), 1.0) for i in range(1000)]
        events += [BufferedEvent(MODIFIED, pod(i), 2.0) for i in range(1000)]
        events += [BufferedEvent(DELETED, pod(i), 3.0) for i in range(0, 1000, 2)]
        watcher.buffer.extend(events)
        await until(pilot, lambda: not watcher.buffer and table.row_count == 500, what="burst applied")
        assert keys(table)[:2] == ["burst/p0001", "burst/p0003"]
        assert {cell(table, k, "phase") for k in keys(table)} == {"Running"}
        lines = app.screen.query_one("#pod-events").lines
        assert len(lines) == 1000 and "DELETED  burst/p0998" in lines[-1]

        # `/` narrows the rows as the text grows; esc shows them all again
        await pilot.press("slash", "p", "0", "0", "0")
        await until(pilot, lambda: table.row_count == 5, what="filtered rows")
        assert keys(table) == [f"burst/p000{i}" for i in (1, 3, 5, 7, 9)]
        assert "filter 'p000': 5 shown" in str(app.screen.query_one("#pods-status").render())
        await pilot.press("enter", "escape")
        await until(pilot, lambda: table.row_count == 500, what="filter cleared")


async def test_the_event_log_keeps_up_under_steady_churn(tmp_path, monkeypatch):
    """A lone change's log lines wait one frame for the next change's rows, but not for a calm:
    under steady churn the watcher's buffer is never empty when the log's turn comes."""
    from krkn_tui.kube.podmodel import ADDED, SYNC, BufferedEvent
    from krkn_tui.kube.podwatch import PodWatcher

    def added(i):
        return BufferedEvent(ADDED, {"metadata": {"name": f"p{i:02d}", "namespace": "churn"},
                                     "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}}, 1.0)

    monkeypatch.setattr("krkn_tui.tui.app.DRAIN_SECONDS", 3600)  # only this test drains: the order is its own
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        watcher = PodWatcher(source=None)  # never started: the test is the producer
        app.pod_watcher = watcher
        watcher.buffer.append(BufferedEvent(SYNC, [], 0.0))
        app.drain()
        for i in range(20):
            watcher.buffer.append(added(i))
            app.drain()
            watcher.buffer.append(added(i + 1))  # the next change is already waiting at the frame
            await pilot.pause()
            watcher.buffer.clear()
            logged = len(app.screen.query_one("#pod-events").lines) - 1  # after the SYNC line
            assert logged >= i, f"change {i}: the log holds {logged} changes"


async def test_an_age_tick_draws_only_the_rows_whose_age_text_moved(tmp_path, monkeypatch):
    """kubectl's ages: seconds under two minutes, then minutes, days: each tick redraws the
    lines whose text changed, not the whole table."""
    from datetime import datetime, timezone

    from krkn_tui.kube.podmodel import SYNC, BufferedEvent
    from krkn_tui.kube.podwatch import PodWatcher

    monkeypatch.setattr("krkn_tui.tui.screens.pods.AGE_REFRESH_SECONDS", 3600)  # the test ticks
    now = [1_800_000_000.0]

    def pod(name, age):
        created = datetime.fromtimestamp(now[0] - age, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"metadata": {"name": name, "namespace": "ages", "creationTimestamp": created},
                "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}}

    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False,
                  clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        view, table = app.screen, app.screen.query_one("#pod-table")
        app.pod_watcher = PodWatcher(source=None)
        app.pod_watcher.buffer.append(BufferedEvent(SYNC, [pod("a-young", 30), pod("b-mid", 900),
                                                           pod("c-old", 3 * 86400)], 0.0))
        app.drain()
        await pilot.pause()
        assert [cell(table, f"ages/{n}", "age") for n in ("a-young", "b-mid", "c-old")] == ["30s", "15m", "3d"]
        drawn = []
        original = table.render_line
        table.render_line = lambda y: drawn.append(y) or original(y)

        now[0] += 1
        view.refresh_ages()
        await pilot.pause()
        assert drawn == [1]  # a-young's line alone
        assert cell(table, "ages/a-young", "age") == "31s"
        drawn.clear()
        now[0] += 60
        view.refresh_ages()
        await pilot.pause()
        assert sorted(drawn) == [1, 2]
        assert [cell(table, f"ages/{n}", "age") for n in ("a-young", "b-mid", "c-old")] == ["91s", "16m", "3d"]


async def test_a_deletions_start_waits_for_its_end_and_both_take_one_frame(tmp_path, monkeypatch):
    """Kubernetes sends a delete as a MODIFIED (deletionTimestamp) then the DELETED: the start is
    held back until the DELETED wakes the console (or WAKE_DELAY_SECONDS pass), so the row goes
    in one frame instead of turning Terminating in one and going in a later one."""
    from krkn_tui.kube.podmodel import ADDED, DELETED, MODIFIED, SYNC, pod_row
    from krkn_tui.kube.podwatch import PodWatcher

    # nothing drains but a wake: the timers are out of the way
    monkeypatch.setattr("krkn_tui.tui.app.DRAIN_SECONDS", 3600)
    monkeypatch.setattr("krkn_tui.tui.app.WAKE_DELAY_SECONDS", 3600)

    def pod(deleting=False):
        meta = {"name": "p", "namespace": "del"}
        if deleting:
            meta["deletionTimestamp"] = "2026-12-06T00:00:00Z"
        return pod_row({"metadata": meta, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}})

    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#pod-table")
        watcher = app.pod_watcher = PodWatcher(source=None, on_wake=lambda: app.post_message(app.PodsPending()))
        watcher._push(SYNC, [])
        watcher._push(ADDED, pod())
        await until(pilot, lambda: keys(table) == ["del/p"], what="the row")
        watcher._push(MODIFIED, pod(deleting=True))
        await pilot.pause(0.2)
        assert watcher.buffer and cell(table, "del/p", "phase") == "Running"  # held for its end
        watcher._push(DELETED, pod(deleting=True))
        await until(pilot, lambda: keys(table) == [], what="the row gone")
        assert not watcher.buffer
