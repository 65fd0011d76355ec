"""Resource hogs: one stress pod (cpu, memory or io) on each selected node for `duration`.

Each pod gets its own rollback file, written before the pod is created; the pods are removed
by executing those files. The pod is the one krkn-lib's ``deploy_hog`` builds, so a scenario
file loads a node the same way under krkn and here: container ``krkn-hog``, privileged,
``restartPolicy: Never``, every stress-ng setting in krkn-lib's env names, the node picked with
a ``kubernetes.io/hostname`` node selector (so the scheduler places it, and a node's taints need
the `taints` tolerations, as under krkn), and for io hogs the node volume mounted at the target
folder.
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..rollback import RollbackContent
from ..yamlio import Section, describe, expect_list, join_field
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register, target_namespace
from .krkn_pods import delete_hog_pod
from .specs import LABEL_KEY_RE, LABEL_VALUE_RE, Taint, check_namespace, check_size, taint_from_string


# ---- the scenario file: spec and parser ----------------------------------------------------

HOG_TYPES = ("cpu", "memory", "io")
DEFAULT_HOG_IMAGE = "quay.io/krkn-chaos/krkn-hog"


def _default_volume() -> dict[str, Any]:
    return {"name": "node-volume", "hostPath": {"path": "/tmp"}}


@dataclass(frozen=True, kw_only=True)
class HogSpec:
    hog_type: str  # one of HOG_TYPES
    duration: float = 30.0
    image: str = DEFAULT_HOG_IMAGE
    namespace: str = "default"
    cpu_load_percentage: int = 80
    cpu_method: str = "all"
    memory_vm_bytes: str = "10%"
    io_block_size: str = "1m"
    io_write_bytes: str = "10m"
    io_target_pod_folder: str = "/hog-data"
    io_target_pod_volume: Mapping[str, Any] = field(default_factory=_default_volume, hash=False)
    workers: int | None = None  # None: one per CPU of the node
    node_selector: str = ""  # "key=value", "key=" or "" (any schedulable node)
    number_of_nodes: int | None = None  # None: every matching node
    taints: tuple[Taint, ...] = ()  # tolerated by the hog pod
    file: Path | None = None
    field: str = ""


_HOG_KEYS = (
    "duration", "hog-type", "image", "namespace", "cpu-load-percentage", "cpu-method",
    "memory-vm-bytes", "io-block-size", "io-write-bytes", "io-target-pod-folder",
    "io-target-pod-volume", "workers", "node-selector", "number-of-nodes", "taints",
)
_CPU_METHOD_RE = re.compile(r"[a-z0-9_]+\Z")


def _node_selector(sec: Section) -> str:
    raw = sec.raw("node-selector")
    if raw is None:
        return ""
    if isinstance(raw, dict):  # krkn's older form: {label: value}; {} means any node
        if not raw:
            return ""
        if len(raw) != 1:
            raise sec.error("node-selector", "give one label, as \"key=value\"")
        ((key, value),) = raw.items()
        if value is None:
            value = ""
        if not isinstance(key, str) or not isinstance(value, str):
            raise sec.error("node-selector", "expected a string label and value")
        raw = f"{key}={value}"
    if not isinstance(raw, str):
        raise sec.error("node-selector", f"expected \"key=value\" or \"key=\", got {describe(raw)}")
    key, eq, value = raw.partition("=")
    if not eq or not LABEL_KEY_RE.match(key) or not LABEL_VALUE_RE.match(value):
        raise sec.error("node-selector", f"expected \"key=value\" or \"key=\", got {raw!r}")
    return raw


def _volume(sec: Section) -> dict[str, Any]:
    raw = sec.raw("io-target-pod-volume")
    if raw is None:
        return _default_volume()
    vol = Section(raw, sec.file, sec.field("io-target-pod-volume"), what="a pod volume mapping")
    if not isinstance(vol.data.get("name"), str) or not vol.data["name"]:
        raise vol.error("name", "is required: the volume's name")
    if any(not isinstance(k, str) for k in vol.data):
        raise vol.error(None, "volume keys must be strings")
    return dict(vol.data)


def parse_hog(data: Any, file: str | Path) -> list[HogSpec]:
    sec = Section(data, file, what="a mapping with hog-type")
    sec.reject_unknown(_HOG_KEYS)
    hog_type = sec.choice("hog-type", HOG_TYPES)
    cpu_method = sec.string("cpu-method", "all")
    if not _CPU_METHOD_RE.match(cpu_method):
        raise sec.error("cpu-method", f"not a stress-ng cpu method: {cpu_method!r}")
    folder = sec.string("io-target-pod-folder", "/hog-data")
    if not folder.startswith("/"):
        raise sec.error("io-target-pod-folder", f"must be an absolute path, got {folder!r}")
    taints = sec.raw("taints") or []
    expect_list(taints, file, sec.field("taints"), what='a list of taints like "key=value:NoSchedule"')
    return [HogSpec(
        hog_type=hog_type,
        duration=sec.number("duration", 30.0, above=0),
        image=sec.string("image", DEFAULT_HOG_IMAGE),
        namespace=check_namespace(sec, "namespace", "default"),
        cpu_load_percentage=sec.integer("cpu-load-percentage", 80, minimum=0, maximum=100),
        cpu_method=cpu_method,
        memory_vm_bytes=check_size(sec, "memory-vm-bytes", "10%", percent=True),
        io_block_size=check_size(sec, "io-block-size", "1m", percent=False),
        io_write_bytes=check_size(sec, "io-write-bytes", "10m", percent=True),
        io_target_pod_folder=folder,
        io_target_pod_volume=_volume(sec),
        # krkn's samples write '' for "not set" here
        workers=sec.integer("workers", None, minimum=1, blank_is_absent=True),
        node_selector=_node_selector(sec),
        number_of_nodes=sec.integer("number-of-nodes", None, minimum=1, blank_is_absent=True),
        taints=tuple(taint_from_string(t, file, join_field(sec.field("taints"), i))
                     for i, t in enumerate(taints)),
        file=Path(file),
        field="",
    )]


# ---- running it ----------------------------------------------------------------------------

START_TIMEOUT = 120.0  # seconds for every hog pod to be Running
GONE_TIMEOUT = 60.0  # seconds for the deleted pods to disappear


def _schedulable(node) -> bool:
    ready = any(c.type == "Ready" and c.status == "True" for c in (node.status.conditions or []))
    return ready and not node.spec.unschedulable


def select_nodes(core, spec: HogSpec) -> list:
    """Ready, schedulable nodes matching `node-selector`; a random `number-of-nodes` of them."""
    nodes = node_candidates(core, spec)
    return nodes if spec.number_of_nodes is None else random.SystemRandom().sample(nodes, spec.number_of_nodes)


def node_candidates(core, spec: HogSpec) -> list:
    """The nodes `select_nodes` picks from; ScenarioFailed when too few."""
    nodes = [n for n in core.list_node(label_selector=spec.node_selector or None).items if _schedulable(n)]
    what = f"matching {spec.node_selector!r}" if spec.node_selector else "in the cluster"
    if not nodes:
        raise ScenarioFailed(f"no schedulable node {what}")
    if spec.number_of_nodes is not None and spec.number_of_nodes > len(nodes):
        raise ScenarioFailed(f"number-of-nodes is {spec.number_of_nodes}, but only {len(nodes)} "
                             f"schedulable nodes are {what}")
    return nodes


def _stress_env(spec: HogSpec, node) -> list[dict]:
    """krkn-lib's env for the krkn-hog image (it wraps stress-ng): every setting, in its order,
    whatever the hog type; WORKERS defaults to the node's CPU count, as krkn does."""
    cpus = str(node.status.allocatable.get("cpu", "1")) if node.status.allocatable else "1"
    workers = spec.workers or (int(cpus) if cpus.isdigit() else 1)
    env = {
        "HOG_TYPE": spec.hog_type,
        "LOAD_PERCENTAGE": str(spec.cpu_load_percentage),
        "CPU_METHOD": spec.cpu_method,
        "HDD_WRITE_SIZE": spec.io_block_size,
        "HDD_BYTES": spec.io_write_bytes,
        "STRESS_PATH": spec.io_target_pod_folder,
        "VM_BYTES": spec.memory_vm_bytes,
        "WORKERS": str(workers),
        "DURATION": f"{spec.duration:g}",
    }
    return [{"name": k, "value": v} for k, v in env.items()]


