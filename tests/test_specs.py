"""Scenario file formats: shipped samples, krkn's own forms, defaults, and the bad-input corpus."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krkn_tui.config import load_config
from krkn_tui.errors import UserError
from krkn_tui.scenarios import load_plugins, parse_scenario_file, scenario_types
from krkn_tui.scenarios.application_outage import AppOutageSpec, parse_app_outage
from krkn_tui.scenarios.hog import DEFAULT_HOG_IMAGE, HogSpec, parse_hog
from krkn_tui.scenarios.node_actions import API_NODE_ACTIONS, NodeSpec, parse_node
from krkn_tui.scenarios.pod_disruption import PodDisruptionSpec, parse_pod_disruption
from krkn_tui.scenarios.service_disruption import ServiceDisruptionSpec, parse_service_disruption
from krkn_tui.scenarios.specs import Taint

PARSERS = {t: plugin.parse_data for t, plugin in load_plugins().items()}  # each plugin's own parser

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
BAD_DIR = Path(__file__).parent / "data" / "bad"
F = "s.yaml"


def _rows() -> list[dict]:
    return yaml.safe_load((BAD_DIR / "cases.yaml").read_text())


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(text: str):
    return yaml.safe_load(text)


# ---- shipped samples --------------------------------------------------------------------------


def test_every_shipped_scenario_parses():
    cfg = load_config(ROOT / "config.yaml")
    for ref in cfg.scenarios:
        assert parse_scenario_file(ref.scenario_type, ref.file)
    # Not in config.yaml: the types that need the real node (exec, privileged or attacker pods), so
    # the shipped config also runs on a cluster of kwok nodes only.
    extra = {"node_drain.yaml": "node_scenarios", "namespace_delete.yaml": "service_disruption_scenarios",
             "container_kill.yaml": "container_scenarios", "pvc_fill.yaml": "pvc_scenarios",
             "time_skew.yaml": "time_scenarios", "network_filter.yaml": "network_chaos_ng_scenarios",
             "service_hijack.yaml": "service_hijacking_scenarios", "syn_flood.yaml": "syn_flood_scenarios",
             "http_load.yaml": "http_load_scenarios", "pod_network_outage.yaml": "pod_network_scenarios",
             "storage_throttle.yaml": "storage_throttle_scenarios",
             "node_network_chaos.yaml": "network_chaos_scenarios",
             "node_ingress.yaml": "ingress_node_scenarios"}
    referenced = {ref.file.name for ref in cfg.scenarios}
    assert referenced | set(extra) == {p.name for p in SCENARIOS.glob("*.yaml")}
    for name, kind in extra.items():
        assert parse_scenario_file(kind, SCENARIOS / name)


def test_shipped_scenarios_target_the_demo_workload():
    (pod,) = parse_scenario_file("pod_disruption_scenarios", SCENARIOS / "pod_kill.yaml")
    assert (pod.namespace_pattern, pod.label_selector, pod.kill, pod.krkn_pod_recovery_time) == (
        "^krkn-demo$", "app=frontend", 1, 60)
    (app,) = parse_scenario_file("application_outages_scenarios", SCENARIOS / "app_outage.yaml")
    assert (app.namespace, app.match_labels, app.duration, app.block) == (
        "krkn-demo", {"app": "frontend"}, 10, ("Ingress", "Egress"))
    (cordon,) = parse_scenario_file("node_scenarios", SCENARIOS / "node_cordon.yaml")
    assert (cordon.actions, cordon.label_selector, cordon.instance_count, cordon.duration) == (
        ("node_cordon_scenario",), "type=kwok", 1, 5)
    (drain,) = parse_scenario_file("node_scenarios", SCENARIOS / "node_drain.yaml")
    assert drain.actions == ("node_drain_scenario",)
    (scale,) = parse_scenario_file("service_disruption_scenarios", SCENARIOS / "service_scale.yaml")
    assert (scale.mode, scale.namespace_pattern, scale.label_selector, scale.duration) == (
        "scale", "^krkn-demo$", None, 5)
    (delete,) = parse_scenario_file("service_disruption_scenarios", SCENARIOS / "namespace_delete.yaml")
    assert (delete.mode, delete.namespace_pattern) == ("delete_namespace", "^krkn-demo-ns-chaos$")
    (hog,) = parse_scenario_file("hog_scenarios", SCENARIOS / "hog_cpu.yaml")
    assert (hog.hog_type, hog.duration, hog.namespace, hog.node_selector, hog.number_of_nodes) == (
        "cpu", 5, "krkn-demo", "type=kwok", 1)


# ---- pod disruption ---------------------------------------------------------------------------


def test_pod_defaults_and_krkn_sample():
    (spec,) = parse_pod_disruption(load("""\
# yaml-language-server: $schema=../plugin.schema.json
- id: kill-pods
  config:
    name_pattern: ^nginx-.*$
    namespace_pattern: ^default$
"""), F)
    assert spec == PodDisruptionSpec(
        id="kill-pods", namespace_pattern="^default$", name_pattern="^nginx-.*$", file=Path(F), field="[0]")
    assert (spec.kill, spec.krkn_pod_recovery_time, spec.execution, spec.timeout, spec.duration) == (
        1, 120, "serial", 180, 0)
    assert spec.label_selector is None and spec.node_names == () and spec.force is False


def test_pod_all_fields():
    specs = parse_pod_disruption(load("""\
- config:
    namespace_pattern: ^(demo|prod)$
    label_selector: app in (frontend, api),tier!=db
    kill: 2
    krkn_pod_recovery_time: 30.5
    execution: parallel
    timeout: 60
    duration: 10
    exclude_label: keep=true
    node_label_selector: node-role.kubernetes.io/worker
    node_names: [worker-1, worker-2]
    force: true
- id: second
  config: {namespace_pattern: x, label_selector: "!canary"}
"""), F)
    first, second = specs
    assert first.id is None and first.kill == 2 and first.execution == "parallel"
    assert first.krkn_pod_recovery_time == 30.5 and first.node_names == ("worker-1", "worker-2")
    assert first.force is True and first.exclude_label == "keep=true"
    assert second.field == "[1]" and second.label_selector == "!canary"


def test_specs_are_frozen():
    (spec,) = parse_pod_disruption(load("- config: {namespace_pattern: x, label_selector: a=b}"), F)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kill = 5  # type: ignore[misc]


# ---- application outage -----------------------------------------------------------------------


def test_app_outage_defaults_and_selector_helpers():
    (spec,) = parse_app_outage(load("""\
application_outage:
  namespace: demo
  pod_selector: {tier: web, app: frontend}
"""), F)
    assert isinstance(spec, AppOutageSpec)
    assert spec.duration == 60 and spec.block == ("Ingress", "Egress")
    assert spec.match_labels == {"app": "frontend", "tier": "web"}
    assert spec.label_selector == "app=frontend,tier=web"


@pytest.mark.parametrize("form", [
    "{tier: gold, env: [prod, staging]}",
    "'tier=gold,env=prod|staging'",
    "[tier=gold, 'env=prod|staging']",
])
def test_app_outage_exclude_label_forms(form):
    (spec,) = parse_app_outage(load(f"""\
application_outage:
  namespace: demo
  pod_selector: {{app: frontend}}
  block: [Egress, Egress]
  exclude_label: {form}
"""), F)
    assert spec.exclude_label == (("tier", ("gold",)), ("env", ("prod", "staging")))
    assert spec.block == ("Egress",)


# ---- node scenarios ---------------------------------------------------------------------------


def test_node_krkn_shape_with_blank_node_name_and_cloud_type():
    (spec,) = parse_node(load("""\
