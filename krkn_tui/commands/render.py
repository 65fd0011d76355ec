"""The command line's one renderer of events: one line per event, or None when another event
says it (a test checks that every event type has an entry here). ``printed`` is the line as a
command prints it: timed and sanitised."""

from __future__ import annotations

import time
from functools import singledispatch

from .. import events as ev
from ..sanitize import one_line, visible
from ..rollback.front import short_reason, summarize


@singledispatch
def render(event: ev.Event) -> str | None:
    raise TypeError(f"no rendering for {type(event).__name__}")


def printed(event: ev.Event, *, fold: bool = False) -> str | None:
    """What a command prints for ``event``: the time of day, then its rendering with every
    invisible character shown escaped (names and errors come from files and the cluster: shown,
    never obeyed); None when the event says nothing. ``fold``: one line whatever the text holds
    (for text read from the cluster journal), keeping the rendering's indent."""
    line = render(event)
    if not line:
        return None
    if fold:
        indent = line[:len(line) - len(line.lstrip(" "))]
        text = indent + one_line(line)
    else:
        text = visible(line, keep="\n")
    return f"[{time.strftime('%H:%M:%S')}] {text}"


@render.register
def _(e: ev.RunStarted) -> str:
    journal = f"cluster journal in namespace {e.journal}" if e.journal else "cluster journal off"
    return f"run {e.run_id}: {e.scenarios} scenario file(s), versions in {e.versions_dir}, " + (
        "dry run" if e.dry_run else journal)


@render.register
def _(e: ev.IterationStarted) -> str:
    return f"● {e.label}"


@render.register
def _(e: ev.ScenarioStarted) -> str:
    return f"▶ {e.scenario_type} {e.file} [{e.id}]"


@render.register
def _(e: ev.Step) -> str:
    pct = f" ({e.progress:.0%})" if e.progress is not None else ""
    return f"  {e.message}{pct}"


@render.register
def _(e: ev.ClusterChange) -> str:
    return f"  changed: {e.action} {e.target}".rstrip()


@render.register
def _(e: ev.Waiting) -> str | None:
    return f"  waiting {e.seconds}s" if e.seconds else None


@render.register
def _(e: ev.ScenarioFinished) -> str:
    line = f"■ {e.scenario_type} [{e.id}]: {e.status} in {e.seconds:.1f}s"
    return line + (f": {e.message}" if e.message else "")


@render.register
def _(e: ev.RunArchived) -> str:
    return f"  archived {e.files} version file(s)"


@render.register
def _(e: ev.RunFinished) -> str:
    skipped = f" ({e.skipped} skipped)" if e.skipped else ""
    return f"run {e.status}{skipped}" + (f"; report {e.report}" if e.report else "")


@render.register
def _(e: ev.RollbackRegistered) -> str:
    return f"  rollback registered: {e.verb} {e.kind} {e.target} -> {e.file}"


@render.register
def _(e: ev.RollbackStarted) -> None:
    return None  # its outcome follows at once, in one line


@render.register
def _(e: ev.RollbackRetrying) -> str:
    return (f"  {e.file_name}: API server not available ({short_reason(e.error or '')}); "
            f"retrying in {e.delay:.1f}s (attempt {e.attempt})")


@render.register
def _(e: ev.RollbackExecuted) -> str:
    return f"  rollback executed: {e.file}" + (f" ({e.error})" if e.error else "")


@render.register
def _(e: ev.RollbackFailed) -> str:
    return f"  rollback failed: {e.file}: {e.error}"


@render.register
def _(e: ev.RollbackRefused) -> str:
    return f"  rollback refused: {e.file}: {e.error}"


@render.register
def _(e: ev.RollbackExecutedElsewhere) -> str:
    return f"  rollback already executed from the cluster journal: {e.file} ({e.error})"


@render.register
def _(e: ev.RollbackClusterForced) -> str:
    return f"{e.file_name} {e.error}; running it anyway (--force-cluster, audited)"


@render.register
def _(e: ev.RollbackFromJournal) -> str:
    said = f"  rollback {e.status} from the cluster journal: "
    entry = e.file.rsplit("/", 1)[-1]
    if e.error and e.error.startswith(f"{entry} ({e.version_file})"):  # a refusal names the entry itself
        return said + e.file[:len(e.file) - len(entry)] + e.error
    return said + f"{e.file} ({e.version_file})" + (f": {e.error}" if e.error else "")


@render.register
def _(e: ev.GuardStarted) -> str:
    return (f"guard {e.holder}: journal {e.namespace} on {e.cluster}, grace {e.grace:g}s, "
            + ("once" if e.interval is None else f"every {e.interval:g}s"))


@render.register
def _(e: ev.GuardTakeover) -> str:
    if e.holder is None:
        why = "has no lease"
    elif e.expired_for is None or e.expired_for == float("inf"):
        why = f"lease of {e.holder} was never renewed"
    else:
        why = f"lease of {e.holder} expired {e.expired_for:.0f}s ago"
    todo = (f"taking over {e.steps} pending step(s) from the cluster journal, newest first" if e.steps
            else "nothing left to roll back")
    return f"run {e.run_id} {why}: {todo}"


