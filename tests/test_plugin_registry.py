"""Plugins own their scenario type: name, spec parser, short name and one-line description live
in the plugin; the config's known types, the parsers and the console's names come from the
registry (on plain data, no cluster)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from krkn_tui.config import load_config
from krkn_tui.errors import UserError
from krkn_tui.scenarios import base, describe_specs, load_plugins, parse_scenario_file, scenario_types, short_name
from krkn_tui.scenarios.krkn_only import KRKN_ONLY_TYPES
from krkn_tui.tui.rows import scenario_row, short_type
from krkn_tui.yamlio import Section

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"pod_disruption_scenarios": "pod_kill.yaml", "application_outages_scenarios": "app_outage.yaml",
           "node_scenarios": "node_cordon.yaml", "service_disruption_scenarios": "service_scale.yaml",
           "hog_scenarios": "hog_cpu.yaml", "container_scenarios": "container_kill.yaml",
           "pvc_scenarios": "pvc_fill.yaml", "time_scenarios": "time_skew.yaml",
           "network_chaos_ng_scenarios": "network_filter.yaml", "service_hijacking_scenarios": "service_hijack.yaml",
           "syn_flood_scenarios": "syn_flood.yaml", "http_load_scenarios": "http_load.yaml",
           "pod_network_scenarios": "pod_network_outage.yaml",
           "storage_throttle_scenarios": "storage_throttle.yaml",
           "network_chaos_scenarios": "node_network_chaos.yaml", "ingress_node_scenarios": "node_ingress.yaml"}


def test_every_plugin_declares_its_type():
    plugins = load_plugins()
    assert set(plugins) == set(SHIPPED) and scenario_types() == tuple(sorted(SHIPPED))
    assert not set(plugins) & set(KRKN_ONLY_TYPES)
    names = [cls.short_name for cls in plugins.values()]
    assert all(names) and len(set(names)) == len(names)
    for scenario_type, cls in plugins.items():
        assert cls.scenario_type == scenario_type
        specs = cls.parse(ROOT / "scenarios" / SHIPPED[scenario_type])
        # the format lives with the plugin: its spec type and its parser are in the plugin's module
        assert type(specs[0]).__module__ == cls.parse_data.__module__ == cls.__module__
        line = cls.describe(specs[0])
        assert line and "\n" not in line and line != type(specs[0]).__name__


def test_a_type_not_registered_is_refused_naming_the_known_ones(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("x: 1\n")
    with pytest.raises(UserError) as info:
        parse_scenario_file("zone_outages", path)
    assert str(info.value).startswith(f"{path}: unknown scenario type 'zone_outages'")
    assert ", ".join(scenario_types()) in str(info.value)
    assert short_name("zone_outages_scenarios") == "zone_outages_scenarios"  # krkn's own type: shown as is


@dataclass(frozen=True)
class EchoSpec:
    message: str


class EchoPlugin(base.ScenarioPlugin):
    """A scenario type as a new module would add it: nothing else in krkn-tui lists it."""

    scenario_type = "echo_scenarios"
    short_name = "echo"

    @staticmethod
    def parse_data(data, file):
        return [EchoSpec(Section(data, file, "").string("message", required=True))]

    @staticmethod
    def describe(spec: EchoSpec) -> str:
        return f"says {spec.message!r}"

    def run(self, spec, ctx):
        return base.Outcome("passed", spec.message)


def test_a_registered_plugin_is_known_everywhere_at_once(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", dict(load_plugins()))
    base.register(EchoPlugin)
    (tmp_path / "echo.yaml").write_text("message: hello\n")
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios:\n    - echo_scenarios: [echo.yaml]\n")

    [ref] = load_config(tmp_path / "config.yaml").scenarios  # the config's known types
    assert ref.scenario_type == "echo_scenarios" and ref.supported
    assert "echo_scenarios" in scenario_types()
    assert parse_scenario_file("echo_scenarios", ref.file) == [EchoSpec("hello")]  # its parser
    assert short_type("echo_scenarios") == "echo"  # the console's name
    assert scenario_row(ref, tmp_path).summary == "says 'hello'"  # its description
    assert describe_specs("echo_scenarios", [EchoSpec(str(i)) for i in range(3)]) == "says '0'; says '1'; +1 more"
    assert base.plugin_for("echo_scenarios").run(EchoSpec("hi"), None).message == "hi"
    with pytest.raises(TypeError, match="registered twice"):
        base.register(type("Other", (EchoPlugin,), {}))


def test_loading_every_plugin_imports_neither_kubernetes_nor_textual():
    code = ("import sys\nfrom krkn_tui.scenarios import load_plugins\nload_plugins()\n"
            "print(sorted(m for m in ('kubernetes', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_plugin_imports_a_sibling_plugin():
    """What two plugins share lives in modules that register no plugin (base.py, specs.py,
    krkn_pods.py, pod_pick.py, netchaos.py ...): a plugin module, one with a `@register` class, stands alone."""
    import ast
    from pathlib import Path

    import krkn_tui.scenarios as package

    folder = Path(package.__file__).parent
    trees = {p.stem: ast.parse(p.read_text()) for p in folder.glob("*.py")}

    def registers(tree) -> bool:
        return any(isinstance(n, ast.ClassDef) and any(isinstance(d, ast.Name) and d.id == "register"
                                                       for d in n.decorator_list) for n in ast.walk(tree))

    plugins = {name for name, tree in trees.items() if registers(tree)}
    assert len(plugins) >= 8 and "base" not in plugins and "krkn_pods" not in plugins
    offenders = []
    for name in sorted(plugins):
        for node in ast.walk(trees[name]):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and (node.module or "") in plugins:
                offenders.append(f"{name} imports {node.module}")
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
                offenders += [f"{name} imports {a.name}" for a in node.names if a.name in plugins]
    assert not offenders, offenders
