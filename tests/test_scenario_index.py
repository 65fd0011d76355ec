"""The scenario index (type -> module, label) is what the plugins register, read without
importing them (on plain data, no cluster)."""

from __future__ import annotations

import subprocess
import sys

from krkn_tui.scenarios import load_plugins, scenario_types, short_name
from krkn_tui.scenarios.index import TYPES


def test_the_index_names_every_registered_type_its_module_and_its_label():
    plugins = load_plugins()
    assert set(TYPES) == set(plugins)
    for scenario_type, (module, label) in TYPES.items():
        cls = plugins[scenario_type]
        assert cls.__module__ == f"krkn_tui.scenarios.{module}", scenario_type
        assert cls.short_name == label == short_name(scenario_type), scenario_type


def test_listing_and_labelling_types_imports_no_plugin_and_using_one_imports_its_own_module():
    code = ("import sys\nfrom krkn_tui.scenarios import plugin_class, scenario_types, short_name\n"
            "types = scenario_types(); labels = [short_name(t) for t in types]\n"
            "mods = lambda: sorted(m for m in sys.modules if m.startswith('krkn_tui.scenarios.') and m.split('.')[-1] in {v[0] for v in __import__('krkn_tui.scenarios.index', fromlist=['TYPES']).TYPES.values()})\n"
            "print(len(types), mods())\n"
            "cls = plugin_class('pod_disruption_scenarios')\n"
            "print(cls.scenario_type, mods())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == f"{len(scenario_types())} []"
    assert out[1] == "pod_disruption_scenarios ['krkn_tui.scenarios.pod_disruption']"
