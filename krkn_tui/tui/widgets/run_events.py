"""The run panel's handler of each engine event type (a test checks none is missing).

Apart from the panel so that the console's first frame does not wait for the events module:
imported with the first batch of events."""

from __future__ import annotations

from functools import singledispatch

from ... import events as ev
from ...report.verdicts import scenario_groups, summary
from ...rollback.front import summarize
from ..rows import tilde
from .run_panel import RunPanel


@singledispatch
def apply_event(event: ev.Event, panel: RunPanel) -> None:
    """An event type this panel does not know yet: ignored, never a crash of the console."""


@apply_event.register
def _(e: ev.RunStarted, panel: RunPanel) -> None:
    panel.set_status(f"running {e.scenarios} scenario(s) · run {e.run_id or ''}")


@apply_event.register
def _(e: ev.IterationStarted, panel: RunPanel) -> None:
    panel.set_status(f"running {e.label} · run {e.run_id or ''}")
    panel.run_log(f"{e.label} started" + (": repeats until stopped (E-STOP ends it)" if e.daemon else ""))


@apply_event.register
def _(e: ev.ScenarioStarted, panel: RunPanel) -> None:
    block = panel.blocks.get(e.index)
    panel.current = None
    if block is not None:
        panel.scenario_started(block)
        block.set_status("running")
        block.progress(0)
        block.log_line(f"started {e.id} (iteration {e.iteration + 1})")


@apply_event.register
def _(e: ev.Step, panel: RunPanel) -> None:
    if panel.current is not None:
        panel.current.log_line(e.message)
        if e.progress is not None:
            panel.current.progress(float(e.progress))


@apply_event.register
def _(e: ev.RollbackRegistered, panel: RunPanel) -> None:
    panel._step_log(f"rollback registered: {e.verb} {e.kind} {e.target}")


@apply_event.register
def _(e: ev.ClusterChange, panel: RunPanel) -> None:
    if panel.current is not None:
        panel.current.log_line(f"changed: {e.action} {e.target}".rstrip())


@apply_event.register
def _(e: ev.Waiting, panel: RunPanel) -> None:
    panel.run_log(f"waiting {e.seconds:g}s before the next scenario")


@apply_event.register
def _(e: ev.ScenarioFinished, panel: RunPanel) -> None:
    block = panel.blocks.get(e.index)
    if block is not None:
        block.finish(e)


@apply_event.register
def _(e: ev.RollbackRunStarted, panel: RunPanel) -> None:
    panel.rolling_back = True
    panel.set_status(f"rolling back {e.files} file(s): {e.reason}")
    panel.run_log(f"rollback started ({e.reason}): {e.files} pending file(s)")


@apply_event.register
def _(e: ev.RollbackStarted, panel: RunPanel) -> None:
    if panel.rolling_back:
        panel.set_status(f"rolling back: {e.file_name}")


@apply_event.register
def _(e: ev.RollbackRetrying, panel: RunPanel) -> None:
    panel._step_log(f"{e.file_name}: API server not available; retrying in {e.delay:.1f}s (attempt {e.attempt})")


@apply_event.register
def _(e: ev.RollbackExecuted, panel: RunPanel) -> None:
    panel._step_log(f"rollback step executed: {e.file_name}" if panel.rolling_back else f"restored: {e.file_name}")


@apply_event.register
def _(e: ev.RollbackFailed, panel: RunPanel) -> None:
    panel._step_log(f"rollback step FAILED: {e.file_name}: {e.error}")


@apply_event.register
def _(e: ev.RollbackRefused, panel: RunPanel) -> None:
    panel._step_log(f"rollback step refused: {e.file_name}: {e.error}")


@apply_event.register
def _(e: ev.RollbackExecutedElsewhere, panel: RunPanel) -> None:
    panel._step_log(f"rollback step already executed from the cluster journal: {e.file_name}")


@apply_event.register
def _(e: ev.JournalStateDistrusted, panel: RunPanel) -> None:
    panel._step_log(f"rollback step the cluster journal calls executed, without a trusted signature: {e.file_name}: "
                    "running it")


@apply_event.register
def _(e: ev.RollbackClusterForced, panel: RunPanel) -> None:
    panel._step_log(f"rollback step of another cluster, run anyway (--force-cluster): {e.file_name}: {e.error}")


