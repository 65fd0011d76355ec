"""Container scenarios: kill containers in pods chosen by namespace, labels or names, by exec'ing
`kill` in them as krkn does, then wait for the kubelet to restart each one.

krkn builds the command `kill <action>` from the integer `action` (1-15) and runs it with the
container's shell: a shell reads that as "send SIGTERM to PID <action>", so krkn's shipped
`action: 1` terminates the container's PID 1. The same command runs here for an integer action.
A signal name (`SIGHUP`, `KILL`...) is accepted too and runs `kill -<NAME> 1`; krkn rejects
names. An unknown name is an error.

Differences from krkn, on purpose:
- Only Running, not terminating pods are candidates (exec needs a running container), and a pod
  lacking `container_name` is not a candidate: `count` counts killable containers.
- A failed exec fails the scenario with its message (krkn retries five times and logs it).
- Recovery is the container's own: its `restartCount` must rise within `expected_recovery_time`;
  the report gives each restart's time, measured from the kill, and the new container's start
  time as the kubelet reports it.

Nothing here can be rolled back (the kubelet restarts the container, or nothing does), so no
rollback step is written; the outcome says so.
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pod_pick import running_pods
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import check_selector, keyed_entries
from ..yamlio import Section, describe

NO_ROLLBACK = "none possible: the kubelet restarts a killed container (krkn has none either)"
ALL_NAMESPACES = "*"


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    name: str = ""
    namespace: str = ALL_NAMESPACES
    label_selector: str | None = None
    pod_names: tuple[str, ...] = ()
    container_name: str = ""  # "": each chosen pod's first container
    command: str  # run with `sh -c` in the container
    action: str  # what the spec said, for describe() and the report
    count: int = 1
    expected_recovery_time: float = 120.0
    exclude_label: str | None = None
    file: Path | None = None
    field: str = ""

    @property
    def id(self) -> str | None:
        return self.name or None


_KEYS = ("name", "namespace", "label_selector", "pod_names", "container_name", "action", "count",
         "expected_recovery_time", "exclude_label")
_IGNORED = ("retry_wait",)  # in krkn's kube/container_dns.yml; krkn's plugin never reads it


def signal_command(sec: Section) -> tuple[str, str]:
    """(shell command, label) for `action`: krkn's integer 1-15, or a signal name."""
    value = sec.raw("action", blank_is_absent=False)
    if value is None:
        value = 1  # krkn's default
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 15:
            raise sec.error("action", f"only 1-15 are supported (krkn's range), got {value}")
        return f"kill {value}", f"kill {value}"
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name in signal.Signals.__members__ and not name.startswith(("SIGRT",)):
            return f"kill -{name[3:]} 1", f"{name} to PID 1"
        raise sec.error("action", f"unknown signal name {value!r} (an integer 1-15 as krkn, or a name like SIGTERM)")
    raise sec.error("action", f"expected an integer 1-15 or a signal name, got {describe(value)}")


def _entry(sec: Section) -> ContainerSpec:
    sec.reject_unknown(_KEYS, ignored=_IGNORED)
    namespace = sec.string("namespace", ALL_NAMESPACES)
    label_selector = check_selector(sec, "label_selector")
    pod_names = sec.string_list("pod_names")
    if pod_names and namespace == ALL_NAMESPACES:
        raise sec.error("namespace", "pod_names needs a namespace (krkn's rule)")
    command, action = signal_command(sec)
    return ContainerSpec(
        name=sec.string("name", ""), namespace=namespace, label_selector=label_selector, pod_names=pod_names,
        container_name=sec.string("container_name", ""), command=command, action=action,
        count=sec.integer("count", 1, minimum=1),
        expected_recovery_time=sec.number("expected_recovery_time", 120.0, above=0),
        exclude_label=check_selector(sec, "exclude_label"), file=Path(sec.file), field=sec.path)


def parse_container(data: Any, file: str | Path) -> list[ContainerSpec]:
    return keyed_entries(data, file, "scenarios", "container scenarios (- namespace: ..., action: ...)", _entry)


# ---- choosing and killing -------------------------------------------------------------------


@dataclass
class Target:
    namespace: str
    pod: str
    container: str
    node: str | None
    restarts_before: int

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


def _restart_count(pod, container: str) -> int | None:
    for st in (pod.status.container_statuses or []) if pod.status else []:
        if st.name == container:
            return st.restart_count or 0
    return None


def candidates(core, spec: ContainerSpec) -> list[Target]:
    """One killable container per running pod matching the spec, as krkn chooses them."""
    pods = running_pods(core, None if spec.namespace == ALL_NAMESPACES else spec.namespace,
                        names=spec.pod_names, label_selector=spec.label_selector or "",
                        exclude_label=spec.exclude_label or "")
    out = []
    for pod in pods:
        names = [c.name for c in pod.spec.containers]
        container = spec.container_name or names[0]
        if container not in names:
            continue
        restarts = _restart_count(pod, container)
        out.append(Target(pod.metadata.namespace, pod.metadata.name, container, pod.spec.node_name, restarts or 0))
    return sorted(out, key=lambda t: t.label)


