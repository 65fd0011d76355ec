"""The pods view's drill-down (k9s's habits): describe, YAML, Events and logs of a pod.

Describe, YAML, Events and the kwok pod's "no logs" line run against the local cluster's real
objects. The local cluster's nodes are kwok's (no container runs), so a followed log is driven
here by a plain-data source through the same screen and the same follower thread."""

from __future__ import annotations

import queue
import threading

import pytest
from kubernetes import client

from krkn_tui.kube.podlogs import LogBuffer, LogFollower
from krkn_tui.tui.screens.pod_detail import EventsScreen, PodTextScreen
from krkn_tui.tui.screens.pod_logs import LogsScreen
from krkn_tui.tui.screens.pods import PodsScreen
from tui_support import SIZE, console, keys, until

ESC = "\x1b"


def make_pod(core, namespace: str, name: str) -> None:
    core.create_namespaced_pod(namespace, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "web"}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="c", image="registry.k8s.io/pause:3.10",
            env=[client.V1EnvVar(name="TOKEN", value_from=client.V1EnvVarSource(
                secret_key_ref=client.V1SecretKeySelector(name="s", key="k")))])],
            termination_grace_period_seconds=0)))


def pod_event(core, namespace: str, pod: str, reason: str, message: str) -> None:
    """A real Event object about the pod, as a controller would write it."""
    core.create_namespaced_event(namespace, client.CoreV1Event(
        metadata=client.V1ObjectMeta(generate_name=f"{pod}."),
        involved_object=client.V1ObjectReference(kind="Pod", name=pod, namespace=namespace, api_version="v1"),
        reason=reason, message=message, type="Warning", count=3,
        first_timestamp="2026-01-01T00:00:00Z", last_timestamp="2026-01-01T00:00:05Z",
        source=client.V1EventSource(component="chaos-test")))


def text_of(app) -> str:
    return app.screen.text


@pytest.mark.cluster
async def test_d_y_l_e_drill_into_a_pod_and_escape_comes_back(tmp_path, kubeconfig, namespace, api_client):
    core = client.CoreV1Api(api_client)
    make_pod(core, namespace, "web-1")
    pod_event(core, namespace, "web-1", "ChaosProbe", f"probe failed {ESC}[2J twice")
    app = console(tmp_path, kubeconfig=kubeconfig, namespace=namespace, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#pod-table")
        key = f"{namespace}/web-1"
        await until(pilot, lambda: keys(table) == [key] and app.pod_table.rows[key].phase == "Running",
                    what="web-1 running")

        await pilot.press("d")
        assert isinstance(app.screen, PodTextScreen)
        await until(pilot, lambda: "Events:" in text_of(app), what="describe")
        text = text_of(app)
        assert "Name:           web-1" in text and f"Namespace:      {namespace}" in text
        assert "PodScheduled" in text and "Ready" in text  # conditions
        assert "Restart Count:  0" in text and "registry.k8s.io/pause:3.10" in text  # containers
        assert "Scheduled" in text  # the scheduler's Event about this pod
        assert "ChaosProbe" in text and "probe failed \\x1b[2J twice" in text and ESC not in text
        await pilot.press("escape")
        assert isinstance(app.screen, PodsScreen)

        await pilot.press("y")
        await until(pilot, lambda: "kind: Pod" in text_of(app), what="yaml")
        text = text_of(app)
        assert "name: web-1" in text and "secretKeyRef" in text and "managedFields" not in text
        await pilot.press("escape")
        assert isinstance(app.screen, PodsScreen)

        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        logs = app.screen.query_one("#logs")
        await until(pilot, lambda: logs.lines, what="the no-logs line")
        [line] = logs.lines
        assert "a kwok (fake) node" in line and "has no logs" in line and app.screen.follower is None
        await pilot.press("escape")
        assert isinstance(app.screen, PodsScreen)

        await pilot.press("e")
        assert isinstance(app.screen, EventsScreen) and app.screen.namespaces == [namespace]
        events = app.screen.query_one("#events-log")
        await until(pilot, lambda: any("ChaosProbe" in l for l in events.lines), what="the namespace's Events")
        line = next(l for l in events.lines if "ChaosProbe" in l)
        assert f"{namespace}/Pod/web-1 (x3)" in line and ESC not in line
        await pilot.press("escape")
        assert isinstance(app.screen, PodsScreen)


@pytest.mark.cluster
def test_yaml_of_a_secret_read_back_from_the_cluster_masks_its_values(namespace, api_client):
    from krkn_tui.kube.poddetail import object_yaml

    core = client.CoreV1Api(api_client)
    core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="db", annotations={
            "kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"password":"hunter2"}}'}),
        string_data={"password": "hunter2"}))
    import json

    raw = json.loads(core.read_namespaced_secret("db", namespace, _preload_content=False).data)
    assert raw["data"]["password"]  # the server holds it (base64)
    text = object_yaml(raw)
    assert "hunter2" not in text and raw["data"]["password"] not in text
    assert "password: <redacted>" in text and text.startswith("# 2 Secret value(s) masked")