HOSTNAME_LABEL = "kubernetes.io/hostname"


def hog_pod(name: str, spec: HogSpec, node, run_uuid: str) -> dict:
    container: dict = {"name": "krkn-hog", "image": spec.image, "securityContext": {"privileged": True},
                       "env": _stress_env(spec, node)}
    hostname = (node.metadata.labels or {}).get(HOSTNAME_LABEL, node.metadata.name)
    pod_spec: dict = {
        "nodeSelector": {HOSTNAME_LABEL: hostname},  # krkn-lib: one pod per node, placed by the scheduler
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,  # krkn-lib leaves the default; the rollback deletes at once anyway
        "containers": [container],
        "tolerations": [
            {"key": t.key, "effect": t.effect,
             **({"operator": "Equal", "value": t.value} if t.value is not None else {"operator": "Exists"})}
            for t in spec.taints
        ],
    }
    if spec.hog_type == "io":
        volume = dict(spec.io_target_pod_volume)
        pod_spec["volumes"] = [volume]
        container["volumeMounts"] = [{"name": volume["name"], "mountPath": spec.io_target_pod_folder}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": spec.namespace,
                     "labels": {"app": "krkn-hog", "krkn-tui/run": run_uuid, "krkn-tui/hog-type": spec.hog_type}},
        "spec": pod_spec,
    }


