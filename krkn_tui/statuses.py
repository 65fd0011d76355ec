"""Every status the core writes: one ``StrEnum`` each, so a value compares, formats and serialises
as the plain string it always was (the JSON on disk and the audit lines are byte-identical;
tests/test_statuses.py pins the strings), while the code names each set once."""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """One executed step (rollback.executor.StepResult); only ``undone`` says the change is undone."""

    EXECUTED = "executed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run here: executed elsewhere, busy, archived or removed, left to a holder
    REFUSED = "refused"  # file untouched: unsafe, foreign, another cluster, unreadable
    WOULD_RUN = "would-run"  # a dry run's verdict


class VersionStatus(StrEnum):
    """A version file on disk (rollback.store.VersionInfo), from its name and sidecar."""

    PENDING = "pending"
    EXECUTED = "executed"
    FAILED = "failed"  # pending with a ``.failed`` record: still runnable
    ARCHIVED = "archived"


class JournalState(StrEnum):
    """A cluster journal entry's state label (rollback.journal.entries)."""

    PENDING = "pending"
    EXECUTED = "executed"
    PARTIAL = "partial"  # executed, some objects left to the operator
    OPERATOR = "operator"  # not run by the guard: the undo needs pods/exec
    FAILED = "failed"
    REFUSED = "refused"
    ARCHIVED = "archived"


class ScenarioStatus(StrEnum):
    """One scenario of a run (scenarios.base.Outcome, events.ScenarioFinished)."""

    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ERROR = "error"  # the plugin raised something else than ScenarioFailed
    SKIPPED = "skipped"  # a krkn type krkn-tui does not run


class RunStatus(StrEnum):
    """A whole run (engine.RunResult, events.RunFinished, the report's ``status``)."""

    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by a signal or E-STOP
    ABORTED = "aborted"  # a check stopped it
    REFUSED = "refused"  # the steady state failed before anything was touched
