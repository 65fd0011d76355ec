"""Create one hog pod with real krkn-lib, as krkn's hog plugin does, and print it as the API
server stored it (JSON), then delete it.

Runs in the krkn-lib virtual environment; imports nothing from krkn-tui.
Usage: python krkn_lib_hog.py KUBECONFIG SCENARIO_YAML NODE POD_NAME
"""

import json
import sys

import yaml


def main(kubeconfig, scenario_file, node, pod_name):
    from krkn_lib.k8s import KrknKubernetes
    from krkn_lib.models.krkn.models import HogConfig

    lib_k8s = KrknKubernetes(kubeconfig_path=kubeconfig)
    with open(scenario_file) as f:
        config = HogConfig.from_yaml_dict(yaml.safe_load(f))
    # What krkn's HogsScenarioPlugin.run_scenario_worker does for each selected node.
    if not config.workers:
        config.workers = lib_k8s.get_node_cpu_count(node)
    config.node_selector = f"kubernetes.io/hostname={node}"
    lib_k8s.deploy_hog(pod_name, config)
    try:
        pod = lib_k8s.cli.read_namespaced_pod(pod_name, config.namespace)
        print(json.dumps(lib_k8s.api_client.sanitize_for_serialization(pod)))
    finally:
        lib_k8s.cli.delete_namespaced_pod(pod_name, config.namespace, grace_period_seconds=0)


if __name__ == "__main__":
    main(*sys.argv[1:5])
