"""krkn's scenario file formats, validated into typed, immutable specs, and the value checks
they share. Which parser reads which type is each plugin's to say (``ScenarioPlugin.parse_data``).

Each ``parse_*`` takes the loaded YAML and the file it came from, and raises ``UserError`` naming
the file and the dotted field. Unknown fields are errors: a misspelt krkn key must not pass
silently and leave a default in its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserError
from ..yamlio import Section, describe, expect_list, join_field

EXECUTION_MODES = ("serial", "parallel")
TRAFFIC_TYPES = ("Ingress", "Egress")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
API_NODE_ACTIONS = ("node_cordon_scenario", "node_drain_scenario", "node_taint_scenario")
CLOUD_NODE_ACTIONS = (
    "node_start_scenario",
    "node_stop_scenario",
    "node_stop_start_scenario",
    "node_reboot_scenario",
    "node_termination_scenario",
    "stop_kubelet_scenario",
    "stop_start_kubelet_scenario",
    "restart_kubelet_scenario",
    "node_crash_scenario",
    "stop_start_helper_node_scenario",
    "node_disk_detach_attach_scenario",
    "node_block_scenario",
)
# krkn keys that only its cloud drivers read; harmless next to API-only actions.
_NODE_CLOUD_KEYS = (
    "kube_check", "poll_interval", "service", "ssh_private_key", "helper_node_ip",
    "bmc_info", "bmc_user", "bmc_password", "bmc_addr", "disable_ssl_verification",
)
SERVICE_MODES = ("scale", "delete_namespace")
HOG_TYPES = ("cpu", "memory", "io")
DEFAULT_HOG_IMAGE = "quay.io/krkn-chaos/krkn-hog"


# ---- value checks ---------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?{_NAME}"
_LABEL_VALUE = rf"(?:{_NAME})?"
_LABEL_KEY_RE = re.compile(rf"{_LABEL_KEY}\Z")
_LABEL_VALUE_RE = re.compile(rf"{_LABEL_VALUE}\Z")
# One requirement of a Kubernetes label selector: key, !key, key=v, key==v, key!=v, key in (a,b).
_REQUIREMENT_RE = re.compile(
    rf"\s*(?:!?\s*{_LABEL_KEY}"
    rf"|{_LABEL_KEY}\s*(?:==?|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(?:in|notin)\s*\(\s*{_LABEL_VALUE}(?:\s*,\s*{_LABEL_VALUE})*\s*\))\s*\Z"
)
_DNS_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\Z")
_SIZE_RE = re.compile(r"[1-9][0-9]*[bkmgtBKMGT]?\Z")
_SIZE_OR_PERCENT_RE = re.compile(r"(?:[1-9][0-9]*[bkmgtBKMGT]?|(?:100|[1-9][0-9]?)%)\Z")


def _selector(sec: Section, key: str) -> str | None:
    value = sec.string(key)
    if value is not None:
        parts = re.split(r",(?![^()]*\))", value)
        for part in parts:
            if not _REQUIREMENT_RE.match(part):
                where = f" in {value!r}" if len(parts) > 1 else ""
                raise sec.error(key, f"not a valid label selector: {part.strip()!r}{where}")
    return value


def _namespace(sec: Section, key: str, default: str | None = None) -> str:
    value = sec.string(key, default, required=default is None)
    if not _DNS_LABEL_RE.match(value):
        raise sec.error(key, f"not a valid namespace name: {value!r}")
    return value


def _size(sec: Section, key: str, default: str, *, percent: bool) -> str:
    value = sec.raw(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    pattern = _SIZE_OR_PERCENT_RE if percent else _SIZE_RE
    if not isinstance(value, str) or not pattern.match(value):
        form = "a size like 512m, 1g or 90%" if percent else "a size like 4k or 1m"
        raise sec.error(key, f"expected {form}, got {describe(value)}")
    return value


def _label_map(sec: Section, key: str) -> dict[str, str]:
    raw = sec.data.get(key)
    labels = Section(raw, sec.file, sec.field(key), what="a mapping of label names to values")
    for name, value in labels.data.items():
        if not isinstance(name, str) or not _LABEL_KEY_RE.match(name):
            raise labels.error(name, f"not a valid label name: {name!r}")
        if not isinstance(value, str):
            raise labels.error(name, f"expected a string label value (quote it), got {describe(value)}")
        if not _LABEL_VALUE_RE.match(value):
            raise labels.error(name, f"not a valid label value: {value!r}")
    return dict(labels.data)


def _entries(value: Any, file: str | Path, where: str, what: str) -> list[Section]:
    items = expect_list(value, file, where, what=f"a list of {what}")
    if not items:
        raise UserError(f"lists no {what}", file=file, field=where or None)
    return [Section(item, file, join_field(where, i)) for i, item in enumerate(items)]


# ---- taints ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Taint:
    key: str
    value: str | None = None  # None: match any value (toleration operator Exists)
    effect: str

    def __str__(self) -> str:
        value = f"={self.value}" if self.value is not None else ""
        return f"{self.key}{value}:{self.effect}"


def _taint_from_map(sec: Section) -> Taint:
    sec.reject_unknown(("key", "value", "effect"))
    key = sec.string("key", required=True)
    if not _LABEL_KEY_RE.match(key):
        raise sec.error("key", f"not a valid taint key: {key!r}")
    value = sec.string("value")
    if value is not None and not _LABEL_VALUE_RE.match(value):
        raise sec.error("value", f"not a valid taint value: {value!r}")
    return Taint(key=key, value=value, effect=sec.choice("effect", TAINT_EFFECTS))


def _taint_from_string(text: Any, file: str | Path, where: str) -> Taint:
    """krkn's hog form: ``key=value:Effect`` or ``key:Effect``."""
    if not isinstance(text, str):
        raise UserError(f"expected a taint like key=value:NoSchedule, got {describe(text)}",
                        file=file, field=where)
    head, sep, effect = text.rpartition(":")
    key, eq, value = head.partition("=")
    if not sep or not _LABEL_KEY_RE.match(key) or (eq and not _LABEL_VALUE_RE.match(value)):
        raise UserError(f"expected a taint like key=value:NoSchedule, got {text!r}",
                        file=file, field=where)
    if effect not in TAINT_EFFECTS:
        raise UserError(f"unknown taint effect {effect!r}; expected one of: {', '.join(TAINT_EFFECTS)}",
                        file=file, field=where)
    return Taint(key=key, value=value if eq else None, effect=effect)