@register
class ContainerPlugin(ScenarioPlugin):
    scenario_type = "container_scenarios"
    short_name = "container kill"
    parse_data = staticmethod(parse_container)

    @staticmethod
    def describe(spec: ContainerSpec) -> str:
        where = "all namespaces" if spec.namespace == ALL_NAMESPACES else f"ns {spec.namespace}"
        pods = ",".join(spec.pod_names) if spec.pod_names else (spec.label_selector or "all pods")
        container = spec.container_name or "first container"
        return (f"{spec.action} in {container} of {pods} ({where}) ×{spec.count}, "
                f"restart ≤{spec.expected_recovery_time:g}s, no rollback")

    def _choose(self, core, spec: ContainerSpec, ctx: ScenarioContext) -> tuple[list[Target], list[Target]]:
        found = candidates(core, spec)
        what = f"pods {', '.join(spec.pod_names)}" if spec.pod_names else f"label selector {spec.label_selector!r}"
        where = "any namespace" if spec.namespace == ALL_NAMESPACES else f"namespace {spec.namespace}"
        if len(found) < spec.count:
            container = f" with container {spec.container_name!r}" if spec.container_name else ""
            raise ScenarioFailed(f"kill {spec.count} containers, but only {len(found)} running pods{container} "
                                 f"match {what} in {where}")
        victims = random.SystemRandom().sample(found, spec.count)
        for t in victims:
            ctx.guard_namespace(t.namespace)
        return found, victims

    def preview(self, spec: ContainerSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        found, _ = self._choose(client.CoreV1Api(ctx.api_client), spec, ctx)
        for t in found:
            ctx.guard_namespace(t.namespace)
        return [targets("containers", [t.label for t in found],
                        f"{spec.count} killed ({spec.action}, picked at random); rollback {NO_ROLLBACK}",
                        [t.namespace for t in found])]

    def run(self, spec: ContainerSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        core = client.CoreV1Api(ctx.api_client)
        _found, victims = self._choose(core, spec, ctx)
        names = ", ".join(t.label for t in victims)
        ctx.log(f"chosen: {names}; rollback {NO_ROLLBACK}", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would run {spec.command!r} in {names}",
                           {"containers": [self._entry(t) for t in victims], "rollback": NO_ROLLBACK, "dry_run": True})
        restarts = []
        for i, target in enumerate(victims):
            ctx.check_stop()
            restarts.append(self._kill_and_wait(core, spec, ctx, target, restarts))
            ctx.log(f"{target.label} restarted after {restarts[-1]['restart_seconds']}s", (i + 1) / len(victims))
        return Outcome("passed", f"{len(restarts)} containers killed and restarted",
                       {"containers": restarts, "rollback": NO_ROLLBACK})

    @staticmethod
    def _entry(t: Target, **more) -> dict:
        return {"namespace": t.namespace, "pod": t.pod, "container": t.container, "node": t.node,
                "restart_count_before": t.restarts_before, **more}

    def _kill_and_wait(self, core, spec: ContainerSpec, ctx: ScenarioContext, t: Target, done: list) -> dict:
        from ..kube.podexec import exec_in_pod

        # The count just before the kill: the container may have restarted since the listing.
        before = _restart_count(core.read_namespaced_pod(t.pod, t.namespace), t.container)
        t.restarts_before = before or 0
        started = time.monotonic()
        result = exec_in_pod(ctx.api_client, t.namespace, t.pod, t.container, ["sh", "-c", spec.command])
        ctx.audit("kill_container", namespace=t.namespace, pod=t.pod, container=t.container, command=spec.command,
                  exit_code=result.code)
        # The shell may die with PID 1 before it answers: an exec cut short is not a failure.
        if not result.ok and result.code != -1:
            raise ScenarioFailed(f"{spec.command!r} in {t.label}: {result.why()}",
                                 {"containers": done + [self._entry(t, exit_code=result.code)]})

        def restarted():
            pod = core.read_namespaced_pod(t.pod, t.namespace)
            count = _restart_count(pod, t.container)
            return pod if count is not None and count > t.restarts_before else None

        pod = ctx.wait_until(restarted, spec.expected_recovery_time, interval=0.2)
        if pod is None:
            # No exit status at all: no shell there, or a node without a runtime (kwok's).
            hint = "; the exec gave no exit status" if result.code == -1 else ""
            raise ScenarioFailed(f"{t.label} did not restart within {spec.expected_recovery_time:g}s after "
                                 f"{spec.command!r}{hint}",
                                 {"containers": done + [self._entry(t, restart_seconds=None)]})
        seconds = round(time.monotonic() - started, 3)
        status = next(s for s in pod.status.container_statuses if s.name == t.container)
        running = status.state.running if status.state else None
        return self._entry(t, restart_count_after=status.restart_count, restart_seconds=seconds,
                           container_started_at=running.started_at.isoformat() if running and running.started_at else None,
                           command=spec.command)
