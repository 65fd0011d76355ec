"""The bench's cluster: a private one of its own unless told otherwise.

By default a run brings up a cluster in a fresh state folder (under the cache folder, beside the
binaries: the same disk as the default state folder, so etcd's fsync costs what it does there)
the first time a figure needs one, and at the end takes it down and removes the folder: a run
leaves no process, pod or file behind, never writes into the cluster a user or a test works on,
and starts every figure from the same empty cluster (no pods of an earlier run in a listing, no
kwok node lease still held by an earlier kwok: the same folder up again within 200 s leaves pods
Pending). What that costs: `bigcluster` fills its pods each run (5,000 for `--quick` in about two
minutes at ~40 pods a second). `--cluster-dir DIR`, or ``KRKN_TUI_CLUSTER_DIR`` set, names the
cluster to use instead: started if it is not running (and then stopped again), its folder and
its pods kept, so a second big run reuses the pods it filled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Mapping

from krkn_tui.localcluster import LocalCluster
from krkn_tui.localcluster.cluster import default_cache_dir

CLUSTER_ENV = "KRKN_TUI_CLUSTER_DIR"


def chosen_cluster_dir(cluster_dir: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    """The state folder the run was told to use (``--cluster-dir``, then ``KRKN_TUI_CLUSTER_DIR``),
    or None: a private cluster of the run's own."""
    if cluster_dir:
        return Path(cluster_dir).expanduser()
    if environ.get(CLUSTER_ENV):
        return Path(environ[CLUSTER_ENV]).expanduser()
    return None


def private_parent() -> Path:
    """Where private clusters' folders are made (each removed at the end of its run)."""
    return default_cache_dir() / "bench"


class BenchEnv:
    def __init__(self, quick: bool, say=print, scale: int | None = None, cluster_dir: str | Path | None = None):
        self.quick = quick
        self.scale = scale if scale is not None else (5_000 if quick else 30_000)
        self.say = say
        told = chosen_cluster_dir(cluster_dir, os.environ)
        self.private = told is None
        # A private cluster's folder is made when a figure first needs it (until then only the
        # binaries' folder is used, for kubectl).
        self.cluster = LocalCluster(state_dir=told or private_parent() / "none", say=lambda line: None)
        self._started = False
        self._ready = False
        self._nodes = 0
        self._client = None

    # -- the shared cluster -----------------------------------------------------------------

    def ensure_cluster(self, nodes: int = 3) -> None:
        """Up (once) with at least ``nodes`` fake nodes; a running cluster gets the missing ones."""
        if self._ready and nodes <= self._nodes:
            return
        if self.private and not self._started:
            parent = private_parent()
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.cluster = LocalCluster(state_dir=Path(tempfile.mkdtemp(prefix="cluster-", dir=parent)),
                                        say=lambda line: None)
        if not self.cluster.running():
            where = "a private cluster" if self.private else "the local cluster"
            self.say(f"bench: starting {where} in {self.cluster.state_dir}")
            self._started = True
            # fast pods: figures comparable with earlier runs. A private cluster runs no real
            # node and no Prometheus: no figure measures them (realnode makes its own), and on
            # two cores they would only load the figures that run beside them.
            extra = {"real_node": False, "with_prometheus": False} if self.private else {}
            self.cluster.up(nodes=nodes, demo=True, demo_profile="fast", timeout=300, **extra)
        elif nodes > 3:  # only the missing fake nodes: no real node started on a cluster that runs none
            self.cluster.up(nodes=nodes, timeout=300, real_node=False)
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
            self.say(f"bench: stopping the cluster this run started ({self.cluster.state_dir})")
            try:
                self.cluster.down()
            finally:
                if self.private:
                    shutil.rmtree(self.cluster.state_dir, ignore_errors=True)


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
