"""The scenario plugin interface: one small base class and a registry by scenario type.

A plugin owns its scenario type: krkn's name for it, its spec parser, its short name in the
console and the one-line description of a spec; every list of types is read from the registry
(``krkn_tui.scenarios``). It turns one parsed spec into changes on the cluster. Before each
change it registers the rollback with `ctx.set_rollback_callable(...)`; the version file is on
disk when that returns.

Plugin modules are imported to load a config (the registry says which types exist), so they
import nothing heavy at module level: the kubernetes client is imported where it is used."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ..rollback.undo_ops import register as register_undo_ops
from ..signals import wait_for_stop
from ..statuses import ScenarioStatus
from ..yamlio import load_yaml_file

if TYPE_CHECKING:
    from ..events import Event
    from ..rollback import Executor, RollbackContent, RunRollback

DEFAULT_PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
# How long a scenario waits for another executor that holds its restore step: longer than that
# executor retries an unreachable API server for one step (its retry deadline, 60 s by default).
RESTORE_WAIT = 120.0


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
    status: ScenarioStatus = ScenarioStatus.PASSED
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a plugin may name its status as the plain string
        self.status = ScenarioStatus(self.status)


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
    restore_wait: float = RESTORE_WAIT

    def log(self, message: str, progress: float | None = None) -> None:
        from ..events import Step  # events are imported by a run, not by loading a config

        self.emit(Step(self.scenario_type, str(self.file), message, progress))

    def audit(self, action: str, **fields: Any) -> None:
        """Record a change made to the cluster (the audit log is append-only JSONL)."""
        from ..events import ClusterChange

        self.emit(ClusterChange(action, self.scenario_type, fields))

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("stop requested")

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once when a stop is requested."""
        if seconds > 0 and wait_for_stop(self.stop, seconds):
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
        from ..rollback.journal.entries import JournalError
        from ..rollback.signing import SigningError

        # The registry itself emits RollbackRegistered (the engine passes it our emit).
        try:
            return self.rollback.set_rollback_callable(fn, content, scenario_type=self.scenario_type, verb=verb,
                                                       kind=kind)
        except JournalError as e:
            raise ScenarioFailed(f"cluster journal: {e}; the change was not made") from None
        except SigningError as e:  # the manifest line is signed before the file is written
            raise ScenarioFailed(f"signing key: {e}; the change was not made") from None

    def restore(self, path: Path | None) -> None:
        """Undo one change by executing its version file, the same code a rollback runs (the
        executor reports the step: RollbackExecuted, or the failure raised here).

        It passes only when the change is known undone: executed here, or verifiably by another
        executor. While another executor holds the step, it asks again (up to ``restore_wait``
        seconds; a stop ends the wait). Anything else (failed, refused, archived or replaced
        meanwhile) fails the scenario; a step still pending is left to the run's rollback."""
        if path is None:  # dry run: nothing was registered
            return

        def settled():
            [step] = self.executor.execute([path])
            return None if step.busy else step

        step = settled()
        if step is None:
            self.log(f"{path.name} is being run by another executor; waiting up to {self.restore_wait:g}s for it")
            step = self.wait_until(settled, self.restore_wait)
            if step is None:
                raise ScenarioFailed(f"restoring {path.name}: still being run by another executor after "
                                     f"{self.restore_wait:g}s; the change may still be in force")
        if step.undone:
            return
        if step.status == "skipped":
            raise ScenarioFailed(f"restoring {path.name} skipped, the change may still be in force: {step.error}")
        raise ScenarioFailed(f"restoring {path.name} {step.status}: {step.error}")


class ScenarioPlugin(ABC):
    """Subclasses set the class attributes, implement `parse_data`, `describe` and `run`, and
    are decorated with `@register`."""

    scenario_type: ClassVar[str]  # krkn's name, the key in config.yaml's chaos_scenarios
    short_name: ClassVar[str]  # the console's label for the type
    # The undo functions its steps register: the cluster journal names them "<type>.<name>" and
    # the guard runs only these (rollback/undo_ops.py), never code read back from the cluster.
    undo_functions: ClassVar[tuple[Callable, ...]] = ()
    # Those of them that exec into a pod: the guard is granted no pods/exec, so it leaves their
    # steps to the operator's execute-rollback (state ``operator`` in the journal).
    undo_needs_exec: ClassVar[tuple[Callable, ...]] = ()
    # What the guard calls instead of such a function, with the step's data, where the step's
    # data names its place in its chaos pod's own undo list (trap_undo.py: delete the pod, whose
    # TERM trap undoes it); a step without one stays the operator's.
    guard_undo: ClassVar[dict[Callable, Callable]] = {}

    @staticmethod
    @abstractmethod
    def parse_data(data: Any, file: str | Path) -> list[Any]:
        """Validate a scenario file's loaded YAML into specs; UserError naming file and field."""

    @staticmethod
    @abstractmethod
    def describe(spec: Any) -> str:
        """The few parameters that say what one spec will do, on one line."""

    @classmethod
    def parse(cls, path: str | Path) -> list[Any]:
        """Load ``path`` and validate it; UserError naming the file."""
        return cls.parse_data(load_yaml_file(path, what="scenario"), path)

    @abstractmethod
    def run(self, spec: Any, ctx: ScenarioContext) -> Outcome:
        """Apply the chaos described by `spec`. Raise Interrupted/ScenarioFailed, or return."""

    def preview(self, spec: Any, ctx: ScenarioContext) -> list:
        """What `run` would touch, as preview.Targets, from read-only calls; ScenarioFailed when
        it would match nothing or be refused. Plugins without one preview nothing."""
        return []


REGISTRY: dict[str, type[ScenarioPlugin]] = {}


def register(cls: type[ScenarioPlugin]) -> type[ScenarioPlugin]:
    """Add the plugin to the registry by type, and its undo functions to the rollback floor's
    (the journal's readers look them up there, never here)."""
    if cls.scenario_type in REGISTRY and REGISTRY[cls.scenario_type] is not cls:
        raise TypeError(f"scenario type {cls.scenario_type!r} is registered twice")
    register_undo_ops(cls.scenario_type, cls.undo_functions, cls.undo_needs_exec, cls.guard_undo)
    REGISTRY[cls.scenario_type] = cls
    return cls


def plugin_for(scenario_type: str) -> ScenarioPlugin:
    from . import plugin_class

    return plugin_class(scenario_type)()


def target_namespace(ctx: ScenarioContext, namespace: str):
    """Refuse a protected or missing namespace before anything is registered; returns CoreV1Api.
    The plugins that act in one namespace share it from here (a plugin never imports a sibling)."""
    from kubernetes import client

    ctx.guard_namespace(namespace)
    core = client.CoreV1Api(ctx.api_client)
    try:
        core.read_namespace(namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise ScenarioFailed(f"namespace {namespace!r} does not exist") from None
        raise
    return core
