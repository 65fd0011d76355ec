"""Every scenario type krkn-tui runs: the module that registers it and its console label, known
without importing the plugins. Importing all of them (to list the types a config may name, or to
label a row) took ~60 ms of CPU on the console's way to its first frame; a run imports only the
modules of the types it runs. tests/test_scenario_index.py checks this table against what the
plugins register, so a new type cannot be left out of it."""

from __future__ import annotations

# type -> (module in this package, label)
TYPES: dict[str, tuple[str, str]] = {
    "application_outages_scenarios": ("application_outage", "app outage"),
    "container_scenarios": ("container_kill", "container kill"),
    "hog_scenarios": ("hog", "hog"),
    "http_load_scenarios": ("http_load", "http load"),
    "ingress_node_scenarios": ("network_chaos_ng", "node ingress netem"),
    "network_chaos_ng_scenarios": ("network_chaos_ng", "network filter"),
    "network_chaos_scenarios": ("network_chaos_ng", "node egress netem"),
    "node_scenarios": ("node_actions", "node"),
    "pod_disruption_scenarios": ("pod_disruption", "pod disruption"),
    "pod_network_scenarios": ("pod_network", "pod network"),
    "pvc_scenarios": ("pvc_fill", "pvc fill"),
    "service_disruption_scenarios": ("service_disruption", "service disruption"),
    "service_hijacking_scenarios": ("service_hijacking", "service hijack"),
    "storage_throttle_scenarios": ("storage_throttle", "storage throttle"),
    "syn_flood_scenarios": ("syn_flood", "syn flood"),
    "time_scenarios": ("time_skew", "time skew"),
}
