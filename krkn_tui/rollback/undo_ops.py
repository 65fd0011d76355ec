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
"""

from __future__ import annotations

from typing import Callable

from .content import RollbackContent

# Objects of a captured namespace the guard does not re-create (see the module's doc).
GUARD_LEAVES = ("Secret", "Role", "RoleBinding")
# The line the guard records for a step it leaves whole to the operator.
OPERATOR_NOTE = ("left to the operator: needs pods/exec, which the guard is not granted; "
                 "`execute-rollback` on the operator's machine undoes it")


class UnknownOperation(ValueError):
    """The name is not one of krkn-tui's undo operations (one line)."""


def op_name(scenario_type: str, fn: Callable) -> str:
    return f"{scenario_type}.{getattr(fn, '__name__', '?')}"


def undo_ops() -> dict[str, Callable]:
    """Every operation, by name, from the scenario plugins' own lists."""
    from ..scenarios import load_plugins

    return {op_name(kind, fn): fn for kind, plugin in load_plugins().items() for fn in plugin.undo_functions}


def needs_exec(op: object) -> bool:
    """Whether the operation execs into a pod (the plugin lists it in ``undo_needs_exec``)."""
    from ..scenarios import load_plugins

    return any(op == op_name(kind, fn) for kind, plugin in load_plugins().items() for fn in plugin.undo_needs_exec)


def guard_undo(op: object, content: RollbackContent) -> Callable | None:
    """What the guard calls for an operation that execs (``ScenarioPlugin.guard_undo``): the
    plugin's substitute when the step's data names its place in its pod's undo list (``hold``),
    else None (the step is the operator's)."""
    from ..scenarios import load_plugins

    if not (content.data or {}).get("hold"):
        return None
    for kind, plugin in load_plugins().items():
        for fn, instead in plugin.guard_undo.items():
            if op == op_name(kind, fn):
                return instead
    return None


def lookup(op: object) -> Callable:
    """The function of ``op``; UnknownOperation when krkn-tui has no such operation."""
    fn = undo_ops().get(op) if isinstance(op, str) else None
    if fn is None:
        shown = op[:80] if isinstance(op, str) else type(op).__name__
        raise UnknownOperation(f"unknown undo operation {shown!r} (not one of krkn-tui's own)")
    return fn


def registered_op(scenario_type: str, fn: Callable) -> str:
    """The name of ``fn`` as one of ``scenario_type``'s operations; ValueError when the plugin
    does not list it (such a step cannot be journaled: nothing could run it from the cluster)."""
    name = op_name(scenario_type, fn)
    if undo_ops().get(name) is not fn:
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