@render.register
def _(e: ev.GuardSeesHalt) -> str:
    return f"cluster {e.detail}: runs are stopped, the guard goes on rolling back" if e.detail else \
        "cluster halt lifted"


@render.register
def _(e: ev.GuardIdle) -> str:
    return "nothing due"


@render.register
def _(e: ev.JournalUnavailable) -> str:
    return f"cluster journal not available: {e.error}" + (f"; trying again in {e.retry_in:g}s" if e.retry_in else "")


@render.register
def _(e: ev.RunLeftAlone) -> str:
    return f"run {e.run_id} left alone: {e.error}"


@render.register
def _(e: ev.JournalStateDistrusted) -> str:
    return f"{e.file_name}: {e.error}; running it"


@render.register
def _(e: ev.LeaseHeldPastBound) -> str:
    return (f"run {e.run_id}: its lease is still renewed by {e.holder}, {e.over_for:.0f}s past its bound; "
            "its rollback is blocked until that holder stops (delete the lease to let the guard roll it back)")


@render.register
def _(e: ev.JournalNotUpdated) -> str:
    return "cluster journal not updated" + (f" for {e.file}" if e.file else "") + f": {e.error}"


@render.register
def _(e: ev.StaleTempRemoved) -> str:
    return f"removed   {e.file}: left by a writer that died mid-write"


@render.register
def _(e: ev.RollbackArchived) -> str:
    return f"archived {e.archived_as}"


@render.register
def _(e: ev.SecretsRevealed) -> str:
    return f"revealed {e.count} Secret value(s) of {e.file} (audited)"


@render.register
def _(e: ev.RollbackRunStarted) -> str:
    return f"rolling back {e.files} pending file(s): {e.reason}"


@render.register
def _(e: ev.RollbackRunFinished) -> str:
    # Each step was said as it ran; this is the count.
    if not e.steps:
        return "  nothing to roll back"
    return f"rollback finished: {summarize(e.steps).text()}"


@render.register
def _(e: ev.ScenarioPreviewed) -> str:
    return "\n".join(["blast radius " + e.lines[0], *e.lines[1:]]) if e.lines else \
        f"blast radius [{e.index}] {e.scenario_type} [{e.id}]: " + (e.problem or "nothing to show")


@render.register
def _(e: ev.CheckProbed) -> None:
    return None  # said when the state changes (CheckChanged)


@render.register
def _(e: ev.CheckChanged) -> str:
    return f"  check {e.name}: {e.state} ({e.phase}): {e.seen}"


@render.register
def _(e: ev.CheckAborted) -> str:
    return f"check {e.name} failed ({e.seen}): stopping the run and rolling back"


@render.register
def _(e: ev.RunHalted) -> str:
    return f"{e.source}: {e.detail}: " + ("run refused, nothing changed" if e.before else
                                           "stopping the run and rolling back")


@render.register
def _(e: ev.SteadyState) -> str:
    if e.ok:
        return f"steady state {e.phase}: ok"
    then = ": run refused, nothing changed" if e.phase == "before" else ": not restored in time"
    return f"steady state {e.phase}: FAILING ({', '.join(e.failing)}){then}"


# -- krkn's Prometheus and cerberus verdicts ----------------------------------------------------

@render.register
def _(e: ev.ScenarioVerdicts) -> str | None:
    lines = []
    res = e.scenario.get("resiliency")
    if res:
        b = res["breakdown"]
        lines.append(f"  resiliency {e.name}: score {res['score']} ({b['passed']} of {b['passed'] + b['failed']} "
                     "SLOs passed)")
        lines += [f"    SLO failed: {s['name']}: {s['seen']}" for s in res.get("slos", ()) if not s["passed"]]
    crit = e.scenario.get("critical_alerts")
    if crit and crit["fails"]:
        why = crit.get("error") or ", ".join(a["alertname"] for a in crit["post"])
        lines.append(f"  critical alerts firing after {e.name}: {why}")
    cerb = e.scenario.get("cerberus")
    if cerb:
        lines.append(f"  cerberus go after {e.name}" if cerb["go"] else
                     f"  cerberus no-go after {e.name}: {cerb['reason']}")
    return "\n".join(lines) or None


@render.register
def _(e: ev.RunVerdicts) -> str | None:
    m = e.monitoring
    lines = [f"  alert {a['severity']}: {a['message']}" for a in m.get("alert_profile", {}).get("alerts", ())
             if a.get("fired")]
    res = m.get("resiliency") or {}
    if res.get("score") is not None:
        lines.append(f"  resiliency score {res['score']} ({res['passed_slos']} of {res['total_slos']} SLOs passed "
                     "over the run)")
    return "\n".join(lines) or None


def krkn_stdout(event: ev.Event) -> str | None:
    """A line krkn prints bare on stdout, for tools that read krkn's output (krknctl): printed
    as it is, without the time of day, on its own line."""
    if isinstance(event, ev.RunVerdicts):
        return event.krkn_report
    return None