@register
class HogPlugin(ScenarioPlugin):
    scenario_type = "hog_scenarios"
    short_name = "hog"
    undo_functions = (delete_hog_pod,)
    parse_data = staticmethod(parse_hog)

    @staticmethod
    def describe(spec: HogSpec) -> str:
        nodes = spec.number_of_nodes or "all"
        return f"{spec.hog_type} in ns {spec.namespace} on {nodes} node(s) for {spec.duration:g}s"

    def preview(self, spec: HogSpec, ctx: ScenarioContext) -> list:
        from .preview import targets

        core = target_namespace(ctx, spec.namespace)
        nodes = [n.metadata.name for n in node_candidates(core, spec)]
        count = len(nodes) if spec.number_of_nodes is None else spec.number_of_nodes
        pick = f" on {count} picked at random" if count < len(nodes) else ""
        return [targets("nodes", nodes, f"one {spec.hog_type} hog pod each for {spec.duration:g}s{pick}"),
                targets("pods", [f"{spec.namespace}/krkn-hog-{spec.hog_type}-{i}" for i in range(count)],
                        f"created in {spec.namespace}, then deleted", [spec.namespace])]

    def run(self, spec: HogSpec, ctx: ScenarioContext) -> Outcome:
        core = target_namespace(ctx, spec.namespace)
        nodes = select_nodes(core, spec)
        node_names = sorted(n.metadata.name for n in nodes)
        ctx.log(f"{spec.hog_type} hog on {len(nodes)} nodes: {', '.join(node_names)}", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would start {len(nodes)} {spec.hog_type} hog pods",
                           {"nodes": node_names, "pods": [], "dry_run": True})
        created: dict[str, Path | None] = {}  # pod name -> its version file
        for node in nodes:
            ctx.check_stop()
            name = f"krkn-hog-{spec.hog_type}-{secrets.token_hex(3)}"
            created[name] = ctx.set_rollback_callable(
                delete_hog_pod, RollbackContent(resource_identifier=name, namespace=spec.namespace),
                verb="delete", kind="Pod")
            core.create_namespaced_pod(spec.namespace, hog_pod(name, spec, node, ctx.rollback.run_uuid))
            ctx.audit("create_pod", namespace=spec.namespace, name=name, node=node.metadata.name)
        self._await_start(core, spec, ctx, list(created))
        ctx.log(f"{len(created)} hog pods running; hogging for {spec.duration:g}s", 0.2)
        ctx.sleep(spec.duration)
        for version in created.values():
            ctx.restore(version)
        gone = ctx.wait_until(lambda: not self._existing(core, spec.namespace, list(created)), GONE_TIMEOUT)
        if not gone:
            raise ScenarioFailed(f"hog pods still present {GONE_TIMEOUT:g}s after deletion: "
                                 f"{', '.join(self._existing(core, spec.namespace, list(created)))}")
        return Outcome("passed", f"{spec.hog_type} hog ran {spec.duration:g}s on {len(nodes)} nodes",
                       {"nodes": node_names, "pods": sorted(created)})

    def _await_start(self, core, spec: HogSpec, ctx: ScenarioContext, names: list[str]) -> None:
        def phases() -> dict[str, str]:
            found = {p.metadata.name: p.status.phase for p in self._pods(core, spec.namespace, names)}
            return {n: found.get(n, "missing") for n in names}

        def started() -> bool:
            now = phases()
            failed = [n for n, phase in now.items() if phase == "Failed"]
            if failed:  # a hog that already failed will not start: stop waiting
                raise ScenarioFailed(f"hog pods failed: {', '.join(failed)}")
            return all(phase in ("Running", "Succeeded") for phase in now.values())

        if not ctx.wait_until(started, START_TIMEOUT):
            late = [f"{n} ({p})" for n, p in phases().items() if p not in ("Running", "Succeeded")]
            raise ScenarioFailed(f"hog pods not running after {START_TIMEOUT:g}s: {', '.join(late)}")

    @staticmethod
    def _pods(core, namespace: str, names: list[str]) -> list:
        return [p for p in core.list_namespaced_pod(namespace, label_selector="app=krkn-hog").items
                if p.metadata.name in names]

    def _existing(self, core, namespace: str, names: list[str]) -> list[str]:
        return sorted(p.metadata.name for p in self._pods(core, namespace, names))
