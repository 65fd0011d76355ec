"""The undo operations a journal entry may name: krkn-tui's own functions, never code from the cluster.

Each scenario plugin lists the undo functions its steps register (``ScenarioPlugin.undo_functions``);
an operation is named ``<scenario_type>.<function name>``. A journal entry holds such a name and
the step's data; whoever runs it (the guard, a ``--cluster`` command) looks the name up here and
calls that function with ``RollbackContent(namespace, resource_identifier, data)`` and its API
client. A name that is not here is refused; nothing read from the cluster is compiled.

Least privilege: what the guard restores of a captured namespace leaves its Secrets (their values
never enter the cluster: the entry holds them redacted) and its RBAC (Roles and RoleBindings: the
guard is granted no RBAC writes) to the operator, whose local version file has them all. An
operation that execs into a pod (``ScenarioPlugin.undo_needs_exec``) is not run by the guard at
all: exec into any pod is code execution anywhere, so the guard is granted no pods/exec; the step
is recorded ``operator`` (``OPERATOR_NOTE``) and waits for the operator's execute-rollback. But
where the plugin names a substitute (``ScenarioPlugin.guard_undo``) and the step's data its place
in its chaos pod's own undo list, the guard calls that instead: it deletes the pod, whose TERM
trap undoes the step (scenarios/trap_undo.py), and reads what the trap did.

The registry lives here, on the rollback floor, and the scenario floor above registers into it
(``scenarios.base.register`` hands each plugin's lists to ``register``), so nothing here imports
a plugin. A plugin registers when its module is imported; the operations of plugins nobody
imported yet come from one loader the composition root installs (``install_ops_loader``, called
first thing by ``cli.main``, the process entry of every command, the console and the in-cluster
guard). Every lookup runs that loader once before it answers, so an entry is never judged on a
partial registry; with no loader installed and no full load done, a lookup raises
``OperationsNotLoaded`` (a programming error, loud) rather than call a known operation unknown:
a refusal would be recorded in the journal and the step would never be retried.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .content import RollbackContent

# Objects of a captured namespace the guard does not re-create (see the module's doc).
GUARD_LEAVES = ("Secret", "Role", "RoleBinding")
# The line the guard records for a step it leaves whole to the operator.
OPERATOR_NOTE = ("left to the operator: needs pods/exec, which the guard is not granted; "
                 "`execute-rollback` on the operator's machine undoes it")


class UnknownOperation(ValueError):
    """The name is not one of krkn-tui's undo operations (one line)."""


class OperationsNotLoaded(RuntimeError):
    """An operation was looked up in a process that installed no loader (see the module's doc)."""


_ops: dict[str, Callable] = {}  # name -> function, as the plugins registered them
_exec: set[str] = set()  # the names of those that exec into a pod
_guard: dict[str, Callable] = {}  # name of an exec operation -> the guard's substitute for it
_loader: Callable[[], object] | None = None
_complete = False  # the loader ran: every plugin has registered


def op_name(scenario_type: str, fn: Callable) -> str:
    return f"{scenario_type}.{getattr(fn, '__name__', '?')}"


def register(scenario_type: str, functions: Iterable[Callable], exec_functions: Iterable[Callable] = (),
             guard_functions: dict[Callable, Callable] | None = None) -> None:
    """Add a plugin's undo functions (``exec_functions``: those of them that exec into a pod;
    ``guard_functions``: an exec function -> what the guard calls instead); TypeError when a name
    is taken by another function or an exec function is not among them."""
    functions, exec_functions = tuple(functions), tuple(exec_functions)
    named = {op_name(scenario_type, fn): fn for fn in functions}
    for name, fn in named.items():
        if _ops.get(name, fn) is not fn:
            raise TypeError(f"undo operation {name!r} is registered twice")
    stray = [op_name(scenario_type, fn) for fn in exec_functions if fn not in functions]
    if stray:
        raise TypeError(f"{stray} exec into a pod but are not undo operations of {scenario_type!r}")
    _ops.update(named)
    _exec.update(op_name(scenario_type, fn) for fn in exec_functions)
    _guard.update((op_name(scenario_type, fn), instead) for fn, instead in (guard_functions or {}).items())


