"""Blast radius: what a scenario will touch, read from the cluster before anything changes.

Each plugin's ``preview(spec, ctx)`` lists its targets (read-only calls) and raises
ScenarioFailed when the scenario would hit nothing or be refused; `preview_plan` turns that into
one `ScenarioPreview` per spec, a failure marked as such. The command line (`run --dry-run`) and
the console's confirm dialog show the same previews.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterable

from .base import ScenarioFailed, ScenarioContext, plugin_for

FIRST_NAMES = 5  # how many names a preview line shows before "+N more"


@dataclass(frozen=True)
class Targets:
    kind: str  # pods, nodes, namespaces, NetworkPolicies, Deployments...
    names: tuple[str, ...]
    action: str  # what happens to them, e.g. "1 deleted (random)"
    # The namespaces whose pods this touches (the run watches their pods); the names are labels.
    pod_namespaces: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.names)

    def line(self) -> str:
        shown = ", ".join(self.names[:FIRST_NAMES])
        more = f" +{self.count - FIRST_NAMES} more" if self.count > FIRST_NAMES else ""
        kind = _SINGULAR.get(self.kind, self.kind) if self.count == 1 else self.kind
        return f"{self.count} {kind} ({shown}{more}): {self.action}" if self.names else \
            f"0 {self.kind}: {self.action}"


_SINGULAR = {"pods": "pod", "nodes": "node", "namespaces": "namespace", "NetworkPolicies": "NetworkPolicy",
             "workloads": "workload"}


@dataclass(frozen=True)
class ScenarioPreview:
    index: int
    scenario_type: str
    file: str
    id: str
    targets: tuple[Targets, ...] = ()
    problem: str | None = None  # set: the scenario would fail (matches nothing, refused)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def lines(self) -> list[str]:
        head = f"[{self.index}] {self.scenario_type} [{self.id}]"
        if self.problem:
            return [f"{head}: FAILS before any change: {self.problem}"] + [f"    {t.line()}" for t in self.targets]
        return [f"{head}:"] + [f"    {t.line()}" for t in self.targets]


def fail_with(found: list[Targets], message: str) -> None:
    """ScenarioFailed carrying the targets found so far, so a failing preview still shows them."""
    raise ScenarioFailed(message, {"targets": found})


def targets(kind: str, names: Iterable[str], action: str, pod_namespaces: Iterable[str] = ()) -> Targets:
    return Targets(kind, tuple(sorted(names)), action, tuple(sorted(set(pod_namespaces))))


def preview_plan(planned: Iterable[Any], api_client: Any, config: Any) -> list[ScenarioPreview]:
    """One preview per spec of every planned scenario (engine.plan's items), in plan order."""
    ctx = ScenarioContext(api_client=api_client, rollback=None, scenario_type="", file=config.path,
                          stop=threading.Event(), emit=lambda _e: None, executor=None,
                          protected_namespaces=config.protected_namespaces, allow_protected=config.allow_protected,
                          dry_run=True)  # dry run: nothing can be registered or changed through it
    out = []
    for item in planned:
        if getattr(item, "skipped", None):  # krkn's types this console does not run
            continue
        plugin = plugin_for(item.scenario_type)
        for spec_index, spec in enumerate(item.specs):
            label = getattr(spec, "id", None) or f"{item.file.name}#{spec_index}"
            found: list[Targets] = []
            problem = None
            try:
                found = list(plugin.preview(spec, ctx))
            except ScenarioFailed as e:  # an API error is not this: it propagates to the caller
                problem = str(e)
                found = list(e.details.get("targets", []))
            out.append(ScenarioPreview(item.index, item.scenario_type, str(item.file), label, tuple(found), problem))
    return out