node_scenarios:
  - actions:
      - node_cordon_scenario
      - node_drain_scenario
    node_name:
    label_selector: node-role.kubernetes.io/worker
    instance_kill_count: 2
    timeout: 120
    cloud_type: generic
    kube_check: true
"""), F)
    assert isinstance(spec, NodeSpec)
    assert spec.actions == ("node_cordon_scenario", "node_drain_scenario")
    assert spec.instance_count == 2 and spec.runs == 1 and spec.duration == 0
    assert spec.cloud_type == "generic" and spec.node_names == () and spec.taint is None


def test_node_names_and_taint():
    (spec,) = parse_node(load("""\
node_scenarios:
  - actions: [node_taint_scenario, node_cordon_scenario]
    node_name: worker-1, worker-2
    duration: 30
    parallel: true
    taint: {key: example.com/chaos, value: "on", effect: NoExecute}
"""), F)
    assert spec.node_names == ("worker-1", "worker-2") and spec.parallel is True
    assert spec.taint == Taint(key="example.com/chaos", value="on", effect="NoExecute")
    assert str(spec.taint) == "example.com/chaos=on:NoExecute"


def test_every_api_action_is_accepted():
    for action in API_NODE_ACTIONS:
        taint = "\n    taint: {key: k, effect: NoSchedule}" if action == "node_taint_scenario" else ""
        (spec,) = parse_node(load(f"node_scenarios:\n  - actions: [{action}]\n    label_selector: a{taint}\n"), F)
        assert spec.actions == (action,)


def test_instance_count_set_twice():
    with pytest.raises(UserError, match="old name for instance_count"):
        parse_node(load("node_scenarios:\n  - {actions: [node_cordon_scenario], label_selector: a, "
                        "instance_count: 1, instance_kill_count: 1}\n"), F)


# ---- service disruption -----------------------------------------------------------------------


def test_service_defaults_keep_krkn_files_working():
    (spec,) = parse_service_disruption(load("""\
scenarios:
  - namespace: "^demo$"
    label_selector:
    delete_count: 1
    runs: 1
    sleep: 15
"""), F)
    assert spec == ServiceDisruptionSpec(namespace_pattern="^demo$", file=Path(F), field="scenarios[0]")
    assert spec.mode == "delete_objects"  # what krkn does with this file: delete its Services and workloads
    assert spec.duration == spec.sleep == 15
    (with_wait,) = parse_service_disruption(load("scenarios:\n  - {namespace: a, wait_time: 300}\n"), F)
    assert with_wait.wait_time == 300  # krkn's key: how long the objects have to come back


def test_service_duration_follows_sleep_unless_given():
    a, b = parse_service_disruption(load(
        "scenarios:\n  - {namespace: a, sleep: 3}\n  - {namespace: b, sleep: 3, duration: 7, mode: delete_namespace}\n"
    ), F)
    assert (a.duration, b.duration, b.mode) == (3, 7, "delete_namespace")


# ---- hogs -------------------------------------------------------------------------------------


def test_hog_defaults():
    (spec,) = parse_hog(load("hog-type: memory\n"), F)
    assert spec == HogSpec(hog_type="memory", file=Path(F))
    assert (spec.duration, spec.image, spec.namespace, spec.memory_vm_bytes) == (
        30, DEFAULT_HOG_IMAGE, "default", "10%")
    assert spec.workers is None and spec.number_of_nodes is None and spec.node_selector == ""
    assert spec.io_target_pod_volume == {"name": "node-volume", "hostPath": {"path": "/tmp"}}


def test_hog_krkn_samples():
    """krkn's own cpu/memory/io hog files, with their blank '' values and mapping node-selector."""
    (cpu,) = parse_hog(load("""\
duration: 60
workers: '' # leave it empty '' node cpu auto-detection
hog-type: cpu
image: quay.io/krkn-chaos/krkn-hog
namespace: default
cpu-load-percentage: 90
cpu-method: all
node-selector: # leave it empty {} for random node selection
  node-role.kubernetes.io/worker: ''
"""), F)
    assert (cpu.workers, cpu.cpu_load_percentage, cpu.node_selector) == (
        None, 90, "node-role.kubernetes.io/worker=")
    (io,) = parse_hog(load("""\
duration: 30
workers: ''
hog-type: io
image: quay.io/krkn-chaos/krkn-hog
namespace: default
io-block-size: 1m
io-write-bytes: 1g
io-target-pod-folder: /hog-data
io-target-pod-volume:
  name: node-volume
  hostPath:
    path: /root
node-selector: "node-role.kubernetes.io/worker="
number-of-nodes: ''
taints: [] #example ["node-role.kubernetes.io/master:NoSchedule"]
"""), F)
    assert (io.io_block_size, io.io_write_bytes, io.number_of_nodes) == ("1m", "1g", None)
    assert io.io_target_pod_volume["hostPath"] == {"path": "/root"}
    (mem,) = parse_hog(load("duration: 120\nhog-type: memory\nmemory-vm-bytes: 90%\nnode-selector: {}\n"), F)
    assert (mem.memory_vm_bytes, mem.node_selector) == ("90%", "")


