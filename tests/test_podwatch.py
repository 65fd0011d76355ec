"""PodWatcher and PodTable: pure logic on plain dicts, then the real watch on the local cluster."""

from __future__ import annotations

import threading
import uuid

import pytest

from krkn_tui.kube.podmodel import (
    ADDED, DELETED, MODIFIED, SYNC, BufferedEvent, LogEntry, PodTable, human_age, pod_row,
)
from krkn_tui.kube.podstream import Gone, KubePodSource, split_lines
from krkn_tui.kube.podwatch import PodWatcher
from krkn_tui.timeline import pod_entry
from kubehelpers import wait_for


def pod(name, ns="demo", phase="Running", ready=True, restarts=0, node="n1", rv="1", deleting=False):
    meta = {"name": name, "namespace": ns, "resourceVersion": rv, "creationTimestamp": "2024-05-01T12:00:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T12:05:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "c"}]},
        "status": {"phase": phase, "containerStatuses": [{"ready": ready, "restartCount": restarts}]},
    }


def ev(kind, payload, t=0.0):
    return BufferedEvent(kind, payload, t)


# -- pure: rows, ages, lines ------------------------------------------------------------------


def test_pod_row_reads_phase_ready_restarts_node_and_creation():
    row = pod_row(pod("a", restarts=2, node="kwok-1"))
    assert (row.key, row.phase, row.ready, row.restarts, row.node) == ("demo/a", "Running", "1/1", 2, "kwok-1")
    assert row.created == 1714564800.0


def test_pod_row_shows_terminating_and_unready_like_kubectl():
    assert pod_row(pod("a", deleting=True)).phase == "Terminating"
    assert pod_row(pod("a", ready=False)).ready == "0/1"
    assert pod_row({"metadata": {"name": "x", "namespace": "n"}}).phase == "Pending"


@pytest.mark.parametrize("seconds,text", [
    (None, "-"), (-3, "0s"), (45, "45s"), (192, "3m12s"), (17 * 60, "17m"), (5 * 3600 + 180, "5h3m"),
    (30 * 3600, "30h"), (3 * 86400 + 4 * 3600, "3d4h"), (12 * 86400, "12d"),
])
def test_human_age_matches_kubectl_style(seconds, text):
    assert human_age(seconds) == text


def test_split_lines_joins_lines_across_chunks_and_skips_blanks():
    chunks = [b'{"a":', b'1}\n\n{"b"', b':2}\n{"c":3}']
    assert list(split_lines(chunks)) == ['{"a":1}', '{"b":2}', '{"c":3}']


# -- pure: the table model --------------------------------------------------------------------


def test_table_first_sync_fills_rows_and_logs_one_line():
    table = PodTable()
    changes = table.apply([ev(SYNC, [pod("a"), pod("b")], t=5.0)])
    assert changes.added == {"demo/a", "demo/b"} and not changes.changed and not changes.removed
    assert [(e.kind, e.key) for e in table.log] == [(SYNC, "2 pods")]


def test_table_batch_keeps_latest_state_and_reports_only_net_changes():
    table = PodTable()
    table.apply([ev(SYNC, [pod("a"), pod("b")])])
    changes = table.apply([
        ev(MODIFIED, pod("a", ready=False)),
        ev(MODIFIED, pod("a", ready=True, restarts=1)),
        ev(ADDED, pod("c")),
        ev(DELETED, pod("c")),  # born and gone within one batch: no row work at all
        ev(DELETED, pod("b")),
    ])
    assert changes.changed == {"demo/a"} and changes.removed == {"demo/b"} and not changes.added
    assert table.rows["demo/a"].restarts == 1 and table.rows["demo/a"].ready == "1/1"
    assert [(e.kind, e.key) for e in changes.log] == [
        (MODIFIED, "demo/a"), (MODIFIED, "demo/a"), (ADDED, "demo/c"), (DELETED, "demo/c"), (DELETED, "demo/b")]
    assert "ready 1/1 → 0/1" in changes.log[0].detail
    assert changes.log[1].detail == "ready 0/1 → 1/1, restarts 0 → 1"


def test_table_ignores_heartbeats_that_change_nothing_shown():
    table = PodTable()
    table.apply([ev(SYNC, [pod("a", rv="1")])])
    changes = table.apply([ev(MODIFIED, pod("a", rv="2"))])
    assert not changes


