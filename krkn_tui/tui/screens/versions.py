"""View 3: one row per rollback version file (active folder and archive), kept live.

A watchfiles watcher on both folders triggers a re-listing per batch of changes (a rename
arrives as deleted+added, so events are never applied one by one). The listing is cached per
run directory (``VersionLister``), so a batch re-reads only what changed, and only the rows of
steps that changed are touched. Execute and archive run in thread workers and report back with
a message."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from rich.text import Text
from textual.widgets import Input, Static

from ...errors import UserError
from ...rollback.front import EXECUTABLE, VersionInfo, VersionLister, VersionStatus, journal_step, pending_name
from ...sanitize import one_line, visible
from ..rows import (
    is_cluster_only,
    executed_note,
    journal_cell,
    journal_pair,
    short_run,
    short_time,
    short_type,
    tilde,
    version_action,
    version_cluster,
    version_key,
    version_note,
    version_origin,
    version_search_text,
)
from ..widgets.colors import coloured
from ..widgets.header import ConsoleHeader
from ..widgets.virtual_table import Column, VirtualTable
from ..widgets.footer import ConsoleFooter
from .base import View, allowed
from .confirm import ConfirmScreen
from .inspect import InspectScreen

# Measured on a 2-core box (temp file + rename, as the writer does): the batch arrives ~12 ms
# after the rename (max 46 ms) with these values, ~100 ms (max 240 ms) with watchfiles' defaults
# (debounce 1600, step 50). A batch only triggers a re-listing, so a split batch costs one more.
DEBOUNCE_MS, STEP_MS = 50, 10
_DIGITS = re.compile(r"\d")
_UNSHOWN = object()  # the detail line before anything was shown in it
# The longest the files' reading waits for the frame of the rows made from their names (a view
# not on screen draws no frame).
SHOWN_WAIT_S = 0.5
# With no change for this long awatch yields anyway, so a folder created later gets watched.
IDLE_CHECK_MS = 1000
# After a listing adds this many rows, the objects behind them are moved out of the cyclic
# garbage collector's reach (gc.freeze): they live as long as their rows, and each full
# collection walked all of them (measured: up to 190 ms pauses with 10,000 rows).
FREEZE_ROWS = 2000



def created_order(v: VersionInfo) -> tuple:
    """Newest first once reversed: the run's time, then the step's, then the file name as it was
    pending (executing a step keeps its place, and the table redraws its one line)."""
    return v.run_time_ns or 0, v.created_ns, pending_name(v.path.name)


STATUS_WIDTH = max(map(len, VersionStatus))  # a bare status; "archived (pending)" widens it
COLUMNS = (Column("created", "created", sort=created_order), Column("run", "run"), Column("type", "type"),
           Column("status", "status", min_width=STATUS_WIDTH), Column("cluster", "cluster"), Column("action", "action"),
           Column("origin", "origin"), Column("journal", "journal"), Column("note", "note"))
# How often the cluster journal is listed (steps of other machines' runs, states set by guards).
JOURNAL_POLL_SECONDS = 5.0


@dataclass
class StepOutcome:
    what: str  # "execute" | "archive"
    label: str
    results: list  # StepResult for execute, moved paths for archive
    error: str | None = None


class VersionsScreen(View):
    VIEW_TITLE = "Rollback versions"
    HELP_WIDGETS = (VirtualTable,)
    BINDINGS = [
        Binding("i", "inspect", "Inspect", id="inspect", tooltip="Show the file's source and metadata (enter too)"),
        Binding("x", "execute_one", "Execute", id="execute", tooltip="Execute the highlighted step (asks first)"),
        Binding("X", "execute_run", "Execute run", id="execute-run",
                tooltip="Execute the pending steps of this row's run, newest first (asks first)"),
        Binding("a", "archive_one", "Archive", id="archive", tooltip="Move the highlighted step to the archive"),
        Binding("p", "pods", "Pods", id="version-pods", show=False,
                tooltip="The pods view, filtered to the pods the highlighted step touched (its namespace or node)"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter by run, type, status or action text"),
        Binding("escape", "clear_filter", "Clear filter", id="clear-filter", show=False,
                tooltip="Clear the filter"),
    ]

    class Listed(Message):
        """Every step (``gone`` None), or only what changed since the previous listing: the
        steps new or changed, and ``gone`` the objects no longer listed."""

        def __init__(self, versions: list[VersionInfo], partial: bool = False, shown: asyncio.Event | None = None,
                     gone: list[VersionInfo] | None = None):
            super().__init__()
            self.versions = versions
            self.partial = partial  # from file names only: the files are being read
            self.shown = shown  # set once the rows are on screen
            self.gone = gone

    class JournalListed(Message):
        """The cluster journal's entries, or why it could not be listed."""

        def __init__(self, entries: list, error: str | None = None, context: str | None = None):
            super().__init__()
            self.entries = entries
            self.error = error
            self.context = context  # the console's context when the listing was asked for

    class Done(Message):
        def __init__(self, outcome: StepOutcome):
            super().__init__()
            self.outcome = outcome

    def __init__(self):
        super().__init__(id="versions")
        self.local: dict[str, VersionInfo] = {}  # row key -> a step with its file here
        self.by_key: dict[str, VersionInfo] = {}  # the rows: local steps and cluster-only ones
        self.filter_text = ""
        self.listings = 0  # how many complete listings were applied (tests wait on it)
        self.partial_listings = 0  # listings from file names only, shown before the files are read
        self._lister: VersionLister | None = None
        self._keys: dict[int, tuple[VersionInfo, str]] = {}  # id(step) -> (step, its row key)
        # (run id, file) -> journal entry; None while the journal is off, unread or unreadable.
        self.journal_entries: dict | None = None
        self.journal_note = ""
        self.cluster_rows: dict[str, VersionInfo] = {}  # row key -> a step only the journal has
        self._type_labels: dict[str, str] = {}  # scenario type -> its cell
        self._listing = asyncio.Lock()  # listings are posted in the order the lister made them
        self._status_counts: Counter = Counter()  # status -> local steps
        self._status_text = ""
        self._detail_shown: object = _UNSHOWN

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield Static("", id="versions-status")
        yield VirtualTable(COLUMNS, cells=self.cells, texts=self.texts, order=created_order, reverse=True,
                           id="version-table")
        yield Static("", id="version-detail")
        yield Input(placeholder="filter: run, type, status, action…", id="version-filter")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one("#version-table", VirtualTable)
        self.query_one("#version-filter", Input).display = False
        self.watch_folders()
        app = self.app
        if not app.journal_settings.enabled:
            self.journal_note = "cluster journal off"
        elif app.target_error is None and app.settings.probe_cluster:
            self.poll_journal()
        table.focus()

    def recolour(self) -> None:
        self.query_one("#version-table", VirtualTable).redraw()
        self._detail_shown = _UNSHOWN
        self.show_detail()

    # -- listing ------------------------------------------------------------------------------

    @property
    def folders(self) -> tuple[Path, Path]:
        return self.app.versions_dir, self.app.archive_dir

    @work(exclusive=True, group="versions-watch", exit_on_error=False)
    async def watch_folders(self) -> None:
        from watchfiles import awatch

        while True:
            await self.relist()
            roots = [p for p in self.folders if p.is_dir()]
            if not roots:
                await asyncio.sleep(IDLE_CHECK_MS / 1000)
                continue
            try:
                async for changes in awatch(*roots, watch_filter=None, debounce=DEBOUNCE_MS, step=STEP_MS,
                                            rust_timeout=IDLE_CHECK_MS, yield_on_timeout=True, recursive=True):
                    if [p for p in self.folders if p.is_dir()] != roots:
                        break  # a folder appeared or vanished: watch the new set
                    if changes:
                        await self.relist([path for _change, path in changes])
            except (FileNotFoundError, RuntimeError, OSError):
                await asyncio.sleep(IDLE_CHECK_MS / 1000)

    async def relist(self, changed: list[str] = ()) -> None:
        """List again; ``changed``: paths a watcher reported (read again whatever their stat)."""
        async with self._listing:  # a delta applies on top of the one before it
            if self._lister is None:
                self._lister = VersionLister(*self.folders)
                # The rows at once from the file names; the files' contents fill them in after.
                # The reading waits for those rows' frame: its thread would take the GIL from it.
                shown = asyncio.Event()
                self.post_message(self.Listed(await asyncio.to_thread(self._lister.named), partial=True, shown=shown))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(shown.wait(), SHOWN_WAIT_S)
                self.post_message(self.Listed(await asyncio.to_thread(self._lister.listed, changed)))
                return
            new, gone = await asyncio.to_thread(self._lister.changes, changed)
            self.post_message(self.Listed(new, gone=gone))

    def reload_soon(self) -> None:
        self.run_worker(self.relist(), group="versions-list", exit_on_error=False)

    @property
    def versions(self) -> list[VersionInfo]:
        """The steps with a file here (in no particular order)."""
        return list(self.local.values())

    def on_versions_screen_listed(self, message: Listed) -> None:
        """Apply a listing: only the rows of steps that are new, gone or changed are touched
        (the lister returns the same object for an unchanged step)."""
        first = not self.listings and not self.partial_listings
        changed = self._apply_all(message.versions) if message.gone is None else \
            self._apply_delta(message.versions, message.gone)
        changed |= self._merge_cluster_rows()
        if message.partial:
            self.partial_listings += 1
        else:
            self.listings += 1
        self.show(None if first else changed)
        if message.shown is not None:
            self.call_after_refresh(message.shown.set)
        if len(changed) >= FREEZE_ROWS:
            self.call_after_refresh(gc.freeze)

    def _apply_all(self, versions: list[VersionInfo]) -> set[str]:
        """Every step listed: the keys whose step is new, gone or another object."""
        keys, local, changed = {}, {}, set()
        old = self.local
        for v in versions:
            known = self._keys.get(id(v))
            key = known[1] if known is not None and known[0] is v else version_key(v)
            keys[id(v)] = (v, key)
            local[key] = v
            if old.get(key) is not v:
                changed.add(key)
        changed.update(k for k in old if k not in local)
        for key in changed:
            self.by_key.pop(key, None)
        self.by_key.update(local)
        self.local, self._keys = local, keys
        self._status_counts = Counter(v.status for v in local.values())
        return changed

    def _apply_delta(self, new: list[VersionInfo], gone: list[VersionInfo]) -> set[str]:
        """What changed since the previous listing: its cost is the change's, not the folder's."""
        changed = set()
        counts = self._status_counts
        for v in gone:
            known = self._keys.pop(id(v), None)
            if known is not None and known[0] is v and self.local.get(known[1]) is v:
                del self.local[known[1]]
                self.by_key.pop(known[1], None)
                counts[v.status] -= 1
                changed.add(known[1])
        for v in new:
            key = version_key(v)
            self._keys[id(v)] = (v, key)
            replaced = self.local.get(key)
            if replaced is not None:
                counts[replaced.status] -= 1
            counts[v.status] += 1
            self.local[key] = self.by_key[key] = v
            changed.add(key)
        return changed

    # -- the cluster journal ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="versions-journal", exit_on_error=False)
    def poll_journal(self) -> None:
        from textual.worker import get_current_worker

        from dataclasses import replace

        from ...rollback.front import Journal, JournalError, shown_state

        worker = get_current_worker()
        journal = trusted = None
        context = self.app.settings.context
        while not worker.is_cancelled:
            try:
                journal = journal or Journal(self.app.api_client_factory(), self.app.journal_settings.namespace)
                trusted = trusted or _journal_trust()
                # A state is shown as the journal says it only when its signature verifies.
                self.post_message(self.JournalListed([replace(e, state=shown_state(e, trusted))
                                                      for e in journal.entries()], context=context))
            except (JournalError, UserError) as exc:
                self.post_message(self.JournalListed([], str(exc), context))
            worker_wait = JOURNAL_POLL_SECONDS
            while worker_wait > 0 and not worker.is_cancelled:
                time.sleep(0.2)
                worker_wait -= 0.2

    def follow_cluster(self) -> None:
        """The console switched context: the journal rows are the new cluster's (listed again)."""
        self.on_versions_screen_journal_listed(self.JournalListed([], context=self.app.settings.context))
        self.journal_note = "journal: listing the new context's"
        if self.app.journal_settings.enabled:
            self.poll_journal()  # exclusive: the old context's poll is cancelled

    def on_versions_screen_journal_listed(self, message: JournalListed) -> None:
        if message.context != self.app.settings.context:
            return  # listed on the context the console left
        old = self.journal_entries or {}
        if message.error:
            new, self.journal_note = None, f"journal: {one_line(message.error)}"
        else:
            new = {(e.run_id, e.file): e for e in message.entries}
            self.journal_note = f"journal {self.app.journal_settings.namespace}: {len(new)} step(s)"
        self.journal_entries = new
        changed = set()
        for key, v in self.by_key.items():  # local rows whose journal cell changes
            pair = journal_pair(v)
            before, after = old.get(pair), (new or {}).get(pair)
            if not is_cluster_only(v) and (before and before.state) != (after and after.state):
                changed.add(key)
        changed |= self._merge_cluster_rows()
        # Once the table has rows (from the file names too), the journal's change goes to it
        # now: a listing after this one applies only what it changed, not these rows.
        if self.listings or self.partial_listings:
            self.show(changed)

    def _merge_cluster_rows(self) -> set[str]:
        """Put the journal's steps that have no file here into ``by_key``; the keys that changed."""
        if not self.journal_entries and not self.cluster_rows:
            return set()  # the journal off or empty: nothing to compare the steps here with
        local = {journal_pair(v) for v in self.local.values()}
        rows = {}
        for pair, entry in (self.journal_entries or {}).items():
            if pair in local:
                continue
            key = f"cluster/{entry.run_id}/{entry.file}"
            known = self.cluster_rows.get(key)
            same = known is not None and known.status == entry.state and known.error == entry.error
            rows[key] = known if same else journal_step(entry)
        changed = {k for k in self.cluster_rows if k not in rows}
        changed |= {k for k, v in rows.items() if self.by_key.get(k) is not v}
        for key in self.cluster_rows:
            self.by_key.pop(key, None)
        self.by_key.update(rows)
        self.cluster_rows = rows
        return changed

    def _cluster_only(self, v: VersionInfo) -> bool:
        """Cluster-only steps are shown, not acted on here: their files are on another machine."""
        if not is_cluster_only(v):
            return False
        self.notify(f"run {short_run(v)} is from {visible(v.host)}: only the cluster journal has this step "
                    f"(krkn-tui show-rollback --cluster {visible(v.journal_entry)}; "
                    "krkn-tui guard rolls it back once its run's lease expires).", severity="warning", timeout=10)
        return True

    def texts(self, v: VersionInfo) -> tuple:
        """The cells' plain text: what sizes the columns (cheaper than building the cells)."""
        status = f"{v.status} ({v.prior_status})" if v.prior_status else v.status
        kind = self._type_labels.get(v.scenario_type)
        if kind is None:  # a few types among thousands of rows: each label made once
            kind = self._type_labels[v.scenario_type] = visible(short_type(v.scenario_type))
        return (short_time(v.created_ns), short_run(v), kind, status,
                version_cluster(v), version_action(v), version_origin(v), journal_cell(v, self.journal_entries),
                version_note(v))

    def cells(self, v: VersionInfo) -> tuple:
        created, run, kind, _status, cluster, action, origin, journal, error = self.texts(v)
        note = coloured(self.app, error, "failed" if v.error else "pending") if error else ""
        status = coloured(self.app, v.status)
        if v.prior_status:
            status.append(f" ({v.prior_status})", style="dim")
        return (created, Text(run), Text(kind), status, Text(cluster, style="dim" if v.cluster is None else ""),
                Text(action, no_wrap=True), Text(origin), Text(journal), note)

    def show(self, changed: set[str] | None = None) -> None:
        """Make the table match ``by_key``; with ``changed``, only those keys changed since the
        last call."""
        table = self.query_one("#version-table", VirtualTable)
        if changed is None:
            table.replace(self.by_key)
        elif changed:
            # a journal cell changes with no new step: those rows are drawn again as they are
            same = [k for k in changed if k in self.by_key and table.record(k) is self.by_key[k]]
            table.update({k: self.by_key.get(k) for k in changed})
            table.redraw(same)
        self.update_status()
        self.show_detail()

    def update_status(self) -> None:
        counts = dict.fromkeys(("pending", "failed", "executed", "archived"), 0)
        for status, n in self._status_counts.items():
            if status in counts:
                counts[status] += n
        where = "" if self.app.versions_dir.is_dir() else " · no versions folder yet"
        if self.partial_listings and not self.listings:
            where += " · reading the files…"
        shown = self.query_one("#version-table", VirtualTable).row_count
        filtered = f" · filter {self.filter_text!r}: {shown} shown" if self.filter_text else ""
        journal = f" · {self.journal_note}" if self.journal_note else ""
        text = " · ".join(f"{n} {s}" for s, n in counts.items()) + where + filtered + journal
        if text != self._status_text:
            # Only a count's digits changed (a step came or went): same words, same wrapping, so
            # no layout pass of the screen, which was most of a synced file's frame.
            same_shape = _DIGITS.sub("0", text) == _DIGITS.sub("0", self._status_text)
            self.query_one("#versions-status", Static).update(text, layout=not same_shape)
            self._status_text = text

    def show_detail(self) -> None:
        """The highlighted step's file and, for a failure, its error: the table may be too narrow."""
        v = self.selected()
        shown = None if v is None else (v.path, version_note(v), bool(v.error))
        if shown == self._detail_shown:
            return  # the same step's same file and note: nothing to lay out again
        self._detail_shown = shown
        detail = Content("") if v is None else Content.styled(tilde(v.path), "dim")
        if v is not None and version_note(v):
            detail += Content.styled(f"\n{version_note(v)}", "$text-error" if v.error else "$text-warning")
        # Its height is auto (at least min-height, app.tcss): lay the screen out only when the new
        # text takes another number of lines than the box has (a step's path after another's, one
        # line each, was a layout pass per synced file).
        box = self.query_one("#version-detail", Static)
        width, lines = box.content_size
        least = int(box.styles.min_height.value) if box.styles.min_height is not None else 0
        box.update(detail, layout=not width or max(least, detail.get_height(box.styles, width)) != lines)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        self.show_detail()

    def selected(self) -> VersionInfo | None:
        return self.by_key.get(self.query_one("#version-table", VirtualTable).current_key)

    # -- filter -------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#version-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#version-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    def set_filter(self, text: str) -> None:
        self.query_one("#version-table", VirtualTable).filter_by_text(
            self.filter_text, text, lambda v, needle: needle in version_search_text(v))
        self.filter_text = text
        self.update_status()
        self.show_detail()

    @on(Input.Submitted, "#version-filter")
    def filter_done(self) -> None:
        self.query_one("#version-table", VirtualTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#version-filter", Input)
        box.value = ""
        box.display = False
        self.set_filter("")
        self.query_one("#version-table", VirtualTable).focus()

    # -- inspect ------------------------------------------------------------------------------

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        self.action_inspect()

    def action_pods(self) -> None:
        from ..rows import pods_filter_of

        v = self.selected()
        if v is None:
            return
        text = pods_filter_of(v)
        if text is None:
            self.notify(f"{v.kind or 'this step'} {v.name or ''}: no pods to show".strip(), severity="warning")
            return
        self.app.show_pods_filtered(text)

    def action_inspect(self) -> None:
        version = self.selected()
        if version is not None and not self._cluster_only(version):
            self.app.push_screen(InspectScreen(version))

    # -- execute and archive ------------------------------------------------------------------

    def action_execute_one(self) -> None:
        v = self.selected()
        if v is None or not allowed(self.app, "execute_one") or self._cluster_only(v):
            return
        if v.status not in EXECUTABLE:
            self.notify(f"{v.path.name} is {v.status}: nothing to execute.", severity="warning")
            return
        body = f"{version_action(v)}\n{v.path.name}\nrun {v.run_dir}\non {self.app.target_summary}"
        refusal = self.app.rollback_service.foreign_refusal(v)
        if refusal:
            self.notify(f"{refusal}.", severity="error", timeout=10)
            return
        if v.origin == "krkn":
            body += "\nWritten by krkn: it runs as `python FILE`, with no digest to verify."
        self.app.push_screen(ConfirmScreen("Execute this rollback step?", body, "Execute"),
                             callback=lambda yes: self.execute([v], v.path.name) if yes else None)

    def action_execute_run(self) -> None:
        v = self.selected()
        if v is None or not allowed(self.app, "execute_run") or self._cluster_only(v):
            return
        steps = [s for s in self.versions if s.run_dir == v.run_dir and s.status in EXECUTABLE]
        if not steps:
            self.notify(f"run {short_run(v)} has no pending step.", severity="warning")
            return
        lines = [f"  {version_action(s)}" for s in sorted(steps, key=lambda s: s.created_ns, reverse=True)]
        body = "\n".join([f"run {v.run_dir}, newest first, on {self.app.target_summary}", *lines[:12]]
                         + ([f"  … and {len(lines) - 12} more"] if len(lines) > 12 else []))
        self.app.push_screen(ConfirmScreen(f"Execute {len(steps)} pending step(s)?", body, "Execute all"),
                             callback=lambda yes: self.execute(steps, f"run {short_run(v)}") if yes else None)

    def action_archive_one(self) -> None:
        v = self.selected()
        if v is None or not allowed(self.app, "archive_one") or self._cluster_only(v):
            return
        if v.status == "archived":
            self.notify(f"{v.path.name} is already archived.", severity="warning")
            return
        if v.status in EXECUTABLE:
            body = (f"{version_action(v)}\n{v.path.name} has not run: once archived, executing the run "
                    "will not undo this change.")
            self.app.push_screen(ConfirmScreen("Archive a pending step?", body, "Archive"),
                                 callback=lambda yes: self.archive([v]) if yes else None)
        else:
            self.archive([v])

    @work(thread=True, group="versions-action", exit_on_error=False)
    def execute(self, steps: list[VersionInfo], label: str) -> None:
        try:
            outcome = StepOutcome("execute", label, self.app.rollback_service.execute([s.path for s in steps]))
        except Exception as exc:
            outcome = StepOutcome("execute", label, [], f"{type(exc).__name__}: {exc}")
        self.post_message(self.Done(outcome))

    @work(thread=True, group="versions-action", exit_on_error=False)
    def archive(self, steps: list[VersionInfo]) -> None:
        label = steps[0].path.name if len(steps) == 1 else f"{len(steps)} steps"
        try:
            outcome = StepOutcome("archive", label, self.app.rollback_service.archive([s.path for s in steps]))
        except Exception as exc:
            outcome = StepOutcome("archive", label, [], f"{type(exc).__name__}: {exc}")
        self.post_message(self.Done(outcome))

    def on_versions_screen_done(self, message: Done) -> None:
        o = message.outcome
        if o.error:
            self.notify(f"{o.what} {o.label}: {one_line(o.error)}", severity="error", timeout=15, markup=False)
        elif o.what == "archive":
            if o.results:
                self.notify(f"archived {o.label}")
            else:
                self.notify(f"{o.label} was not archived: it is running or already gone", severity="warning")
        else:
            self.notify_executed(o)
        self.reload_soon()

    def notify_executed(self, o: StepOutcome) -> None:
        text, severity = executed_note(o.label, o.results)
        self.notify(text, severity=severity, timeout=20 if severity == "error" else 5, markup=False)


def _journal_trust():
    """The keys the console believes journal states from (the user's, as execute-rollback)."""
    from ...rollback.front import SigningError, local_trust

    try:
        return local_trust()
    except (SigningError, OSError) as exc:
        raise UserError(f"cannot load the signing keys: {exc}") from None
