"""The local cluster for a bench run: started only if needed, stopped only if we started it."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from krkn_tui.localcluster import LocalCluster


class BenchEnv:
    def __init__(self, quick: bool, say=print, scale: int | None = None):
        self.quick = quick
        self.scale = scale if scale is not None else (5_000 if quick else 30_000)
        self.say = say
        self.cluster = LocalCluster(say=lambda line: None)
        self._started = False
        self._ready = False
        self._nodes = 0
        self._client = None

    # -- the shared cluster -----------------------------------------------------------------

    def ensure_cluster(self, nodes: int = 3) -> None:
        """Up (once) with at least ``nodes`` fake nodes; a running cluster gets the missing ones."""
        if self._ready and nodes <= self._nodes:
            return
        if not self.cluster.running():
            self.say("bench: starting the local cluster")
            # fast pods: figures comparable with earlier runs
            self.cluster.up(nodes=nodes, demo=True, demo_profile="fast", timeout=300)
            self._started = True
        elif nodes > 3:
            self.cluster.up(nodes=nodes, timeout=300)
        self._nodes = max(nodes, self._nodes)
        self._ready = True

    @property
    def kubeconfig(self) -> str:
        self.ensure_cluster()
        return str(self.cluster.kubeconfig)

    @property
    def kubectl(self) -> str:
        return str(self.cluster.bin_dir / "kubectl")

    def api_client(self):
        """One shared client; figures that need their own call ``new_client``."""
        if self._client is None:
            self._client = self.new_client()
        return self._client

    def new_client(self):
        from krkn_tui.kube.client import load_api_client

        return load_api_client(self.kubeconfig)

    def env_vars(self) -> dict:
        return {**os.environ, "KUBECONFIG": self.kubeconfig}

    @contextlib.contextmanager
    def namespace(self, prefix: str):
        """A fresh namespace, deleted afterwards (not waited for: it finalizes on its own)."""
        from kubernetes import client

        core = client.CoreV1Api(self.api_client())
        name = f"bench-{prefix}-{uuid.uuid4().hex[:6]}"
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
            name=name, labels={"krkn-tui/bench": "true"})))
        try:
            yield name
        finally:
            with contextlib.suppress(client.ApiException):
                core.delete_namespace(name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._started:
            self.say("bench: stopping the local cluster this run started")
            self.cluster.down()


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def machine() -> dict:
    """Where a figure was measured: CPU, cores, memory and the load when the run started."""
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in _lines("/proc/meminfo") if line.startswith("MemTotal")), None)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []
