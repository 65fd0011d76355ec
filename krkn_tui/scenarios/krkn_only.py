"""krkn's scenario types that krkn-tui does not run, each with the reason.

A config naming one still loads (the console shows it greyed, `run --skip-unsupported` runs the
rest); a type in neither this list nor the plugin registry is a typo and an error. The types
krkn-tui runs are the registry's, never listed here.
"""

from __future__ import annotations

# From krkn's scenario plugins' get_scenario_types(), plus the old `plugin_scenarios` name that
# krkn's own config_kubernetes.yaml still uses.
KRKN_ONLY_TYPES: dict[str, str] = {
    "zone_outages_scenarios": "a cloud provider's network ACLs (AWS, GCP)",
    "cluster_shut_down_scenarios": "stops every node through the cloud provider",
    "managedcluster_scenarios": "Open Cluster Management's ManagedCluster API",
    "kubevirt_vm_outage": "KubeVirt virtual machine instances",
    "plugin_scenarios": "krkn's old plugin runner (its own current configs map these elsewhere)",
}

UNSUPPORTED_NOTE = "not supported by krkn-tui"


def is_krkn_only(scenario_type: str) -> bool:
    return scenario_type in KRKN_ONLY_TYPES