# ---- pod disruption -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PodDisruptionSpec:
    namespace_pattern: str  # regex on namespace names
    label_selector: str | None = None
    name_pattern: str | None = None  # regex on pod names
    id: str | None = None
    kill: int = 1
    krkn_pod_recovery_time: float = 120.0
    execution: str = "serial"
    timeout: float = 180.0
    duration: float = 0.0
    exclude_label: str | None = None
    node_label_selector: str | None = None
    node_names: tuple[str, ...] = ()
    force: bool = False  # grace period 0
    file: Path | None = None
    field: str = ""


_POD_KEYS = (
    "namespace_pattern", "label_selector", "name_pattern", "kill", "krkn_pod_recovery_time",
    "execution", "timeout", "duration", "exclude_label", "node_label_selector", "node_names", "force",
)


def parse_pod_disruption(data: Any, file: str | Path) -> list[PodDisruptionSpec]:
    specs = []
    for entry in _entries(data, file, "", "pod disruption entries (- id: ..., config: ...)"):
        entry.reject_unknown(("id", "config"))
        ident = entry.string("id")
        cfg = entry.required_section("config")
        cfg.reject_unknown(_POD_KEYS)
        namespace_pattern = cfg.regex("namespace_pattern", required=True)
        label_selector = _selector(cfg, "label_selector")
        name_pattern = cfg.regex("name_pattern")
        if label_selector is None and name_pattern is None:
            raise cfg.error(None, "needs label_selector or name_pattern to choose pods")
        specs.append(PodDisruptionSpec(
            id=ident,
            namespace_pattern=namespace_pattern,
            label_selector=label_selector,
            name_pattern=name_pattern,
            kill=cfg.integer("kill", 1, minimum=1),
            krkn_pod_recovery_time=cfg.number("krkn_pod_recovery_time", 120.0, above=0),
            execution=cfg.choice("execution", EXECUTION_MODES, "serial"),
            timeout=cfg.number("timeout", 180.0, above=0),
            duration=cfg.number("duration", 0.0, minimum=0),
            exclude_label=_selector(cfg, "exclude_label"),
            node_label_selector=_selector(cfg, "node_label_selector"),
            node_names=cfg.string_list("node_names"),
            force=cfg.boolean("force", False),
            file=Path(file),
            field=entry.path,
        ))
    return specs