def test_hog_taints_become_tolerations():
    (spec,) = parse_hog(load("""\
hog-type: cpu
workers: 2
number-of-nodes: 3
taints: ["node-role.kubernetes.io/master:NoSchedule", "dedicated=chaos:NoExecute"]
"""), F)
    assert spec.taints == (
        Taint(key="node-role.kubernetes.io/master", value=None, effect="NoSchedule"),
        Taint(key="dedicated", value="chaos", effect="NoExecute"),
    )
    assert (spec.workers, spec.number_of_nodes) == (2, 3)


def test_hog_load_bounds():
    for value in (0, 100):
        (spec,) = parse_hog({"hog-type": "cpu", "cpu-load-percentage": value}, F)
        assert spec.cpu_load_percentage == value
    with pytest.raises(UserError, match="cpu-load-percentage: must be at least 0"):
        parse_hog({"hog-type": "cpu", "cpu-load-percentage": -1}, F)


# ---- dispatch and numbers ---------------------------------------------------------------------


def test_the_known_types_are_the_registered_plugins():
    assert set(PARSERS) == set(scenario_types()) >= {"pod_disruption_scenarios", "hog_scenarios"}


def test_unknown_scenario_type(tmp_path):
    path = write(tmp_path, "x: 1\n")
    with pytest.raises(UserError) as info:
        parse_scenario_file("zone_outages", path)
    assert str(info.value).startswith(f"{path}: unknown scenario type 'zone_outages'")
    assert "hog_scenarios" in str(info.value)


@pytest.mark.parametrize("value,ok", [
    (1, True), (2.5, True), (True, False), (False, False), ("3", False), ([3], False),
    (math.inf, False), (-1, False),
])
def test_numbers_accept_int_and_float_only(value, ok):
    data = [{"config": {"namespace_pattern": "x", "label_selector": "a", "timeout": value}}]
    if ok:
        (spec,) = parse_pod_disruption(data, F)
        assert spec.timeout == value and isinstance(spec.timeout, float)
    else:
        with pytest.raises(UserError, match=r"\[0\]\.config\.timeout: "):
            parse_pod_disruption(data, F)


@pytest.mark.parametrize("value", [True, "2", 2.0, 1.5, None])
def test_integers_reject_bools_strings_and_floats(value):
    data = {"hog-type": "cpu", "number-of-nodes": value, "workers": value}
    if value is None:
        assert parse_hog(data, F)[0].number_of_nodes is None
        return
    with pytest.raises(UserError, match="expected an integer"):
        parse_hog(data, F)


# ---- bad-input corpus (scenario half; config half in test_config.py) --------------------------


