"""The scenario plugin interface: one small base class and a registry by scenario type.

A plugin turns one parsed spec into changes on the cluster. Before each change it registers the
rollback with `ctx.set_rollback_callable(...)`; the version file is on disk when that returns."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from ..events import ClusterChange, Event, Step
from ..rollback import Executor, RollbackContent, RunRollback

DEFAULT_PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


class Interrupted(Exception):
    """A stop was requested (signal, emergency-stop key): unwind and roll back."""


class ScenarioFailed(Exception):
    """The scenario ran but its goal was not met (e.g. a pod did not recover). `details` goes
    into the run report like a passing Outcome's."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details or {}


@dataclass
class Outcome:
    status: str = "passed"  # passed | failed | interrupted | error
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioContext:
    """What a plugin may use. Plugins never touch signals, files or the UI directly."""

    api_client: Any
    rollback: RunRollback
    scenario_type: str
    file: Path
    stop: threading.Event
    emit: Callable[[Event], None]
    executor: Executor
    protected_namespaces: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES
    allow_protected: bool = False
    dry_run: bool = False

    def log(self, message: str, progress: float | None = None) -> None:
        self.emit(Step(self.scenario_type, str(self.file), message, progress))

    def audit(self, action: str, **fields: Any) -> None:
        """Record a change made to the cluster (the audit log is append-only JSONL)."""
        self.emit(ClusterChange(action, self.scenario_type, fields))

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("stop requested")

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when a stop is requested."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Interrupted("stop requested")
        self.check_stop()

    def wait_until(self, check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
        """Poll `check` until it returns a truthy value or `timeout` passes (then None)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_stop()
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                return None
            self.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def guard_namespace(self, namespace: str) -> None:
        if namespace in self.protected_namespaces and not self.allow_protected:
            raise ScenarioFailed(
                f"namespace {namespace!r} is protected; set kraken.allow_protected_namespaces to allow it")

    def set_rollback_callable(self, fn: Callable, content: RollbackContent, *, verb: str, kind: str) -> Path | None:
        """Write the rollback version file (fsynced) before the caller changes the cluster."""
        if self.dry_run:
            return None
        from ..rollback.journal import JournalError

        # The registry itself emits RollbackRegistered (the engine passes it our emit).
        try:
            return self.rollback.set_rollback_callable(fn, content, scenario_type=self.scenario_type, verb=verb,
                                                       kind=kind)
        except JournalError as e:
            raise ScenarioFailed(f"cluster journal: {e}; the change was not made") from None

    def restore(self, path: Path | None) -> None:
        """Undo one change by executing its version file, the same code a rollback runs (the
        executor reports the step: RollbackExecuted, or the failure raised here)."""
        if path is None:  # dry run: nothing was registered
            return
        [step] = self.executor.execute([path])
        if step.status not in ("executed", "skipped"):
            raise ScenarioFailed(f"restoring {path.name} {step.status}: {step.error}")


class ScenarioPlugin(ABC):
    """Subclasses set `scenario_type` and implement `run`; specs come from `parse`."""

    scenario_type: ClassVar[str]

    @classmethod
    def parse(cls, path: Path) -> list[Any]:
        from .specs import parse_scenario_file

        return parse_scenario_file(cls.scenario_type, path)

    @abstractmethod
    def run(self, spec: Any, ctx: ScenarioContext) -> Outcome:
        """Apply the chaos described by `spec`. Raise Interrupted/ScenarioFailed, or return."""

    def preview(self, spec: Any, ctx: ScenarioContext) -> list:
        """What `run` would touch, as preview.Targets, from read-only calls; ScenarioFailed when
        it would match nothing or be refused. Plugins without one preview nothing."""
        return []


REGISTRY: dict[str, type[ScenarioPlugin]] = {}


def register(cls: type[ScenarioPlugin]) -> type[ScenarioPlugin]:
    REGISTRY[cls.scenario_type] = cls
    return cls


def plugin_for(scenario_type: str) -> ScenarioPlugin:
    from . import load_plugins
    from ..errors import UserError

    load_plugins()
    try:
        return REGISTRY[scenario_type]()
    except KeyError:
        raise UserError(f"unknown scenario type {scenario_type!r} (known: {', '.join(sorted(REGISTRY))})") from None
