"""Fill the local cluster with N bench pods on its fake nodes, in a process of its own.

`python -m bench.scale_fill --pods N --nodes M` makes namespaces `bench-scale-NN` (1,000 pods
each) and creates the pods that are missing, each bound to a fake node round-robin (spec.nodeName
set, so the scheduler is not in the way: kwok makes them Running). Pods that are already there
are kept, so a second bench run reuses them. Prints one JSON object: pods created, seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

PER_NAMESPACE = 1000
LABEL = "krkn-tui/bench-scale"
THREADS = 8


def namespaces(pods: int) -> list[str]:
    return [f"bench-scale-{i:02d}" for i in range((pods + PER_NAMESPACE - 1) // PER_NAMESPACE)]


def pod(name: str, node: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {LABEL: "true", "app": f"scale-{name[-1]}"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}],
                 "tolerations": [{"operator": "Exists"}]},
    }


def fill(kubeconfig: str, pods: int, nodes: int) -> dict:
    from kubernetes import client

    from krkn_tui.kube.client import load_api_client

    api = load_api_client(kubeconfig)
    core = client.CoreV1Api(api)
    wanted: list[tuple[str, str, str]] = []
    for n, ns in enumerate(namespaces(pods)):
        try:
            core.create_namespace({"metadata": {"name": ns, "labels": {LABEL: "true"}}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        have = {p.metadata.name for p in core.list_namespaced_pod(ns, label_selector=LABEL).items}
        for i in range(n * PER_NAMESPACE, min(pods, (n + 1) * PER_NAMESPACE)):
            name = f"scale-{i:06d}"
            if name not in have:
                wanted.append((ns, name, f"kwok-node-{i % nodes}"))
    t0 = time.monotonic()

    def create(item) -> None:
        ns, name, node = item
        for attempt in range(5):
            try:
                core.create_namespaced_pod(ns, pod(name, node), _preload_content=False)
                return
            except client.ApiException as exc:
                if exc.status == 409:
                    return
                if exc.status not in (429, 500, 503, 504) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(create, wanted))
    return {"created": len(wanted), "seconds": round(time.monotonic() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument("--nodes", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(fill(args.kubeconfig, args.pods, args.nodes)))


if __name__ == "__main__":
    main()