def test_table_relist_logs_what_happened_while_away():
    table = PodTable()
    table.apply([ev(SYNC, [pod("a"), pod("b")])])
    changes = table.apply([ev(SYNC, [pod("b", phase="Failed"), pod("c")], t=9.0)])
    assert (changes.added, changes.changed, changes.removed) == ({"demo/c"}, {"demo/b"}, {"demo/a"})
    assert [(e.kind, e.key) for e in changes.log] == [
        (DELETED, "demo/a"), (MODIFIED, "demo/b"), (ADDED, "demo/c"), (SYNC, "2 pods")]


def test_a_pod_entry_tone_comes_from_the_rows_not_the_text():
    # Two containers: "1/2 → 2/2" never said "→ 1/1", yet the pod has just become ready.
    def two(ready=True, restarts=0, deleting=False):
        p = pod("w", deleting=deleting)
        p["spec"]["containers"].append({"name": "b"})
        p["status"]["containerStatuses"] = [{"ready": True, "restartCount": restarts}, {"ready": ready}]
        return p

    table = PodTable()
    table.apply([ev(SYNC, [])])
    log = table.apply([ev(ADDED, two(ready=False)), ev(MODIFIED, two(ready=True)), ev(MODIFIED, two(restarts=1)),
                       ev(MODIFIED, two(deleting=True)), ev(DELETED, two(deleting=True))]).log
    assert [pod_entry(e).tone for e in log] == ["info", "good", "info", "bad", "bad"]
    assert pod_entry(log[1]).text == "demo/w changed: ready 1/2 → 2/2"
    # A note from outside the watch (a check) carries no row: info; the list marker is no entry.
    assert pod_entry(LogEntry(1.0, "CHECK", "web", "failing → 1/1")).tone == "info"
    assert pod_entry(table.apply([ev(SYNC, [])]).log[-1]) is None


def test_table_log_is_capped():
    table = PodTable(log_limit=5)
    table.apply([ev(ADDED, pod(f"p{i}")) for i in range(12)])
    assert len(table.log) == 5 and table.log[-1].key == "demo/p11"


# -- pure: the watcher loop against a fake API ------------------------------------------------


class FakeStream:
    def __init__(self, events, on_end=None):
        self.events, self.on_end, self.closed = events, on_end, False

    def __iter__(self):
        for e in self.events:
            if isinstance(e, Exception):
                raise e
            yield e
        if self.on_end:
            self.on_end()

    def close(self):
        self.closed = True


class FakeSource:
    """Scripted answers: each call pops the next item (an exception is raised)."""

    def __init__(self, lists, watches, when_done):
        self.lists, self.watches, self.when_done = list(lists), list(watches), when_done
        self.watch_versions = []

    def list(self):
        item = self.lists.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def watch(self, resource_version, timeout_seconds):
        self.watch_versions.append(resource_version)
        if not self.watches:
            self.when_done()
            return FakeStream([])
        item = self.watches.pop(0)
        if isinstance(item, Exception):
            raise item
        return FakeStream(item)


def run_watcher(source_factory, **kwargs):
    states = []
    holder = {}
    source = source_factory(lambda: holder["w"]._stop_event.set())
    watcher = PodWatcher(source, on_state=states.append, backoff=(0.001, 0.004), **kwargs)
    holder["w"] = watcher
    watcher.start()
    watcher.join(10)
    assert not watcher.is_alive()
    return watcher, source, states


def test_watcher_lists_then_watches_from_the_list_version_and_follows_bookmarks():
    watcher, source, states = run_watcher(lambda done: FakeSource(
        lists=[([pod("a")], "10")],
        watches=[
            [{"type": "ADDED", "object": pod("b", rv="11")},
             {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}}],
            # a second request after the server-side timeout resumes from the bookmark
            [{"type": "DELETED", "object": pod("a", rv="16")}],
        ],
        when_done=done))
    assert source.watch_versions[:2] == ["10", "15"]
    assert [e.kind for e in watcher.drain()] == [SYNC, ADDED, DELETED]
    assert states[0] == "connected" and states[-1] == "stopped"


