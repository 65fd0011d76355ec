"""The service hijacking, SYN flood and HTTP load pods are the ones krkn-lib builds, field by field:
real krkn-lib (in its own virtual environment) builds them from the same scenario values, and
krkn-tui's differ only by what its docstrings say (placement on the local cluster's real node,
the run label, an immediate termination, no host network there, the plan as JSON)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import yaml

from krkn_tui.scenarios.http_load import load_pod, parse_http_load
from krkn_tui.scenarios.krkn_pods import node_affinity
from krkn_tui.scenarios.service_hijacking import parse_hijack, web_service_pod
from krkn_tui.scenarios.syn_flood import FloodTarget, attacker_pod, parse_syn_flood

PLACEMENT = {"nodeSelector": {"krkn-tui.io/node-kind": "real"},
             "tolerations": [{"key": "krkn-tui.io/real-node", "operator": "Exists", "effect": "NoSchedule"}]}
HIJACK = {"service_target_port": "http-web-svc", "service_name": "web", "service_namespace": "ns",
          "image": "quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3", "chaos_duration": 5, "privileged": False,
          "plan": [{"resource": "/", "steps": {"GET": [{"duration": 5, "status": 500, "mime_type": "text/plain",
                                                        "payload": "x"}]}}]}
SYN = {"packet-size": 120, "window-size": 64, "duration": 10, "namespace": "ns", "target-service": "web",
       "target-port": 80, "number-of-pods": 1, "image": "quay.io/krkn-chaos/krkn-syn-flood:v1.0.0",
       "attacker-nodes": {"node-role.kubernetes.io/worker": [""], "zone": ["a", "b"]}}
LOAD = [{"http_load_scenario": {"namespace": "ns", "targets": {"endpoints": [{"url": "http://web/", "method": "GET"}]},
                                "rate": "20/1s", "duration": "10s", "attacker-nodes": {"zone": ["a"]}}}]


def _krkn_lib(krkn_lib_python, hijack, syn, load) -> dict:
    args = {
        "service_hijacking": {"namespace": "ns", "plan": HIJACK["plan"], "image": hijack.image,
                              "port_name": hijack.target_port, "privileged": hijack.privileged},
        "syn_flood": {"pod_name": "syn-flood-x", "namespace": "ns", "image": syn.image, "target": "10.0.0.9",
                      "target_port": 80, "packet_size": 120, "window_size": 64, "duration": 10,
                      "node_selectors": {k: list(v) for k, v in syn.attacker_nodes.items()}},
        "http_load": {"name": "http-load-x", "namespace": "ns", "image": load.image, "targets_json_base64": "dA==",
                      "duration": load.duration, "rate": load.rate, "workers": load.workers,
                      "max_workers": load.max_workers, "connections": load.connections, "timeout": load.timeout,
                      "keepalive": load.keepalive, "http2": load.http2, "insecure": load.insecure,
                      "node_selectors": {k: list(v) for k, v in load.attacker_nodes.items()}},
    }
    done = subprocess.run([krkn_lib_python, str(Path(__file__).with_name("krkn_lib_pods.py")), json.dumps(args)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _less(pod: dict, *, labels=(), spec=()) -> dict:
    pod = copy.deepcopy(pod)
    for key in labels:
        pod["metadata"]["labels"].pop(key)
    if not pod["metadata"]["labels"]:
        pod["metadata"].pop("labels")
    for key in spec:
        pod["spec"].pop(key, None)
    return pod


def test_the_pods_are_krkn_libs_plus_what_krkn_tui_adds(krkn_lib_python):
    [hijack] = parse_hijack(HIJACK, "h.yaml")
    [syn] = parse_syn_flood(SYN, "s.yaml")
    [load] = parse_http_load(LOAD, "l.yaml")
    lib = _krkn_lib(krkn_lib_python, hijack, syn, load)
    cm, lib_hijack, lib_syn, lib_load = lib["objects"]

    key, value = lib["hijack"]["selector"].split("=")
    ours = web_service_pod(hijack, lib["hijack"]["pod"], lib["hijack"]["config_map"], value, PLACEMENT, "run")
    assert key == "service-hijacking"
    assert _less(ours, labels=["krkn-tui/run"], spec=list(PLACEMENT)) == {"apiVersion": "v1", **lib_hijack}
    # The plan: krkn-lib's YAML and krkn-tui's JSON are the same document.
    assert yaml.safe_load(cm["data"]["plan.yaml"]) == json.loads(hijack.plan_json()) == HIJACK["plan"]

    ours = attacker_pod(syn, "syn-flood-x", FloodTarget("web", "10.0.0.9"), {}, "run")
    lib_syn["spec"].pop("imagePullPolicy")  # krkn-lib's template puts it on the pod, which has no such field
    for term in lib_syn["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"]:  # its template writes the value "" as YAML null, which the API server reads as ""
        for expr in term["matchExpressions"]:
            expr["values"] = ["" if v is None else v for v in expr["values"]]
    assert _less(ours, labels=["krkn-tui/run", "krkn-tui/syn-flood-target"], spec=["terminationGracePeriodSeconds"]) \
        == {"apiVersion": "v1", **lib_syn}
    on_node = attacker_pod(syn, "syn-flood-x", FloodTarget("web", "10.0.0.9"), PLACEMENT, "run")["spec"]
    assert "hostNetwork" not in on_node and on_node["nodeSelector"] == PLACEMENT["nodeSelector"]

    ours = load_pod(load, "http-load-x", "dA==", {}, "run")
    assert _less(ours, labels=["krkn-tui/run"], spec=["terminationGracePeriodSeconds"]) == {"apiVersion": "v1",
                                                                                             **lib_load}
    assert node_affinity({"zone": ()})["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] \
        == {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]}