# ---- application outage ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AppOutageSpec:
    namespace: str
    pod_selector: tuple[tuple[str, str], ...]  # matchLabels, as sorted pairs
    duration: float = 60.0
    block: tuple[str, ...] = TRAFFIC_TYPES
    # matchExpressions `key NotIn values`; krkn accepts a mapping, "k=v1|v2,k2=v" or a list
    exclude_label: tuple[tuple[str, tuple[str, ...]], ...] = ()
    file: Path | None = None
    field: str = ""

    @property
    def match_labels(self) -> dict[str, str]:
        return dict(self.pod_selector)

    @property
    def label_selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.pod_selector)


def _exclusions(sec: Section, key: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = sec.raw(key)
    if raw is None:
        return ()
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, dict):
        pairs = [(k, v if isinstance(v, list) else [v]) for k, v in raw.items()]
    elif isinstance(raw, (str, list)):
        parts = raw.split(",") if isinstance(raw, str) else raw
        for part in parts:
            if not isinstance(part, str) or "=" not in part:
                raise sec.error(key, f"expected key=value entries, got {describe(part)}")
            name, _, values = part.partition("=")
            pairs.append((name.strip(), [v.strip() for v in values.split("|")]))
    else:
        raise sec.error(key, f"expected a mapping, a 'key=value' string or a list, got {describe(raw)}")
    result = []
    for name, values in pairs:
        if not isinstance(name, str) or not _LABEL_KEY_RE.match(name):
            raise sec.error(key, f"not a valid label name: {name!r}")
        for value in values:
            if not isinstance(value, str) or not value or not _LABEL_VALUE_RE.match(value):
                raise sec.error(key, f"not a valid label value for {name}: {describe(value)}")
        result.append((name, tuple(values)))
    return tuple(result)


def parse_app_outage(data: Any, file: str | Path) -> list[AppOutageSpec]:
    top = Section(data, file, what="a mapping with application_outage")
    top.reject_unknown(("application_outage",))
    sec = top.required_section("application_outage")
    sec.reject_unknown(("duration", "namespace", "pod_selector", "block", "exclude_label"))
    if not sec.data.get("pod_selector"):
        raise sec.error("pod_selector", "is required: a non-empty mapping of labels (app: frontend)")
    selector = _label_map(sec, "pod_selector")
    block = TRAFFIC_TYPES
    if sec.data.get("block") is not None:
        block = sec.string_list("block")
        for i, kind in enumerate(block):
            if kind not in TRAFFIC_TYPES:
                raise UserError(f"unknown value {kind!r}; expected one of: {', '.join(TRAFFIC_TYPES)}",
                                file=file, field=join_field(sec.field("block"), i))
        if not block:
            raise sec.error("block", f"lists nothing to block (use {', '.join(TRAFFIC_TYPES)})")
        block = tuple(dict.fromkeys(block))
    return [AppOutageSpec(
        duration=sec.number("duration", 60.0, above=0),
        namespace=_namespace(sec, "namespace"),
        pod_selector=tuple(sorted(selector.items())),
        block=block,
        exclude_label=_exclusions(sec, "exclude_label"),
        file=Path(file),
        field=sec.path,
    )]