@apply_event.register(ev.GuardStarted)
@apply_event.register(ev.LeaseHeldPastBound)
@apply_event.register(ev.GuardTakeover)
@apply_event.register(ev.GuardIdle)
@apply_event.register(ev.GuardSeesHalt)
@apply_event.register(ev.JournalUnavailable)
@apply_event.register(ev.RollbackFromJournal)
def _(e: ev.Event, panel: RunPanel) -> None:
    """Only `krkn-tui guard` reports these, and the console runs no guard: what a guard did
    reaches the console through the journal (the versions view's journal column)."""


@apply_event.register
def _(e: ev.RunLeftAlone, panel: RunPanel) -> None:
    panel.run_log(f"run {e.run_id} left alone: {e.error}")


@apply_event.register
def _(e: ev.JournalNotUpdated, panel: RunPanel) -> None:
    panel.run_log("cluster journal not updated" + (f" for {e.file}" if e.file else "") + f": {e.error}")


@apply_event.register
def _(e: ev.StaleTempRemoved, panel: RunPanel) -> None:
    panel.run_log(f"removed {e.file_name}: left by a writer that died mid-write")


@apply_event.register
def _(e: ev.RollbackArchived, panel: RunPanel) -> None:
    pass  # a run's archive is said once, by RunArchived


@apply_event.register
def _(e: ev.SecretsRevealed, panel: RunPanel) -> None:
    pass  # said by the inspect view that revealed them, not part of a run


@apply_event.register
def _(e: ev.RollbackRunFinished, panel: RunPanel) -> None:
    panel.rolling_back = False
    panel.run_log(f"rollback finished: {summarize(e.steps).text()}")


@apply_event.register
def _(e: ev.RunArchived, panel: RunPanel) -> None:
    panel.run_log(f"run passed: {e.files} version file(s) archived")


@apply_event.register
def _(e: ev.RunFinished, panel: RunPanel) -> None:
    report = f" · report {tilde(e.report)}" if e.report else ""
    panel.set_status(f"run {e.status} (exit {e.exit_code}){report}")
    panel.set_class(e.status != "passed", "-failed")
    panel.set_class(e.status == "passed", "-passed")
    panel.run_log(f"run {e.status} (exit {e.exit_code})")

# -- steady-state checks and the blast radius: the run log, the header's check strip, the
# pod event log (transitions), and the timeline (the app adds every event to it) ----------


@apply_event.register
def _(e: ev.ScenarioPreviewed, panel: RunPanel) -> None:
    for line in e.lines:
        panel.run_log(line)


@apply_event.register
def _(e: ev.CheckProbed, panel: RunPanel) -> None:
    panel.post_message(panel.CheckEvent(e))  # the header's strip is the app's


@apply_event.register
def _(e: ev.CheckChanged, panel: RunPanel) -> None:
    panel.run_log(f"check {e.name}: {e.state} ({e.phase}): {e.seen}")
    panel.post_message(panel.CheckEvent(e))


@apply_event.register
def _(e: ev.CheckAborted, panel: RunPanel) -> None:
    panel.set_status(f"check {e.name} failed: stopping and rolling back")
    panel.run_log(f"check {e.name} FAILED ({e.seen}): stopping the run and rolling back")


@apply_event.register
def _(e: ev.RunHalted, panel: RunPanel) -> None:
    then = "run refused" if e.before else "stopping and rolling back"
    panel.set_status(f"{e.source}: {then}")
    panel.run_log(f"{e.source.upper()}: {e.detail}: {then}")


@apply_event.register
def _(e: ev.SteadyState, panel: RunPanel) -> None:
    state = "ok" if e.ok else f"FAILING ({', '.join(e.failing)})"
    panel.run_log(f"steady state {e.phase}: {state}")


# -- krkn's verdicts: a line here, every row in the verdicts view (5), which the app feeds ------


@apply_event.register
def _(e: ev.ScenarioVerdicts, panel: RunPanel) -> None:
    groups = scenario_groups(e.monitoring)  # this file's is the last one judged
    rows = groups[-1].rows if groups else ()
    failed = [f"{row.verdict} {row.what}: {row.result}" for row in rows if row.bad]
    score = [f"score {groups[-1].score} ({groups[-1].counted})"] if groups and groups[-1].score else []
    said = "; ".join(score + failed) or "nothing failed"
    panel._step_log(f"verdicts after {e.name}: {said} (view 5)")


@apply_event.register
def _(e: ev.RunVerdicts, panel: RunPanel) -> None:
    panel.run_log(f"verdicts: {summary(e.monitoring)} (view 5)")
