"""Print, as JSON, the bodies real krkn-lib builds for the service hijacking, SYN flood and HTTP
load pods (and the hijacking's ConfigMap), by calling its deploy functions with the object
creation captured instead of sent.

Runs in the krkn-lib virtual environment; imports nothing from krkn-tui.
Usage: python krkn_lib_pods.py ARGS_JSON  (keyword arguments for each deploy function)
"""

import json
import sys
import types


def main(args_json):
    from krkn_lib.k8s import KrknKubernetes

    args = json.loads(args_json)
    made = []

    class Captured(KrknKubernetes):  # no cluster: what would be created is captured
        cli = types.SimpleNamespace(create_namespaced_config_map=lambda namespace, body: made.append(body))

        def __init__(self):
            pass

        def _verify_manifest_images(self, *a, **kw):  # newer krkn-lib's signature check: no registry here
            pass

        def create_pod(self, *a, **kw):
            made.append(kw.get("body", a[0] if a else None))

    lib = Captured()
    hijack = lib.deploy_service_hijacking(**args["service_hijacking"])
    lib.deploy_syn_flood(**args["syn_flood"])
    lib.deploy_http_load(**args["http_load"])
    print(json.dumps({"objects": made, "hijack": {"pod": hijack.pod_name, "selector": hijack.selector,
                                                  "config_map": hijack.config_map_name}}))


if __name__ == "__main__":
    main(sys.argv[1])
