"""The pod changes of figure 1, made from another process (as a user's cluster sees them).

Child: `python -m bench.pod_ops KUBECONFIG NAMESPACE` reads one JSON command a line
({"op": create|label|status|delete, "name": ..., "value": n}) and answers
{"t0": time.time() just before the call, "rv": resourceVersion of the answer} or {"error": ...}.
Parent: ``PodOps``, an asyncio client of that child.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from .env import repo_root


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "seq": "0"}},
        "spec": {"nodeSelector": {"krkn-tui/bench": "nowhere"}, "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }


def _status(restarts: int) -> dict:
    return {"status": {"containerStatuses": [{
        "name": "c", "image": "registry.k8s.io/pause:3.10", "imageID": "", "ready": False,
        "restartCount": restarts, "state": {"waiting": {"reason": "Bench"}}}]}}


def serve(kubeconfig: str, namespace: str) -> None:
    from kubernetes import client

    from krkn_tui.kube.client import load_api_client

    core = client.CoreV1Api(load_api_client(kubeconfig))
    calls = {
        "create": lambda name, value: (core.create_namespaced_pod, namespace, _pod(name)),
        "label": lambda name, value: (core.patch_namespaced_pod, name, namespace,
                                      {"metadata": {"labels": {"seq": str(value)}}}),
        "status": lambda name, value: (core.patch_namespaced_pod_status, name, namespace, _status(value)),
        "delete": lambda name, value: (core.delete_namespaced_pod, name, namespace),
    }
    for line in sys.stdin:
        cmd = json.loads(line)
        fn, *args = calls[cmd["op"]](cmd["name"], cmd.get("value"))
        try:
            t0 = time.time()
            response = fn(*args, _preload_content=False)
            reply = {"t0": t0, "rv": json.loads(response.data)["metadata"]["resourceVersion"]}
        except Exception as exc:  # reported to the parent, which counts the op as missing
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class PodOps:
    def __init__(self, kubeconfig: str, namespace: str):
        self.argv = [sys.executable, "-m", "bench.pod_ops", kubeconfig, namespace]
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> "PodOps":
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=repo_root(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self

    async def call(self, op: str, name: str, value: int | None = None) -> tuple[float, str]:
        self.proc.stdin.write((json.dumps({"op": op, "name": name, "value": value}) + "\n").encode())
        await self.proc.stdin.drain()
        reply = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 30))
        if "error" in reply:
            raise RuntimeError(f"{op} {name}: {reply['error']}")
        return reply["t0"], reply["rv"]

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