# ---- node scenarios -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    actions: tuple[str, ...]  # each one of API_NODE_ACTIONS
    label_selector: str | None = None
    node_names: tuple[str, ...] = ()  # krkn's node_name, split on commas
    exclude_label: str | None = None
    instance_count: int = 1
    runs: int = 1
    timeout: float = 120.0
    duration: float = 0.0  # how long the node stays cordoned/drained/tainted
    parallel: bool = False
    cloud_type: str | None = None  # accepted for krkn files; API actions need no cloud
    taint: Taint | None = None
    file: Path | None = None
    field: str = ""


_NODE_KEYS = (
    "actions", "label_selector", "node_name", "exclude_label", "instance_count", "runs", "timeout",
    "duration", "parallel", "cloud_type", "taint",
)


def _node_actions(sec: Section) -> tuple[str, ...]:
    actions = sec.string_list("actions")
    if not actions:
        raise sec.error("actions", f"is required (one or more of: {', '.join(API_NODE_ACTIONS)})")
    for i, action in enumerate(actions):
        where = join_field(sec.field("actions"), i)
        if action in CLOUD_NODE_ACTIONS:
            raise UserError(
                f"{action} needs a cloud provider, which this console does not drive; "
                f"supported API-only actions: {', '.join(API_NODE_ACTIONS)}",
                file=sec.file, field=where,
            )
        if action not in API_NODE_ACTIONS:
            raise UserError(f"unknown action {action!r}; expected one of: {', '.join(API_NODE_ACTIONS)}",
                            file=sec.file, field=where)
    return actions


def _node_entry(sec: Section) -> NodeSpec:
    # krkn's older docs call instance_count instance_kill_count.
    if sec.data.get("instance_kill_count") is not None:
        if sec.data.get("instance_count") is not None:
            raise sec.error("instance_kill_count", "is krkn's old name for instance_count; set only one")
        renamed = {**sec.data, "instance_count": sec.data["instance_kill_count"]}
        sec = Section(renamed, sec.file, sec.path)
    sec.reject_unknown(_NODE_KEYS, ignored=(*_NODE_CLOUD_KEYS, "instance_kill_count"))
    actions = _node_actions(sec)
    node_name = sec.string("node_name")
    label_selector = _selector(sec, "label_selector")
    if node_name is None and label_selector is None:
        raise sec.error(None, "needs label_selector or node_name to choose nodes")
    if node_name is not None and label_selector is not None:
        raise sec.error("node_name", "set label_selector or node_name, not both")
    names = tuple(n.strip() for n in node_name.split(",")) if node_name else ()
    if any(not n for n in names):
        raise sec.error("node_name", f"empty name in {node_name!r}")
    taint = None
    if "node_taint_scenario" in actions:
        taint_sec = sec.section("taint")
        if taint_sec is None:
            raise sec.error("taint", "is required by node_taint_scenario ({key, value, effect})")
        taint = _taint_from_map(taint_sec)
    elif sec.data.get("taint") is not None:
        raise sec.error("taint", "is only used by node_taint_scenario")
    return NodeSpec(
        actions=actions,
        label_selector=label_selector,
        node_names=names,
        exclude_label=_selector(sec, "exclude_label"),
        instance_count=sec.integer("instance_count", 1, minimum=1),
        runs=sec.integer("runs", 1, minimum=1),
        timeout=sec.number("timeout", 120.0, above=0),
        duration=sec.number("duration", 0.0, minimum=0),
        parallel=sec.boolean("parallel", False),
        cloud_type=sec.string("cloud_type"),
        taint=taint,
        file=Path(sec.file),
        field=sec.path,
    )


