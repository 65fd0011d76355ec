"""The demo cluster behaves like one: kwok stages with start-up delays for profiled pods, a flaky
profile, and (without the real node) a health endpoint that follows a Deployment and says that it
reads the API. The demo's real form is in test_demo_server.py."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import yaml
from kubehelpers import deployment, wait_for

from krkn_tui.localcluster import health
from krkn_tui.localcluster.certs import ensure_pki
from krkn_tui.localcluster.processes import free_port
from krkn_tui.localcluster.rest import Rest
from krkn_tui.localcluster.stages import PROFILE_LABEL, kwok_stages

BASE = """\
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
  next: {statusTemplate: "phase: Running"}
"""


def test_fast_pod_ready_stage_leaves_profiled_pods_to_the_demo_stages():
    docs = list(yaml.safe_load_all(kwok_stages(BASE)))
    fast = docs[0]
    assert {"key": f'.metadata.labels["{PROFILE_LABEL}"]', "operator": "DoesNotExist"} in \
        fast["spec"]["selector"]["matchExpressions"]
    names = [d["metadata"]["name"] for d in docs[1:]]
    assert names == ["krkn-demo-pod-create", "krkn-demo-pod-ready", "krkn-demo-pod-crash", "krkn-demo-pod-recover"]
    ready = docs[2]["spec"]
    assert ready["delay"] == {"durationMilliseconds": 1000, "jitterDurationMilliseconds": 5000}


def _profiled(name, namespace, replicas, profile):
    dep = deployment(name, namespace, replicas)
    dep.spec.template.metadata.labels = {**dep.spec.template.metadata.labels, PROFILE_LABEL: profile}
    return dep


def _ready_at(pod):
    return next((c.last_transition_time for c in pod.status.conditions or []
                 if c.type == "Ready" and c.status == "True"), None)


def test_realistic_pods_turn_ready_a_second_or_more_after_creation(apps, core, namespace):
    apps.create_namespaced_deployment(namespace, _profiled("web", namespace, 4, "realistic"))
    pods = wait_for(lambda: [p for p in core.list_namespaced_pod(namespace).items if _ready_at(p)]
                    if sum(1 for p in core.list_namespaced_pod(namespace).items if _ready_at(p)) == 4 else None,
                    timeout=120, what="4 realistic pods Ready")
    for pod in pods:
        # The stage waits at least 1 s after the container is created, which is after creation.
        assert _ready_at(pod) - pod.metadata.creation_timestamp >= timedelta(seconds=1), pod.metadata.name


def test_flaky_profile_crash_loops_some_replacements_then_recovers(apps, core, namespace):
    # Each pod crash-loops with probability 1/3: with 20 pods, none doing so has odds 0.03%.
    apps.create_namespaced_deployment(namespace, _profiled("web", namespace, 20, "flaky"))

    def crashed():
        return [p for p in core.list_namespaced_pod(namespace).items
                if any(s.restart_count for s in p.status.container_statuses or [])]

    wait_for(crashed, timeout=120, what="a crash-looping pod")
    wait_for(lambda: all(_ready_at(p) for p in core.list_namespaced_pod(namespace).items)
             and len(core.list_namespaced_pod(namespace).items) == 20, timeout=180, what="every flaky pod Ready")
    assert 0 < len(crashed()) < 20


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_health_endpoint_follows_ready_replicas_and_ingress_policies(local_cluster, apps, namespace):
    from kubernetes import client

    apps.create_namespaced_deployment(namespace, deployment("web", namespace, 2))
    state = health.DemoState(Rest(local_cluster.server(), ensure_pki(local_cluster.state_dir / "pki")), namespace, "web")
    server = health.make_server(state, free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    try:
        def answer(code, query=""):
            state.poll_once()
            got = _get(url + query)
            return got if got[0] == code else None

        def both_ready():  # 200 comes with the first Ready pod; the second may follow a poll later
            got = answer(200)
            return got if got and got[1]["ready"] == 2 else None

        body = wait_for(both_ready, what="200 with both replicas ready")[1]
        assert body["ready"] == 2 and body["source"] == "api-objects" and body["note"] == health.KWOK_NOTE
        assert answer(503, "?min=3")[1]["status"] == "down"
        net = client.NetworkingV1Api(apps.api_client)
        net.create_namespaced_network_policy(namespace, client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="deny"),
            spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(match_labels={"app": "web"}),
                                            policy_types=["Ingress"])))
        assert "deny" in wait_for(lambda: answer(503), what="503 on deny-all")[1]["reason"]
        net.delete_namespaced_network_policy("deny", namespace)
        wait_for(lambda: answer(200), what="200 again")
        apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 0}})
        assert wait_for(lambda: answer(503), what="503 at zero replicas")[1]["ready"] == 0
        assert _get(url.replace("/health", "/nope"))[0] == 404
        assert _get(url + "?min=x") == (400, {"error": "min must be an integer"})
    finally:
        server.shutdown()
        server.server_close()


def test_demo_health_endpoint_runs_with_the_cluster(local_cluster):
    url = local_cluster.status()["health"]
    assert url and url.endswith("/health")
    assert wait_for(lambda: _get(url)[0] == 200, timeout=60, what="the demo endpoint's 200")
