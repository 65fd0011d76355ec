"""The timeline's entry for each engine event type: a registry, as the console's handlers and the
command line's renderings are (the events test checks every type is registered, on the time axis
or explicitly not). Apart from ``timeline`` so that the console's first frame does not load the
events module: the console imports this with its first batch of events."""

from __future__ import annotations

from functools import singledispatch

from . import events as ev
from .timeline import TimelineEntry, pods_touched


def entry_for_event(event: ev.Event, at: float | None = None) -> TimelineEntry | None:
    """The timeline's entry for an engine event, or None when it is not on the time axis."""
    import time

    return _entry(event, at if at is not None else time.time())


@singledispatch
def _entry(event: ev.Event, at: float) -> TimelineEntry | None:
    """A type not registered yet: not on the time axis (never a crash of a run)."""
    return None


@_entry.register(ev.IterationStarted)
@_entry.register(ev.Step)
@_entry.register(ev.Waiting)
@_entry.register(ev.RunArchived)
@_entry.register(ev.RollbackRegistered)
@_entry.register(ev.RollbackStarted)
@_entry.register(ev.RollbackRetrying)
@_entry.register(ev.RollbackClusterForced)
@_entry.register(ev.RollbackArchived)
@_entry.register(ev.StaleTempRemoved)
@_entry.register(ev.SecretsRevealed)
@_entry.register(ev.RollbackExecutedElsewhere)
@_entry.register(ev.JournalStateDistrusted)
@_entry.register(ev.LeaseHeldPastBound)
@_entry.register(ev.RollbackFromJournal)
@_entry.register(ev.RunLeftAlone)
@_entry.register(ev.JournalNotUpdated)
@_entry.register(ev.GuardStarted)
@_entry.register(ev.GuardTakeover)
@_entry.register(ev.GuardIdle)
@_entry.register(ev.GuardSeesHalt)
@_entry.register(ev.JournalUnavailable)
@_entry.register(ev.RollbackRunFinished)
@_entry.register(ev.ScenarioPreviewed)
@_entry.register(ev.CheckProbed)
def _(event: ev.Event, at: float) -> TimelineEntry | None:
    """Not on the time axis: progress lines, retries, the journal's and the guard's doings, every
    probe (a check's transitions are), and what a step-level entry already says."""
    return None


@_entry.register
def _(event: ev.ScenarioStarted, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "scenario", f"{event.id} started ({event.scenario_type})")


@_entry.register
def _(event: ev.ScenarioFinished, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "scenario", f"{event.id} {event.status} after {event.seconds:.1f}s",
                         "good" if event.status == "passed" else "bad")


@_entry.register
def _(event: ev.ClusterChange, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "scenario", f"changed: {event.action} {event.target}".rstrip(), "bad",
                         pods=pods_touched(event.action, event.fields))


@_entry.register
def _(event: ev.CheckChanged, at: float) -> TimelineEntry | None:
    return TimelineEntry(event.at or at, "check", f"{event.name} {event.state} ({event.phase}): {event.seen}",
                         "good" if event.state == "passing" else "bad")


@_entry.register
def _(event: ev.CheckAborted, at: float) -> TimelineEntry | None:
    return TimelineEntry(event.at or at, "check", f"{event.name} failed: stopping the run ({event.seen})", "bad")


@_entry.register
def _(event: ev.RunHalted, at: float) -> TimelineEntry | None:
    return TimelineEntry(event.at or at, "run", f"{event.source}: {event.detail}", "bad")


@_entry.register
def _(event: ev.RollbackRunStarted, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "rollback", f"rollback of {event.files} file(s) started: {event.reason}")


@_entry.register
def _(event: ev.RollbackStepDone, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "rollback", f"{event.STATUS}: {event.file_name}" + (
        f" ({event.error})" if event.error else ""), "good" if event.STATUS == "executed" else "bad")


@_entry.register
def _(event: ev.RunStarted, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "run", "run started")


@_entry.register
def _(event: ev.RunFinished, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "run", f"run {event.status}", "good" if event.status == "passed" else "bad")


@_entry.register
def _(event: ev.SteadyState, at: float) -> TimelineEntry | None:
    return TimelineEntry(at, "check", f"steady state {event.phase}: " + (
        "ok" if event.ok else f"failing ({', '.join(event.failing)})"), "good" if event.ok else "bad")


@_entry.register
def _(event: ev.ScenarioVerdicts, at: float) -> TimelineEntry | None:
    bad = ((event.scenario.get("critical_alerts") or {}).get("fails") is True
           or (event.scenario.get("cerberus") or {}).get("go") is False)
    score = (event.scenario.get("resiliency") or {}).get("score")
    return TimelineEntry(at, "check", f"verdicts after {event.name}" + (f": score {score}" if score is not None
                                                                        else ""), "bad" if bad else "info")


@_entry.register
def _(event: ev.RunVerdicts, at: float) -> TimelineEntry | None:
    failure = event.monitoring.get("failure")
    score = (event.monitoring.get("resiliency") or {}).get("score")
    return TimelineEntry(at, "run", "verdicts of the run" + (f": score {score}" if score is not None else "")
                         + (f", fails it ({failure})" if failure else ""), "bad" if failure else "good")


registry = _entry.registry  # the events test reads which types have an entry function
dispatch = _entry.dispatch