@pytest.mark.parametrize("row", [pytest.param(r, id=r["file"]) for r in _rows() if r["kind"] != "config"])
def test_bad_scenario_file(row):
    path = BAD_DIR / row["file"]
    with pytest.raises(UserError) as info:
        parse_scenario_file(row["kind"], path)
    text = str(info.value)
    assert "\n" not in text and "\r" not in text, text
    assert text.startswith(f"{path}: "), text
    assert info.value.field == row["field"], text
    if row["field"] is not None:
        assert text.startswith(f"{path}: {row['field']}: "), text
    assert row["message"] in text, text


def test_scenario_file_reader_errors(tmp_path):
    with pytest.raises(UserError, match="scenario file not found"):
        parse_scenario_file("hog_scenarios", tmp_path / "none.yaml")
    with pytest.raises(UserError, match="scenario file is a directory"):
        parse_scenario_file("hog_scenarios", tmp_path)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"hog-type: cpu\n" + b"#" * (1024 * 1024))
    with pytest.raises(UserError, match="larger than 1 MiB"):
        parse_scenario_file("hog_scenarios", big)


# ---- property: only UserError comes out -------------------------------------------------------

_KEYS = sorted({
    "id", "config", "namespace_pattern", "label_selector", "name_pattern", "kill", "krkn_pod_recovery_time",
    "execution", "timeout", "duration", "exclude_label", "node_label_selector", "node_names", "force",
    "application_outage", "namespace", "pod_selector", "block", "node_scenarios", "actions", "node_name",
    "instance_count", "instance_kill_count", "runs", "cloud_type", "taint", "key", "value", "effect",
    "parallel", "scenarios", "delete_count", "sleep", "mode", "hog-type", "image", "cpu-load-percentage",
    "cpu-method", "memory-vm-bytes", "io-block-size", "io-write-bytes", "io-target-pod-folder",
    "io-target-pod-volume", "name", "workers", "node-selector", "number-of-nodes", "taints", "app",
})
_WORDS = [
    "serial", "parallel", "sideways", "Ingress", "Egress", "node_cordon_scenario", "node_drain_scenario",
    "node_taint_scenario", "node_reboot_scenario", "NoSchedule", "NoExecute", "scale", "delete_namespace",
    "cpu", "memory", "io", "gpu", "^demo$", "(", "app=frontend", "a=b:NoSchedule", "k=", "90%", "1m",
    "/hog-data", "", " ", "a,b", "x|y",
]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 200), st.floats(), st.sampled_from(_WORDS), st.text(max_size=8),
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.integers(0, 2)), inner, max_size=5),
    ),
    max_leaves=30,
)
_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), data=_trees)
def test_parsers_only_raise_user_error_on_structures(kind, data):
    try:
        PARSERS[kind](data, F)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(F)


_TOKENS = [
    "- ", "config:", "namespace_pattern:", "label_selector:", "kill:", "application_outage:",
    "pod_selector:", "node_scenarios:", "actions:", "taint:", "scenarios:", "mode:", "hog-type:",
    "taints:", "node-selector:", "\n", "\n  ", "\n    ", " ", "[", "]", "{", "}", ",", ": ", "&a ", "*a",
    "<<: ", "!!int ", "!!float ", "!!timestamp ", "'", '"', "---\n", "#", "\t", "~", "1", "-1", "1.5",
    "true", "cpu", "gpu", "^x$", "(", "\x00", "\ufeff", "é",
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("specs-prop")


@_SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)),
       text=st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_scenario_files_only_raise_user_error_on_text(scratch, kind, text):
    path = scratch / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        parse_scenario_file(kind, path)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))


@_SETTINGS
@given(kind=st.sampled_from(sorted(PARSERS)), data=st.binary(max_size=120))
def test_scenario_files_only_raise_user_error_on_bytes(scratch, kind, data):
    path = scratch / "s.yaml"
    path.write_bytes(data)
    try:
        parse_scenario_file(kind, path)
    except UserError as exc:
        assert "\n" not in str(exc)
