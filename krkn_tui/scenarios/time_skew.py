"""Time scenarios: krkn's `time_scenarios`, the pod action run as krkn runs it, the node action
refused where it would set this machine's clock.

krkn's pod action execs `date --date 01:01:01` (`skew_time`) or `date --date 00-01-01`
(`skew_date`) in one container of each chosen pod, then reads `date` there until the pod's clock
reads the present. `date --date` prints the given date and sets no clock (a container's clock is
the kernel's: setting it needs CAP_SYS_TIME and would set the node's, on the local cluster this
machine's). The same command runs here, by exec, and the report has what it printed and the pod's
clock read after. Nothing is changed, so no rollback step is written: krkn-tui never runs
`date -s` in a pod, privileged or not.

krkn's node action runs privileged `timedatectl set-time` from a pod on the node. A node of the
local cluster (labelled krkn-tui.io/node-kind, real or kwok) or a node that is this machine (its
name is this host's, or one of its addresses is this host's) shares this machine's clock or has
none: the scenario refuses it in one line before any pod is created. On other clusters the node
action is refused too (see NODE_ACTION): krkn's own node action execs `timedatectl set-time` in a
pod it never creates, so it changes no clock, and setting a node's clock with a restore step is
not built here.

Differences from krkn, on purpose:
- `object_type` is `pod` or `node` (krkn tests "node"/"pod" as substrings); a spec naming no
  pods (no object_name, namespace or label_selector) is an error at load time (krkn's at run time).
- Only running, not terminating pods are candidates; a `container_name` absent from a chosen pod
  fails the scenario (krkn logs it and execs with no container).
- A failed exec fails the scenario with its message (krkn retries five times).
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pod_pick import running_pods
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import LOCAL_NODE_LABEL
from .specs import LABEL_KEY_RE, check_namespace, check_selector, keyed_entries
from ..yamlio import Section

NO_ROLLBACK = "none needed: krkn's `date --date` prints a date and sets no clock"
# krkn's fixed skew values per action.
SKEW_VALUES = {"skew_time": "01:01:01", "skew_date": "00-01-01"}
NODE_ACTION = ("setting a node's clock (krkn: privileged timedatectl set-time) is not run by krkn-tui: "
               "a node's clock is its host's, and krkn's own node action changes none")
_KEYS = ("action", "object_type", "namespace", "label_selector", "exclude_label", "object_name", "container_name")
_NAME_RE = LABEL_KEY_RE  # a pod or node name: DNS subdomain characters, no placeholder brackets


@dataclass(frozen=True, kw_only=True)
class TimeSpec:
    action: str  # skew_time | skew_date
    object_type: str  # pod | node
    namespace: str | None = None
    label_selector: str | None = None
    exclude_label: str | None = None
    object_name: tuple[str, ...] = ()
    container_name: str = ""  # "": one of the pod's containers at random, as krkn
    file: Path | None = None
    field: str = ""

    @property
    def id(self) -> str | None:
        return None

    @property
    def argv(self) -> list[str]:
        return ["date", "--date", SKEW_VALUES[self.action]]


def _entry(sec: Section) -> TimeSpec:
    sec.reject_unknown(_KEYS)
    action = sec.choice("action", tuple(SKEW_VALUES))
    object_type = sec.choice("object_type", ("pod", "node"))
    namespace = check_namespace(sec, "namespace") if sec.raw("namespace") is not None else None
    names = sec.string_list("object_name")
    for i, name in enumerate(names):
        if not _NAME_RE.match(name):
            raise sec.error(f"object_name[{i}]", f"not a valid {object_type} name: {name!r}")
    label_selector = check_selector(sec, "label_selector")
    if object_type == "pod":
        if names and namespace is None:
            raise sec.error("namespace", "object_name needs a namespace (krkn's rule)")
        if not (names or namespace or label_selector):
            raise sec.error("label_selector", "names no pods: set object_name, namespace or label_selector")
    elif not (names or label_selector):
        raise sec.error("label_selector", "names no nodes: set object_name or label_selector")
    return TimeSpec(action=action, object_type=object_type, namespace=namespace, label_selector=label_selector,
                    exclude_label=check_selector(sec, "exclude_label"), object_name=names,
                    container_name=sec.string("container_name", ""), file=Path(sec.file), field=sec.path)


def parse_time(data: Any, file: str | Path) -> list[TimeSpec]:
    return keyed_entries(data, file, "time_scenarios", "time scenarios (- action: skew_time, object_type: ...)",
                         _entry)


# ---- nodes: why a clock may not be set ------------------------------------------------------


def _this_host() -> tuple[set[str], set[str]]:
    """This machine's host names and addresses, as far as it knows them without touching anything."""
    names = {socket.gethostname(), socket.getfqdn()}
    addresses = {"127.0.0.1", "::1"}
    for name in names:
        try:
            addresses |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    return names, addresses


def local_clock_reason(node, host: tuple[set[str], set[str]] | None = None) -> str | None:
    """Why setting `node`'s clock would set this machine's (or a clockless kwok node's); None if not."""
    labels = node.metadata.labels or {}
    kind = labels.get(LOCAL_NODE_LABEL)
    if kind:
        return (f"node {node.metadata.name} belongs to the local cluster ({LOCAL_NODE_LABEL}={kind}), which runs "
                "on this machine: krkn-tui never sets this machine's clock")
    names, addresses = host or _this_host()
    node_addresses = {a.address for a in (node.status.addresses or [])} if node.status else set()
    if node.metadata.name in names or node_addresses & addresses:
        return f"node {node.metadata.name} is this machine: krkn-tui never sets this machine's clock"
    return None