@pytest.mark.cluster
@pytest.mark.parametrize("previous", [False, True])
def test_the_real_log_request_is_made_and_a_refusal_is_the_servers_one_line(namespace, api_client, previous):
    """Past the kwok check, the API server itself is asked (follow, or the previous container):
    it cannot reach a kwok node's kubelet and says so; the follower ends with that line."""
    from krkn_tui.kube.podlogs import kube_log_stream

    core = client.CoreV1Api(api_client)
    make_pod(core, namespace, "web-1")
    from kubehelpers import wait_for

    wait_for(lambda: core.read_namespaced_pod("web-1", namespace).spec.node_name, what="web-1 scheduled")
    follower = LogFollower(lambda: kube_log_stream(api_client, namespace, "web-1", container="c", previous=previous))
    follower.run()
    assert follower.end and "\n" not in follower.end and not follower.buffer.lines
    assert "containerLogs" in follower.end and "ValidationError" not in follower.end


# -- the log stream, on plain data --------------------------------------------------------------


def test_the_log_buffer_joins_split_lines_caps_memory_cuts_long_lines_and_sanitises():
    buf = LogBuffer(cap=3, max_line=20)
    assert buf.feed(b"one\ntw") == ["one"]
    assert buf.feed(b"o\r\nthree\n") == ["two", "three"]
    assert buf.feed(b"a\tb \x1b]0;pwned\x07\n") == ["a       b \\x1b]0;pwned\\x07"]
    assert list(buf.lines) == ["two", "three", "a       b \\x1b]0;pwned\\x07"]
    assert buf.total == 4 and buf.dropped == 1
    assert buf.feed(b"y" * 30 + b"\n") == ["y" * 20 + " …[10 characters cut]"]
    assert buf.feed(b"\xff\xfe no newline") == [] and buf.end() == ["\ufffd\ufffd no newline"]
    assert len(buf.lines) == 3  # never more than the cap, however much arrives


def test_a_chatty_stream_keeps_only_the_cap_and_says_how_many_it_dropped():
    chunks = [b"".join(b"line %d\n" % i for i in range(n, n + 100)) for n in range(0, 10_000, 100)]
    follower = LogFollower(lambda: chunks, cap=500)
    follower.run()  # in this thread: plain data
    assert follower.end == ""
    assert list(follower.buffer.lines) == [f"line {i}" for i in range(9500, 10_000)]
    assert follower.buffer.dropped == 9500
    assert follower.drain() == [f"line {i}" for i in range(9500, 10_000)]


def test_a_failing_stream_ends_with_the_servers_one_line():
    class Refused(Exception):
        body = '{"kind":"Status","message":"container \\"c\\" in pod \\"p\\" is waiting to start"}'

    def boom():
        raise Refused()

    follower = LogFollower(boom)
    follower.run()
    assert follower.end == 'container "c" in pod "p" is waiting to start'


class PlainStream:
    """Chunks a test writes while the view is open; close() ends it, as a socket shutdown would."""

    def __init__(self):
        self.chunks: queue.Queue = queue.Queue()
        self.closed = threading.Event()

    def __iter__(self):
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                return
            yield chunk

    def close(self):
        self.closed.set()
        self.chunks.put(None)


class PlainSource:
    def __init__(self, containers=("app", "sidecar")):
        self.containers = list(containers)
        self.opened: list[tuple[str | None, bool, PlainStream]] = []

    def prepare(self):
        return None, self.containers, self.containers[0]

    def open(self, container, previous):
        stream = PlainStream()
        stream.chunks.put(f"{'previous' if previous else 'current'} {container} first\n".encode())
        self.opened.append((container, previous, stream))
        return stream