def test_watcher_relists_on_410_gone_and_resumes_from_the_new_version():
    watcher, source, states = run_watcher(lambda done: FakeSource(
        lists=[([pod("a")], "10"), ([pod("b")], "50")],
        watches=[[{"type": "ADDED", "object": pod("c", rv="11")}, Gone("too old")],
                 [{"type": "MODIFIED", "object": pod("b", rv="51")}]],
        when_done=done))
    assert source.watch_versions[:2] == ["10", "50"]
    assert [e.kind for e in watcher.drain()] == [SYNC, ADDED, SYNC, MODIFIED]
    assert "relisting" in states


def test_watcher_reconnects_with_backoff_and_resumes_without_relisting():
    refused = ConnectionRefusedError("[Errno 111] Connection refused")
    watcher, source, states = run_watcher(lambda done: FakeSource(
        lists=[refused, ([pod("a")], "10")],
        watches=[[{"type": "ADDED", "object": pod("b", rv="11")}, refused], refused,
                 [{"type": "DELETED", "object": pod("b", rv="12")}]],
        when_done=done))
    # after the dropped stream, the watch resumes where it was: no second list
    assert source.watch_versions[:3] == ["10", "11", "11"]
    assert [e.kind for e in watcher.drain()] == [SYNC, ADDED, DELETED]
    assert "reconnecting: connection refused" in states
    assert states.index("reconnecting: connection refused") < states.index("connected")


def test_watcher_stop_interrupts_a_blocked_stream():
    release = threading.Event()

    class BlockingStream:
        def __iter__(self):
            release.wait(10)
            return iter(())

        def close(self):
            release.set()

    class Source:
        def list(self):
            return [], "1"

        def watch(self, rv, timeout):
            return BlockingStream()

    watcher = PodWatcher(Source())
    watcher.start()
    wait_for(lambda: watcher.state == "connected", 5, 0.01, "connected")
    watcher.stop(timeout=5)
    assert not watcher.is_alive() and watcher.state == "stopped"


def test_watcher_waits_for_the_consumer_when_the_buffer_is_full():
    class Source:
        def list(self):
            return [], "1"

        def watch(self, rv, timeout):
            return FakeStream([{"type": "ADDED", "object": pod(f"p{i}", rv=str(i + 2))} for i in range(10)])

    watcher = PodWatcher(Source(), max_pending=3)
    watcher.start()
    wait_for(lambda: len(watcher.buffer) == 3, 5, 0.01, "buffer full")
    assert len(watcher.buffer) == 3  # the producer is held back, nothing is dropped
    got = []
    wait_for(lambda: got.extend(watcher.drain()) or len(got) >= 11, 5, 0.01, "all events")
    watcher.stop()
    assert [e.payload.name for e in got if e.kind == ADDED][:10] == [f"p{i}" for i in range(10)]


def test_watcher_wakes_the_consumer_once_per_drain():
    step = threading.Event()
    stepped = threading.Event()

    class Stream(FakeStream):
        def __iter__(self):
            for e in self.events:
                step.wait(5)
                step.clear()
                yield e
                stepped.set()

        def close(self):
            self.closed = True
            step.set()

    class Source:
        def list(self):
            return [], "1"

        def watch(self, rv, timeout):
            return Stream([{"type": "ADDED", "object": pod(f"p{i}", rv=str(i + 2))} for i in range(3)])

    wakes = []
    watcher = PodWatcher(Source(), on_wake=lambda: wakes.append(len(watcher.buffer)))
    watcher.start()
    wait_for(lambda: wakes, 5, 0.01, "the list's wake")
    assert wakes == [1]  # the SYNC: the buffer went from empty to one event

    def one_event():
        stepped.clear()
        step.set()
        assert stepped.wait(5)

    one_event()
    assert wakes == [1]  # not drained since: no second wake
    assert [e.kind for e in watcher.drain()] == [SYNC, ADDED]
    one_event()
    one_event()
    assert wakes == [1, 1]  # the first event after the drain wakes, the next does not
    watcher.stop()


def test_a_deletions_end_wakes_the_consumer_within_a_batch():
    """The consumer may hold a deletion's start back for its DELETED: that DELETED wakes it,
    though events since the last drain do not."""
    wakes = []
    watcher = PodWatcher(source=None, on_wake=lambda: wakes.append([e.kind for e in watcher.buffer]))
    watcher._push(MODIFIED, pod_row(pod("a", deleting=True)))
    watcher._push(MODIFIED, pod_row(pod("b")))  # not drained since: no wake
    watcher._push(DELETED, pod_row(pod("b")))  # after a plain change: no wake
    assert wakes == [[MODIFIED]]
    watcher.drain()
    watcher._push(MODIFIED, pod_row(pod("a", deleting=True)))
    watcher._push(DELETED, pod_row(pod("a", deleting=True)))
    assert wakes == [[MODIFIED], [MODIFIED], [MODIFIED, DELETED]]


