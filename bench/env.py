"""The local cluster for a bench run: started only if needed, stopped only if we started it."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from krkn_tui.localcluster import LocalCluster


class BenchEnv:
    def __init__(self, quick: bool, say=print):
        self.quick = quick
        self.say = say
        self.cluster = LocalCluster(say=lambda line: None)
        self._started = False
        self._ready = False
        self._client = None

    # -- the shared cluster -----------------------------------------------------------------

    def ensure_cluster(self) -> None:
        if self._ready:
            return
        if not self.cluster.running():
            self.say("bench: starting the local cluster")
            self.cluster.up(demo=True, demo_profile="fast")  # figures comparable with earlier runs
            self._started = True
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