async def test_logs_view_follows_wraps_searches_and_switches_container_and_previous(tmp_path):
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
    app = console(tmp_path, kubeconfig=str(tmp_path / "none"), watch_pods=False, probe_cluster=False)
    source = PlainSource()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        screen = LogsScreen("ns", "chatty", source=source, cap=50)
        await app.push_screen(screen)
        log = screen.query_one("#logs")
        await until(pilot, lambda: log.lines == ["current app first"], what="first line")
        stream = source.opened[-1][2]

        # follow: a line written after the view opened arrives, and the view is at its end
        stream.chunks.put(b"".join(b"tick %d\n" % i for i in range(80)) + b"x" * 300 + b"\n")
        await until(pilot, lambda: log.lines[-1] == "x" * 300, what="the new lines")
        assert len(log.lines) == 50  # capped: the widget keeps what the ring keeps
        assert "50 lines (32 older dropped, cap 50)" in str(screen.query_one("#logs-status").render())
        assert screen.follow and log.is_vertical_scroll_end

        await pilot.press("w")  # wrap: the long line takes several rows
        assert screen.wrap and len(log.lines) > 50 and all(len(l) < 300 for l in log.lines)
        assert "".join(log.lines[-len(log.lines) + 49:]) == "x" * 300
        await pilot.press("w")
        assert not screen.wrap and log.lines[-1] == "x" * 300

        await pilot.press("slash", *"tick 42", "enter")
        assert screen.match is not None and log.lines[screen.match] == "tick 42"
        assert not screen.follow  # a match being read is not scrolled away
        await pilot.press("slash", *"TICK 7", "enter", "n")
        first = screen.match
        assert log.lines[first].startswith("tick 7")
        await pilot.press("n")
        assert screen.match != first and log.lines[screen.match].startswith("tick 7")
        await pilot.press("f")
        assert screen.follow

        await pilot.press("question_mark")  # the help lists the view's keys
        help_text = str(app.screen.query_one("#help-keys").render())
        assert "previous (restarted) container" in help_text and "Wrap long lines" in help_text
        await pilot.press("escape")
        assert app.screen is screen

        await pilot.press("p")  # the previous container's log: a new stream, the old one closed
        await until(pilot, lambda: log.lines == ["previous app first"], what="previous log")
        assert stream.closed.is_set() and source.opened[-1][:2] == ("app", True)
        await pilot.press("p", "c")
        await until(pilot, lambda: log.lines == ["current sidecar first"], what="sidecar log")
        assert source.opened[-1][:2] == ("sidecar", False)

        source.opened[-1][2].close()  # the pod went away: the view says the stream ended
        await until(pilot, lambda: "end of log" in str(screen.query_one("#logs-status").render()),
                    what="end of log")
        await pilot.press("slash")
        await pilot.press("escape")  # closes the search box first
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, PodsScreen)
        await until(pilot, lambda: all(s[2].closed.is_set() for s in source.opened), what="streams closed")


@pytest.mark.cluster
async def test_events_follow_the_namespaces_the_filter_shows(tmp_path, kubeconfig, namespace, api_client):
    core = client.CoreV1Api(api_client)
    make_pod(core, namespace, "web-1")
    pod_event(core, namespace, "web-1", "OnlyHere", "in play")
    app = console(tmp_path, kubeconfig=kubeconfig, probe_cluster=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        pods = app.screen
        await until(pilot, lambda: f"{namespace}/web-1" in app.pod_table.rows, what="web-1 listed")
        await pilot.press("e")  # no -n, no filter: every namespace
        assert app.screen.namespaces is None and app.screen.scope == "all namespaces"
        await pilot.press("escape")
        await pilot.press("slash", *namespace, "enter")
        await until(pilot, lambda: keys(pods.query_one("#pod-table")) == [f"{namespace}/web-1"], what="filtered")
        await pilot.press("e")
        assert app.screen.namespaces == [namespace]
        log = app.screen.query_one("#events-log")
        await until(pilot, lambda: any("OnlyHere" in line for line in log.lines), what="the namespace's Event")
        assert all(f" {namespace}/" in line for line in log.lines)
