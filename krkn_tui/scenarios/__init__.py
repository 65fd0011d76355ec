"""Scenario plugins, one module per krkn scenario type, registered by type."""

import importlib

PLUGIN_MODULES = (
    "pod_disruption",
    "application_outage",
    "node_actions",
    "service_disruption",
    "hog",
)


def load_plugins() -> None:
    for name in PLUGIN_MODULES:
        importlib.import_module(f"{__name__}.{name}")
