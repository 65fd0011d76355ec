"""Plain text for the console's tables: scenario parameters, version actions, times.

No widgets here, so every line the console shows can be checked without a terminal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ScenarioRef
from ..errors import UserError
from ..rollback.front import pending_name, trust_note
from .. import sanitize
from ..sanitize import one_line, visible
from ..scenarios.krkn_only import UNSUPPORTED_NOTE
from ..scenarios import describe_specs, parse_scenario_file
from ..scenarios import short_name as short_type

if TYPE_CHECKING:
    from ..rollback.front import VersionInfo


@dataclass(frozen=True)
class ScenarioRow:
    ref: ScenarioRef
    file_label: str  # relative to the config's folder when inside it
    summary: str  # parameters, or the parse error
    error: str | None
    parsed: bool = True  # False: listed from the config, its file not read yet

    @property
    def key(self) -> str:
        return str(self.ref.index)


def file_label(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path, base) if Path(path).is_relative_to(base) else str(path)
    except ValueError:
        return str(path)


def scenario_row(ref: ScenarioRef, base: Path, parse: bool = True) -> ScenarioRow:
    """Parse the file now; a bad file gives a row carrying its one-line error. ``parse`` False:
    the row as the config lists it, its parameters empty until it is made again."""
    label = file_label(ref.file, base)
    if not ref.supported:  # krkn's own type: listed, never parsed nor run
        return ScenarioRow(ref, label, UNSUPPORTED_NOTE, None)
    if not parse:
        return ScenarioRow(ref, label, "", None, parsed=False)
    try:
        specs = parse_scenario_file(ref.scenario_type, ref.file)
    except UserError as exc:
        message = one_line(exc.message)
        return ScenarioRow(ref, label, f"{exc.field}: {message}" if exc.field else message, message)
    except Exception as exc:  # a scenario file must never take the console down
        message = f"{type(exc).__name__}: {one_line(exc)}"
        return ScenarioRow(ref, label, message, message)
    summary = describe_specs(ref.scenario_type, specs)
    return ScenarioRow(ref, label, summary or "(no entries)", None)


# -- versions ---------------------------------------------------------------------------------


def version_key(v: VersionInfo) -> str:
    """Stable across execute (.py -> .py.executed) so the cursor stays on the step."""
    where = "archive" if v.status == "archived" else "active"
    return f"{where}/{v.run_dir}/{pending_name(v.path.name)}"


def short_run(v: VersionInfo) -> str:
    return visible((v.run_uuid or v.run_dir)[:8])


def tilde(path: Path | str) -> str:
    """A path as people type it: the home folder as ~."""
    text, home = str(path), str(Path.home())
    text = "~" + text[len(home):] if text == home or text.startswith(home + os.sep) else text
    return visible(text)


def local_time(ns_or_s: float | int | None, with_date: bool = True) -> str:
    return sanitize.local_time(ns_or_s, "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def short_time(ns: int | None) -> str:
    """Month-day and time: enough to tell steps apart on a narrow screen."""
    return sanitize.local_time(ns, "%m-%d %H:%M:%S")


def version_action(v: VersionInfo) -> str:
    """What the step will do, from the file: sanitised (a cell is Text, but ESC is still ESC)."""
    target = "/".join(p for p in (v.namespace, v.name) if p)
    return visible(" ".join(p for p in (v.verb, v.kind, target) if p)) or "?"


def version_cluster(v: VersionInfo) -> str:
    """The cluster a step was written for: its context and the start of its kube-system UID (two
    clusters may share a context name), or "unknown" (krkn's files, ours from before)."""
    c = v.cluster
    if c is None:
        return "unknown"
    name = c.context or c.server.split("://", 1)[-1]
    return visible(f"{name}·{c.kube_system_uid[:4]}" if c.kube_system_uid else name)


def version_origin(v: VersionInfo) -> str:
    """The origin cell: krkn-tui, krkn, or foreign for a file with krkn-tui's header that no
    trusted key signed (the note says why)."""
    if is_cluster_only(v):
        return f"cluster@{visible(v.host)}"
    return "foreign" if trust_note(v) else visible(v.origin)


def version_note(v: VersionInfo) -> str:
    """The note cell: the step's error, else why it is foreign."""
    return one_line(v.error) if v.error else (trust_note(v) or "")


def pods_filter_of(v: VersionInfo) -> str | None:
    """The pods view's filter showing the pods a step touched: its namespace's (a pod, a workload,
    a policy, the namespace itself), or a node's; None for a step that touched no pods' place."""
    if v.kind == "Namespace" and v.name:
        return f"{v.name}/"
    if v.namespace:
        return f"{v.namespace}/"
    if v.kind == "Node" and v.name:
        return v.name
    return None


def version_search_text(v: VersionInfo) -> str:
    """What `/` matches: run, type, status, origin, action, cluster and note."""
    words = [v.run_dir, v.scenario_type, short_type(v.scenario_type), v.status, v.origin, version_origin(v),
             version_action(v), version_cluster(v), version_note(v)]
    return " ".join(words).lower()


def executed_note(label: str, results: list) -> tuple[str, str]:
    """The notification (text, severity) for executed steps (rollback.front.StepResult): the
    count every client prints (``front.summarize``), then why a step was not run here (a skip
    not known undone: held by another executor, archived or replaced meanwhile) or the errors."""
    from ..rollback.front import summarize

    tally = summarize(results)
    if not tally.failed:
        left = [r for r in results if r.status == "skipped" and not r.undone]
        note = f": {one_line(left[0].error)}" if left else ""
        return f"executed {label}: {tally.text()}{note}", "warning" if left else "information"
    failed = [r for r in results if r.status not in ("executed", "skipped")]
    errors = "\n".join(f"{r.path.name}: {r.status}: {one_line(r.error)}" for r in failed[:5])
    return f"{label}: {tally.text()}\n{errors}", "error"


# -- the cluster journal ------------------------------------------------------------------------

def journal_pair(v: VersionInfo) -> tuple[str, str]:
    """The (run id, file name) a step is journaled under."""
    return v.run_dir, pending_name(v.path.name)


def is_cluster_only(v: VersionInfo) -> bool:
    """A row made from a journal entry that has no file here (another machine's run)."""
    return v.journal_entry is not None


def journal_cell(v: VersionInfo, entries: dict | None) -> str:
    """Whether a local step is mirrored in the cluster journal, and its state there.
    ``entries`` None: the journal is off or could not be read."""
    if is_cluster_only(v):
        return "cluster only"
    if entries is None:
        return ""
    entry = entries.get(journal_pair(v))
    return f"✓ {entry.state}" if entry is not None else "–"