def test_the_newest_change_names_a_deletion_start_apart_from_other_changes():
    from krkn_tui.kube.podwatch import DELETING

    watcher = PodWatcher(source=None)
    assert watcher.newest_change() is None  # empty
    watcher.buffer.append(ev(MODIFIED, pod_row(pod("a", deleting=True))))
    assert watcher.newest_change() == DELETING
    watcher.buffer.append(ev(DELETED, pod_row(pod("a", deleting=True))))
    assert watcher.newest_change() == DELETED  # its DELETED came: one drain takes both
    watcher.buffer.append(ev(MODIFIED, pod_row(pod("b"))))
    assert watcher.newest_change() == MODIFIED
    watcher.buffer.append(ev(ADDED, pod_row(pod("c", deleting=True))))
    assert watcher.newest_change() == ADDED


# -- on the local cluster ---------------------------------------------------------------------


@pytest.mark.cluster
def test_watcher_sees_a_pod_created_and_deleted(api_client, namespace):
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    table = PodTable()
    # a 2-second server-side timeout: the loop re-opens the watch several times during the test
    watcher = PodWatcher(KubePodSource(lambda: api_client, namespace), timeout_seconds=2)
    watcher.start()
    try:
        wait_for(lambda: watcher.state == "connected", 30, what="watch connected")
        name = f"p-{uuid.uuid4().hex[:6]}"
        core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")],
                                  termination_grace_period_seconds=0)))
        key = f"{namespace}/{name}"

        def row_running():
            table.apply(watcher.drain())
            row = table.rows.get(key)
            return row is not None and row.phase == "Running" and row.ready == "1/1" and row.node

        wait_for(row_running, 60, what="pod running in the table")
        watcher_timeouts_survived = watcher.resource_version
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)

        def row_gone():
            table.apply(watcher.drain())
            return key not in table.rows

        wait_for(row_gone, 60, what="pod gone from the table")
        kinds = [e.kind for e in table.log if e.key == key]
        assert kinds[0] == ADDED and kinds[-1] == DELETED
        assert watcher_timeouts_survived and watcher.state == "connected"
    finally:
        watcher.stop()
    assert watcher.state == "stopped"


def test_watcher_reports_an_unreachable_server_and_keeps_trying():
    from kubernetes import client

    def unreachable():
        cfg = client.Configuration()
        cfg.host = "https://127.0.0.1:9"  # discard port: nothing listens
        cfg.retries = 0
        return client.ApiClient(cfg)

    states = []
    watcher = PodWatcher(KubePodSource(unreachable, connect_timeout=1), on_state=states.append,
                         backoff=(0.01, 0.02))
    watcher.start()
    try:
        wait_for(lambda: len([s for s in states if s.startswith("reconnecting")]) >= 1 and watcher.is_alive(),
                 20, 0.05, "reconnecting state")
    finally:
        watcher.stop()
    assert states[0].startswith("reconnecting: ") and "refused" in states[0]
    assert watcher.state == "stopped"


@pytest.mark.cluster
def test_stop_ends_a_long_watch_without_waiting_for_its_server_timeout(api_client, namespace):
    watcher = PodWatcher(KubePodSource(lambda: api_client, namespace), timeout_seconds=600)
    watcher.start()
    wait_for(lambda: watcher.state == "connected", 30, what="watch connected")
    watcher.stop(timeout=10)  # draining the body instead would block for the 600 s timeout
    assert not watcher.is_alive() and watcher.state == "stopped"


def _pods(core, namespace, names_and_apps):
    from kubernetes import client

    for name, app in names_and_apps:
        core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": app}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="registry.k8s.io/pause:3.10")],
                                  termination_grace_period_seconds=0)))