def _keyed_entries(data: Any, file: str | Path, key: str, what: str, entry) -> list:
    """krkn's `{key: [entries]}` files: `key` is the one allowed top-level key and is required."""
    top = Section(data, file, what=f"a mapping with {key}")
    top.reject_unknown((key,))
    if top.data.get(key) is None:
        raise top.error(key, "is required")
    return [entry(sec) for sec in _entries(top.data[key], file, key, what)]


def parse_node(data: Any, file: str | Path) -> list[NodeSpec]:
    return _keyed_entries(data, file, "node_scenarios", "node scenario entries", _node_entry)


# ---- service disruption ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceDisruptionSpec:
    namespace_pattern: str  # krkn's `namespace`, a regex
    label_selector: str | None = None
    delete_count: int = 1
    runs: int = 1
    sleep: float = 15.0
    mode: str = "scale"
    duration: float = 15.0  # defaults to sleep
    file: Path | None = None
    field: str = ""


def _service_entry(sec: Section) -> ServiceDisruptionSpec:
    sec.reject_unknown(
        ("namespace", "label_selector", "delete_count", "runs", "sleep", "mode", "duration")
    )
    sleep = sec.number("sleep", 15.0, minimum=0)
    return ServiceDisruptionSpec(
        namespace_pattern=sec.regex("namespace", required=True),
        label_selector=_selector(sec, "label_selector"),
        delete_count=sec.integer("delete_count", 1, minimum=1),
        runs=sec.integer("runs", 1, minimum=1),
        sleep=sleep,
        # krkn deletes the matching namespaces. Scaling Deployments to zero is undone by scaling
        # back, so that is the default; deleting namespaces has to be asked for.
        mode=sec.choice("mode", SERVICE_MODES, "scale"),
        duration=sec.number("duration", sleep, minimum=0),
        file=Path(sec.file),
        field=sec.path,
    )


def parse_service_disruption(data: Any, file: str | Path) -> list[ServiceDisruptionSpec]:
    return _keyed_entries(data, file, "scenarios", "service disruption entries", _service_entry)


# ---- hogs -----------------------------------------------------------------------------------


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
    if not eq or not _LABEL_KEY_RE.match(key) or not _LABEL_VALUE_RE.match(value):
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
        namespace=_namespace(sec, "namespace", "default"),
        cpu_load_percentage=sec.integer("cpu-load-percentage", 80, minimum=0, maximum=100),
        cpu_method=cpu_method,
        memory_vm_bytes=_size(sec, "memory-vm-bytes", "10%", percent=True),
        io_block_size=_size(sec, "io-block-size", "1m", percent=False),
        io_write_bytes=_size(sec, "io-write-bytes", "10m", percent=True),
        io_target_pod_folder=folder,
        io_target_pod_volume=_volume(sec),
        # krkn's samples write '' for "not set" here
        workers=sec.integer("workers", None, minimum=1, blank_is_absent=True),
        node_selector=_node_selector(sec),
        number_of_nodes=sec.integer("number-of-nodes", None, minimum=1, blank_is_absent=True),
        taints=tuple(_taint_from_string(t, file, join_field(sec.field("taints"), i))
                     for i, t in enumerate(taints)),
        file=Path(file),
        field="",
    )]


__all__ = [
    "API_NODE_ACTIONS",
    "AppOutageSpec",
    "CLOUD_NODE_ACTIONS",
    "DEFAULT_HOG_IMAGE",
    "HogSpec",
    "NodeSpec",
    "PodDisruptionSpec",
    "ServiceDisruptionSpec",
    "Taint",
    "parse_app_outage",
    "parse_hog",
    "parse_node",
    "parse_pod_disruption",
    "parse_service_disruption",
]