def chosen_nodes(core, spec: TimeSpec) -> list:
    if spec.object_name:
        nodes = [n for n in core.list_node().items if n.metadata.name in spec.object_name]
        missing = sorted(set(spec.object_name) - {n.metadata.name for n in nodes})
        if missing:
            raise ScenarioFailed(f"no node named {', '.join(missing)}")
        return nodes
    nodes = core.list_node(label_selector=spec.label_selector).items
    if spec.exclude_label:
        excluded = {n.metadata.name for n in core.list_node(label_selector=spec.exclude_label).items}
        nodes = [n for n in nodes if n.metadata.name not in excluded]
    if not nodes:
        raise ScenarioFailed(f"no node matches label selector {spec.label_selector!r}")
    return nodes


def refuse_nodes(core, spec: TimeSpec) -> None:
    """Always raises, before any change: the local-clock reason first, else NODE_ACTION."""
    nodes = chosen_nodes(core, spec)
    host = _this_host()
    for node in sorted(nodes, key=lambda n: n.metadata.name):
        reason = local_clock_reason(node, host)
        if reason:
            raise ScenarioFailed(f"{spec.action} refused: {reason}")
    raise ScenarioFailed(f"{spec.action} on nodes {', '.join(sorted(n.metadata.name for n in nodes))} refused: "
                         f"{NODE_ACTION}")


# ---- pods -----------------------------------------------------------------------------------


@dataclass
class Target:
    namespace: str
    pod: str
    container: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


def chosen_pods(core, spec: TimeSpec) -> list[Target]:
    """Running pods as krkn lists them, each with the container the command runs in."""
    # krkn applies the exclude label only when it lists every namespace
    pods = running_pods(core, spec.namespace or None, names=spec.object_name,
                        label_selector=spec.label_selector or "",
                        exclude_label="" if spec.namespace else (spec.exclude_label or ""))
    pick = random.SystemRandom()
    out = []
    for pod in pods:
        names = [c.name for c in pod.spec.containers]
        if spec.container_name and spec.container_name not in names:
            raise ScenarioFailed(f"container {spec.container_name!r} is not in pod "
                                 f"{pod.metadata.namespace}/{pod.metadata.name} (it has {', '.join(names)})")
        out.append(Target(pod.metadata.namespace, pod.metadata.name, spec.container_name or pick.choice(names)))
    if not out:
        where = f"namespace {spec.namespace}" if spec.namespace else "any namespace"
        what = f"pods {', '.join(spec.object_name)}" if spec.object_name else \
            f"label selector {spec.label_selector!r}" if spec.label_selector else "any label"
        raise ScenarioFailed(f"no running pod matches {what} in {where}")
    return sorted(out, key=lambda t: t.label)


@register
class TimePlugin(ScenarioPlugin):
    scenario_type = "time_scenarios"
    short_name = "time skew"
    parse_data = staticmethod(parse_time)

    @staticmethod
    def describe(spec: TimeSpec) -> str:
        what = ",".join(spec.object_name) if spec.object_name else (spec.label_selector or "all pods")
        where = f" (ns {spec.namespace})" if spec.namespace else ""
        if spec.object_type == "node":
            return f"{spec.action} on nodes {what}: refused (a node's clock is never set here)"
        container = spec.container_name or "a random container"
        return f"{spec.action}: `{' '.join(spec.argv)}` in {container} of {what}{where}, sets no clock"

    def preview(self, spec: TimeSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        core = client.CoreV1Api(ctx.api_client)
        if spec.object_type == "node":
            refuse_nodes(core, spec)
        found = chosen_pods(core, spec)
        for t in found:
            ctx.guard_namespace(t.namespace)
        return [targets("containers", [t.label for t in found],
                        f"exec `{' '.join(spec.argv)}` (prints a date, sets no clock); rollback {NO_ROLLBACK}",
                        [t.namespace for t in found])]

    def run(self, spec: TimeSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        from ..kube.podexec import exec_in_pod

        core = client.CoreV1Api(ctx.api_client)
        if spec.object_type == "node":
            refuse_nodes(core, spec)  # before any pod is created
        found = chosen_pods(core, spec)
        for t in found:
            ctx.guard_namespace(t.namespace)
        command = " ".join(spec.argv)
        ctx.log(f"chosen: {', '.join(t.label for t in found)}; rollback {NO_ROLLBACK}", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would exec {command!r} in {len(found)} containers",
                           {"pods": [vars(t) for t in found], "rollback": NO_ROLLBACK, "dry_run": True})
        done = []
        for i, t in enumerate(found):
            ctx.check_stop()
            result = exec_in_pod(ctx.api_client, t.namespace, t.pod, t.container, spec.argv)
            ctx.audit("exec_date", namespace=t.namespace, pod=t.pod, container=t.container, command=command,
                      exit_code=result.code)
            entry = {**vars(t), "command": command, "exit_code": result.code, "printed": result.stdout.strip()}
            if not result.ok:
                raise ScenarioFailed(f"{command!r} in {t.label}: {result.why()}", {"pods": done + [entry]})
            # krkn's check: the pod's clock read after the command (the kernel's, unchanged).
            clock = exec_in_pod(ctx.api_client, t.namespace, t.pod, t.container, ["date", "-u", "+%s"])
            entry["clock_after"] = clock.stdout.strip() if clock.ok else None
            done.append(entry)
            ctx.log(f"{t.label}: {entry['printed']}", (i + 1) / len(found))
        return Outcome("passed", f"{command!r} run in {len(done)} containers; no clock was set",
                       {"pods": done, "rollback": NO_ROLLBACK})