@pytest.mark.cluster
def test_list_reads_every_page_and_a_label_selector_narrows_list_and_watch_on_the_server(api_client, namespace):
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    _pods(core, namespace, [(f"a{i}", "a") for i in range(5)] + [(f"b{i}", "b") for i in range(2)])
    calls = []
    paged = KubePodSource(lambda: api_client, namespace, page=3, consistent=True)
    original = paged.request  # each GET, watched
    paged.request = lambda **kw: calls.append(kw) or original(**kw)
    rows, version = paged.list()
    names = [*(f"a{i}" for i in range(5)), "b0", "b1"]
    assert sorted(r.name for r in rows) == names and version
    assert [c.get("limit") for c in calls] == [3, 3, 3] and "_continue" in calls[1]  # three pages
    # read as kubectl reads (no resourceVersion); the next pages by their continue token, each
    # read from the head of the page before it
    assert [c.get("resource_version") for c in calls] == [None, None, None]
    assert calls[1]["_continue"] != calls[2]["_continue"]

    calls.clear()
    cached = KubePodSource(lambda: api_client, namespace, page=3)  # the console's: the watch cache
    cached_request = cached.request
    cached.request = lambda **kw: calls.append(kw) or cached_request(**kw)
    rows, version = cached.list()
    assert sorted(r.name for r in rows) == names and version
    assert [c.get("resource_version") for c in calls] == ["0"]  # whole, in one answer
    assert all(isinstance(r.key, str) and r.key == f"{namespace}/{r.name}" for r in rows)

    only_b = KubePodSource(lambda: api_client, namespace, label_selector="app=b")
    rows, version = only_b.list()
    assert sorted(r.name for r in rows) == ["b0", "b1"]

    # the watch carries the selector too: a new pod of app=a never reaches this watcher
    watcher = PodWatcher(only_b, timeout_seconds=5)
    table = PodTable()
    watcher.start()
    try:
        wait_for(lambda: watcher.state == "connected", 30, what="watch connected")
        _pods(core, namespace, [("a-late", "a"), ("b-late", "b")])

        def b_late_seen():
            table.apply(watcher.drain())
            return f"{namespace}/b-late" in table.rows

        wait_for(b_late_seen, 60, what="b-late in the table")
        assert {r.name for r in table.rows.values()} == {"b0", "b1", "b-late"}
    finally:
        watcher.stop()


def test_the_continue_token_is_read_from_the_head_of_a_list_body_only():
    from krkn_tui.kube.podstream import continue_token

    head = b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"eyJ2Ijo","remainingItemCount":9},'
    assert continue_token(head + b'"items":[]}') == "eyJ2Ijo"
    assert continue_token(b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[]}') is None
    # a pod's own "continue" text further on is never taken for the list's
    body = b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"annotations":{"continue":"x"}}}]}'
    assert continue_token(body) is None
    assert continue_token(b'{"items":[],"metadata":{"continue":"late"}}') is None  # not at the head: decoded later


def test_the_typed_decoder_reads_pages_and_events_like_pod_row_reads_dicts():
    import json

    from krkn_tui.kube.podjson import WatchError, decode_event, decode_page

    pods = [pod("a", restarts=2, node="kwok-1"), pod("b", ready=False, deleting=True),
            {"metadata": {"name": "x", "namespace": "n", "managedFields": [{"manager": "kwok", "fieldsV1": {}}]},
             "status": {"phase": "Failed", "reason": "Evicted"}}]
    page = json.dumps({"kind": "PodList", "metadata": {"resourceVersion": "42", "continue": "tok"},
                       "items": pods}).encode()
    rows, version, token = decode_page(page)
    assert rows == [pod_row(p) for p in pods] and (version, token) == ("42", "tok")
    assert [r.key for r in rows] == ["demo/a", "demo/b", "n/x"] and rows[2].phase == "Evicted"
    assert decode_page(b'{"metadata": {"resourceVersion": "7"}, "items": []}') == ([], "7", None)

    kind, row, version = decode_event(json.dumps({"type": "MODIFIED", "object": pods[0]}))
    assert (kind, row, version) == ("MODIFIED", pod_row(pods[0]), "1")
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "99"}}}
    assert decode_event(json.dumps(bookmark)) == ("BOOKMARK", None, "99")
    gone = {"type": "ERROR", "object": {"kind": "Status", "status": "Failure", "code": 410, "message": "too old"}}
    with pytest.raises(WatchError) as err:
        decode_event(json.dumps(gone))
    assert err.value.code == 410
