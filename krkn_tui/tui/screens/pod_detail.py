"""`d` and `y` on a pod: kubectl describe's summary (with the pod's Events) and its YAML.

Read in a worker thread through ``kube.poddetail`` (which masks Secret values by the core's
rule and sanitises); ``r`` reads again, ``esc`` goes back to the pods."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from ...kube import poddetail
from ...sanitize import one_line, visible
from ..rows import local_time
from ..widgets.header import ConsoleHeader
from ..widgets.footer import ConsoleFooter

KINDS = {"describe": "Describe", "yaml": "YAML"}


class PodTextScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="pod-text-back", tooltip="Back to the pods"),
        Binding("r", "reload", "Reload", id="pod-text-reload", tooltip="Read the pod again"),
        Binding("j", "scroll('down')", "Down", show=False, id="pod-text-down"),
        Binding("k", "scroll('up')", "Up", show=False, id="pod-text-up"),
        Binding("g", "scroll('home')", "Top", show=False, id="pod-text-top"),
        Binding("G", "scroll('end')", "Bottom", show=False, id="pod-text-bottom"),
    ]

    def __init__(self, kind: str, namespace: str, name: str):
        super().__init__()
        self.kind, self.namespace, self.name_ = kind, namespace, name
        self.text = ""  # what is on screen (plain): tests and the search read it

    @property
    def VIEW_TITLE(self) -> str:
        return f"{KINDS[self.kind]} of pod {visible(self.namespace)}/{visible(self.name_)}"

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static(Content.styled(self.VIEW_TITLE, "bold"), id="pod-text-title")
        with VerticalScroll(id="pod-text-scroll"):
            yield Static("reading…", id="pod-text")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.load()
        self.query_one("#pod-text-scroll").focus()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pod-text")
    def load(self) -> str:
        api = self.app.api_client_factory()
        pod = poddetail.read_pod(api, self.namespace, self.name_)
        if self.kind == "yaml":
            return poddetail.object_yaml(pod)
        return poddetail.describe_pod(pod, poddetail.pod_events(api, self.namespace, self.name_),
                                      now=self.app.settings.clock())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "pod-text":
            return
        if event.state == WorkerState.SUCCESS:
            self.show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            from ...kube.podstream import describe_error

            self.show(f"cannot read pod {self.namespace}/{self.name_}: {one_line(describe_error(event.worker.error))}")

    def show(self, text: str) -> None:
        self.text = text
        self.query_one("#pod-text", Static).update(Content(text))  # Content: never markup

    def action_scroll(self, where: str) -> None:
        pane = self.query_one("#pod-text-scroll", VerticalScroll)
        {"down": pane.scroll_down, "up": pane.scroll_up, "home": pane.scroll_home, "end": pane.scroll_end}[where](
            animate=False)


EVENTS_REFRESH_SECONDS = 2.0


class EventsScreen(Screen):
    """`e`: the Kubernetes Events of the namespaces in play, oldest first, read again every 2 s
    (a read still running skips the next one, as k9s does)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="events-back", tooltip="Back to the pods"),
    ]

    def __init__(self, namespaces: list[str] | None):
        super().__init__()
        self.namespaces = namespaces  # None: every namespace
        self.shown: dict[str, tuple] = {}  # event uid -> (count, last seen) written
        self.lines: list[str] = []

    @property
    def scope(self) -> str:
        if self.namespaces is None:
            return "all namespaces"
        return "namespace" + ("s " if len(self.namespaces) > 1 else " ") + ", ".join(self.namespaces)

    @property
    def VIEW_TITLE(self) -> str:
        return f"Events of {visible(self.scope)}"

    def compose(self) -> ComposeResult:
        from ..widgets.line_log import LineLog

        yield ConsoleHeader(id="header")
        yield Static(Content.styled(self.VIEW_TITLE, "bold"), id="events-title")
        yield LineLog(max_lines=poddetail.EVENTS_LIMIT * 4, id="events-log")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.refresh_events()
        self.set_interval(EVENTS_REFRESH_SECONDS, self.refresh_events)

    def refresh_events(self) -> None:
        if any(w.group == "events" and w.is_running for w in self.workers):
            return
        self.read_events()

    @work(thread=True, exit_on_error=False, group="events")
    def read_events(self) -> list[dict]:
        return poddetail.namespace_events(self.app.api_client_factory(), self.namespaces)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "events":
            return
        title = self.query_one("#events-title", Static)
        if event.state == WorkerState.ERROR:
            from ...kube.podstream import describe_error

            title.update(Content.assemble((self.VIEW_TITLE, "bold"), " · ",
                                          (f"cannot read: {describe_error(event.worker.error)}", "$text-error")))
        elif event.state == WorkerState.SUCCESS:
            self.add(event.worker.result)
            title.update(Content.assemble((self.VIEW_TITLE, "bold"),
                                          (f" · {len(self.shown)} events · read {time.strftime('%H:%M:%S')}", "dim")))

    def add(self, events: list[dict]) -> None:
        """New events, and old ones seen again (their count grew), as new lines."""
        now = self.app.settings.clock()
        new = []
        for e in events:
            uid = (e.get("metadata") or {}).get("uid") or id(e)
            mark = (e.get("count"), poddetail.event_time(e))
            if self.shown.get(uid) == mark:
                continue
            self.shown[uid] = mark
            _age, kind, reason, what, message = poddetail.event_row(e, now)
            count = f" (x{e['count']})" if isinstance(e.get("count"), int) and e["count"] > 1 else ""
            new.append(f"{local_time(mark[1], with_date=False)} {kind:<8} {reason:<20} {what}{count}  {message}")
        if new:
            self.lines.extend(new)
            self.query_one("#events-log").write_lines(new)