def install_ops_loader(load: Callable[[], object]) -> None:
    """``load`` imports every plugin (they register as they are imported); a lookup calls it once."""
    global _loader
    _loader = load


def ready() -> bool:
    """Whether a lookup can answer: every plugin has registered, or a loader will make them."""
    return _complete or _loader is not None


def _all() -> dict[str, Callable]:
    global _complete
    if not _complete:
        if _loader is None:
            raise OperationsNotLoaded("the undo operations were looked up before the scenario plugins were "
                                      "loaded: the process entry must call install_ops_loader first")
        _loader()
        _complete = True
    return _ops


def undo_ops() -> dict[str, Callable]:
    """Every operation, by name, from the scenario plugins' own lists."""
    return dict(_all())


def needs_exec(op: object) -> bool:
    """Whether the operation execs into a pod (the plugin lists it in ``undo_needs_exec``)."""
    _all()
    return op in _exec


def guard_undo(op: object, content: RollbackContent) -> Callable | None:
    """What the guard calls for an operation that execs (``ScenarioPlugin.guard_undo``): the
    plugin's substitute when the step's data names its place in its pod's undo list (``hold``),
    else None (the step is the operator's)."""
    _all()
    if not (content.data or {}).get("hold") or not isinstance(op, str):
        return None
    return _guard.get(op)


def lookup(op: object) -> Callable:
    """The function of ``op``; UnknownOperation when krkn-tui has no such operation."""
    fn = _all().get(op) if isinstance(op, str) else None
    if fn is None:
        shown = op[:80] if isinstance(op, str) else type(op).__name__
        raise UnknownOperation(f"unknown undo operation {shown!r} (not one of krkn-tui's own)")
    return fn


def registered_op(scenario_type: str, fn: Callable) -> str:
    """The name of ``fn`` as one of ``scenario_type``'s operations; ValueError when the plugin
    does not list it (such a step cannot be journaled: nothing could run it from the cluster).
    A plugin registers as its module is imported, so a run's own plugin needs no loader."""
    name = op_name(scenario_type, fn)
    known = _ops.get(name)
    if known is None and ready():  # a shared function, named for a plugin not imported yet
        known = _all().get(name)
    if known is not fn:
        raise ValueError(f"{getattr(fn, '__qualname__', fn)!r} is not an undo operation of scenario type "
                         f"{scenario_type!r}; the cluster journal records only krkn-tui's own operations")
    return name


def content_of(raw: object) -> RollbackContent:
    """The entry's ``content`` as the function receives it; ValueError when its fields are unfit."""
    if not isinstance(raw, dict):
        raise ValueError("content is not a mapping")
    namespace, ident, data = raw.get("namespace"), raw.get("resource_identifier", ""), raw.get("data")
    if namespace is not None and not isinstance(namespace, str):
        raise ValueError("content.namespace is not a string")
    if not isinstance(ident, str):
        raise ValueError("content.resource_identifier is not a string")
    if data is not None and not isinstance(data, dict):
        raise ValueError("content.data is not a mapping")
    return RollbackContent(resource_identifier=ident, namespace=namespace, data=data)


def guard_content(content: RollbackContent) -> tuple[RollbackContent, list[str]]:
    """``content`` without the captured objects the guard leaves to the operator, and those
    objects named (``Secret team/db``) so the record can say what was left."""
    objects = (content.data or {}).get("objects")
    if not isinstance(objects, list):
        return content, []
    kept, left = [], []
    for obj in objects:
        kind = obj.get("kind") if isinstance(obj, dict) else None
        if kind in GUARD_LEAVES:
            name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
            left.append(f"{kind} {content.namespace or '?'}/{name or '?'}")
        else:
            kept.append(obj)
    if not left:
        return content, []
    data = {**content.data, "objects": kept}
    return RollbackContent(content.resource_identifier, content.namespace, data), left


def left_note(left: list[str]) -> str:
    """The one line the guard records for a restore that left objects to the operator."""
    shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
    return (f"restored without {len(left)} object(s) left to the operator ({'/'.join(GUARD_LEAVES)}s are not "
            f"restored by the guard; the local version file has them; execute-rollback restores them): {shown}")
