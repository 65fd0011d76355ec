"""`l` on a pod: its log, followed (k9s's habits: follow, previous container, wrap, search).

The stream is read by a ``LogFollower`` thread into a bounded deque; a 50 ms timer (k9s's flush
interval) moves what arrived into a ``Log`` widget capped at the same number of lines, so a
chatty pod costs a fixed amount of memory and one write per frame at most."""

from __future__ import annotations

from rich.cells import chop_cells
from rich.highlighter import Highlighter
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Log, Static
from textual.worker import Worker, WorkerState

from ...kube.podlogs import LOG_CAP, KubeLogSource, LogFollower, search
from ...sanitize import one_line, visible
from ..widgets.header import ConsoleHeader
from ..widgets.footer import ConsoleFooter
from ..widgets.line_log import LineLog

FLUSH_SECONDS = 0.05
# Wrapped, a kept line takes several rows: the widget's own cap grows by this factor (a line
# is at most MAX_LINE characters, so the worst case stays bounded too).
WRAP_ROWS = 8


class MatchHighlighter(Highlighter):
    """Marks the search text in every drawn line."""

    def __init__(self):
        self.needle = ""

    def highlight(self, text: Text) -> None:
        if self.needle:
            text.highlight_words([self.needle], "reverse", case_sensitive=False)


class LogsScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="logs-back", tooltip="Back to the pods (closes the search first)"),
        Binding("f", "toggle_follow", "Follow", id="logs-follow", tooltip="Follow new lines (on) or stay put"),
        Binding("p", "toggle_previous", "Previous", id="logs-previous",
                tooltip="The previous (restarted) container's log, or back to the current one"),
        Binding("w", "toggle_wrap", "Wrap", id="logs-wrap", tooltip="Wrap long lines"),
        Binding("c", "next_container", "Container", id="logs-container", tooltip="The pod's next container"),
        Binding("slash", "search", "Search", id="logs-search", tooltip="Search the lines (enter: first match)"),
        Binding("n", "next_match", "Next", id="logs-next", tooltip="Next match"),
        Binding("N", "previous_match", "Prev match", show=False, id="logs-prev-match", tooltip="Previous match"),
    ]

    def __init__(self, namespace: str, name: str, source=None, cap: int = LOG_CAP):
        """``source``: where the log comes from (``KubeLogSource`` of the app's cluster by default)."""
        super().__init__()
        self.namespace, self.name_ = namespace, name
        self._source = source
        self.cap = cap
        self.follow = True
        self.previous = False
        self.wrap = False
        self.containers: list[str] = []
        self.container: str | None = None
        self.refusal: str | None = None
        self.ended = ""  # why the stream ended, once it has
        self.follower: LogFollower | None = None
        self.lines: list[str] = []  # the stream's lines as kept (bounded like the widget)
        self.needle = ""
        self.match: int | None = None  # index into the widget's lines

    @property
    def VIEW_TITLE(self) -> str:
        return f"Logs of {visible(self.namespace)}/{visible(self.name_)}"

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id="logs-status")
        log = LineLog(max_lines=self.cap, highlight=True, id="logs")
        log.highlighter = self._highlighter = MatchHighlighter()
        yield log
        yield Input(placeholder="search the log (enter)", id="logs-find")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#logs-find", Input).display = False
        if self._source is None:
            self._source = KubeLogSource(self.app.api_client_factory, self.namespace, self.name_)
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.update_status("reading the pod…")
        self.prepare()
        self.query_one(Log).focus()

    def on_unmount(self) -> None:
        self._stop_follower()

    def on_resize(self) -> None:
        if self.wrap:  # wrapped rows were cut to the old width
            self._rewrite()

    # -- the stream ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="logs-prepare")
    def prepare(self):
        return self._source.prepare()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "logs-prepare":
            return
        if event.state == WorkerState.ERROR:
            self.show_only(f"cannot read the pod: {one_line(event.worker.error)}")
        elif event.state == WorkerState.SUCCESS:
            self.refusal, self.containers, self.container = event.worker.result
            if self.refusal:
                self.show_only(self.refusal)
            else:
                self.start()

    def show_only(self, line: str) -> None:
        """One line instead of a log (a kwok pod, a pod that cannot be read)."""
        self._stop_follower()
        log = self.query_one(Log)
        log.clear()
        log.write_line(line)
        self.lines = [line]
        self.update_status("no log")

    def start(self) -> None:
        """(Re)open the stream for the current container and previous/current choice."""
        self._stop_follower()
        self.lines, self.ended, self.match = [], "", None
        self.query_one(Log).clear()
        source, container, previous = self._source, self.container, self.previous
        self.follower = LogFollower(lambda: source.open(container, previous), cap=self.cap)
        self.follower.start()
        self.update_status()

    def _stop_follower(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None

    def flush(self) -> None:
        follower = self.follower
        if follower is None:
            return
        over = follower.end  # read before draining: every line came before it was set
        new = follower.drain()
        changed = bool(new)
        if over is not None and not self.ended:
            self.ended, changed = (over or "end of log"), True
        if new:
            self.lines.extend(new)
            if len(self.lines) > self.cap:
                del self.lines[: len(self.lines) - self.cap]
            self.query_one(Log).write_lines(self._shown(new), scroll_end=self.follow)
        if changed:
            self.update_status()

    def _shown(self, lines: list[str]) -> list[str]:
        if not self.wrap:
            return lines
        width = max(10, self.query_one(Log).scrollable_content_region.width - 1)
        out: list[str] = []
        for line in lines:
            out.extend(chop_cells(line, width) if line else [""])
        return out

    def update_status(self, note: str = "") -> None:
        follower = self.follower
        parts = [f"{self.namespace}/{self.name_}"]
        if self.container:
            parts.append(f"container {self.container}" + (f" (1 of {len(self.containers)}, c: next)"
                                                          if len(self.containers) > 1 else ""))
        parts.append("previous container" if self.previous else ("following" if self.follow else "paused"))
        parts.append("wrap" if self.wrap else "no wrap")
        if follower is not None:
            kept = len(self.lines)
            dropped = follower.buffer.dropped
            parts.append(f"{kept} lines" + (f" ({dropped} older dropped, cap {self.cap})" if dropped else ""))
        if self.needle:
            parts.append(f"search {self.needle!r}: " + ("no match" if self.match is None else f"line {self.match + 1}"))
        if self.ended:
            parts.append(self.ended)
        if note:
            parts.append(note)
        self.query_one("#logs-status", Static).update(Text(visible(" · ".join(parts)), no_wrap=True,
                                                           overflow="ellipsis"))

    # -- keys ---------------------------------------------------------------------------------

    def action_back(self) -> None:
        box = self.query_one("#logs-find", Input)
        if box.display:
            box.display = False
            self.query_one(Log).focus()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        log = self.query_one(Log)
        log.auto_scroll = self.follow
        if self.follow:
            log.scroll_end(animate=False)
        self.update_status()

    def action_toggle_previous(self) -> None:
        if self.refusal:
            return
        self.previous = not self.previous
        self.start()

    def action_next_container(self) -> None:
        if self.refusal or len(self.containers) < 2:
            self.notify("This pod has one container.")
            return
        i = self.containers.index(self.container) if self.container in self.containers else -1
        self.container = self.containers[(i + 1) % len(self.containers)]
        self.start()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        log = self.query_one(Log)
        log.max_lines = self.cap * (WRAP_ROWS if self.wrap else 1)
        self._rewrite()
        self.match = None
        self.update_status()

    def _rewrite(self) -> None:
        """Every kept line again: wrapped or not, and highlighted anew (Log caches drawn lines)."""
        log = self.query_one(Log)
        log.clear()
        log.write_lines(self._shown(self.lines), scroll_end=self.follow)

    def action_search(self) -> None:
        box = self.query_one("#logs-find", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#logs-find")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.needle = event.value.strip()
        log = self.query_one(Log)
        event.input.display = False
        log.focus()
        if self._highlighter.needle != self.needle:
            self._highlighter.needle = self.needle
            self._rewrite()
        self.match = None
        self._jump(backwards=False, start=-1)

    def action_next_match(self) -> None:
        self._jump(backwards=False)

    def action_previous_match(self) -> None:
        self._jump(backwards=True)

    def _jump(self, backwards: bool, start: int | None = None) -> None:
        log = self.query_one(Log)
        if start is None:
            start = self.match if self.match is not None else (-1 if not backwards else 0)
        self.match = search(log.lines, self.needle, start, backwards)
        if self.match is not None:
            if self.follow:  # reading a match: stop following, or the next line scrolls it away
                self.action_toggle_follow()
            log.scroll_to(y=max(0, self.match - 2), animate=False)
        self.update_status()
