"""Command lines of the control plane's components. Every listener is bound to 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

# Clusters started before the real node used this range; newer ones get a /20 of 198.19.0.0/16
# (nodesandbox.service_cidr), which nothing routes beyond the machine.
LEGACY_SERVICE_CIDR = "10.96.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"

# kwokctl's default heartbeat factor for every cluster it makes (--heartbeat-factor 5): the node
# lease lasts 5 x 40 s (renewed every quarter of it) and the controller-manager's node grace and
# monitor periods grow alike, so 300 fake nodes renew 6 leases a second instead of 30.
HEARTBEAT_FACTOR = 5
NODE_LEASE_SECONDS = 40 * HEARTBEAT_FACTOR
NODE_MONITOR_GRACE_SECONDS = 40 * HEARTBEAT_FACTOR
NODE_MONITOR_PERIOD_SECONDS = 5 * HEARTBEAT_FACTOR
# kwokctl lifts the client rate limits of the components (disableQPSLimits): a controller then
# creates or deletes thousands of pods at the API server's pace, not at 20 requests a second.
UNLIMITED_QPS = ["--kube-api-qps=5000", "--kube-api-burst=10000"]

KWOK_CONFIG_HEAD = f"""\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageNodesWithAnnotationSelector: {KWOK_NODE_ANNOTATION}=fake
  # Renew node leases like a kubelet, so the node lifecycle controller keeps nodes Ready.
  nodeLeaseDurationSeconds: {NODE_LEASE_SECONDS}
  # A config file's options replace kwok's defaults, these included.
  nodeLeaseParallelism: 4
  nodePlayStageParallelism: 4
  podPlayStageParallelism: 4
  podsOnNodeSyncParallelism: 2
  cidr: 10.244.0.0/16
  nodeIP: 127.0.0.1
"""


def etcd(bin_dir: Path, data: Path, client_port: int, peer_port: int) -> list[str]:
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(bin_dir / "etcd"),
        "--name=krkn-local",
        f"--data-dir={data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=krkn-local={peer}",
        # Throwaway test data: skipping fsync keeps a laptop's disk from pacing the API server.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(bin_dir: Path, pki: dict[str, Path], port: int, etcd_port: int, service_cidr: str,
                   advertise: str = "127.0.0.1") -> list[str]:
    """`advertise`: the `kubernetes` Service's endpoint (the real node's address, where its proxy
    carries connections to this loopback listener), not a listener of its own."""
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        f"--advertise-address={advertise}",
        f"--secure-port={port}",
        f"--tls-cert-file={pki['server.crt']}",
        f"--tls-private-key-file={pki['server.key']}",
        f"--client-ca-file={pki['ca.crt']}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki['sa.pub']}",
        f"--service-account-signing-key-file={pki['sa.key']}",
        f"--service-cluster-ip-range={service_cidr}",
        "--authorization-mode=Node,RBAC",
        # The real node's kubelet (logs, exec) trusts the cluster's CA and asks who the caller is.
        f"--kubelet-client-certificate={pki['admin.crt']}",
        f"--kubelet-client-key={pki['admin.key']}",
        "--allow-privileged=true",
        # No kubelet serves on the fake nodes' addresses: never dial them.
        "--kubelet-preferred-address-types=InternalIP",
        "--profiling=false",
    ]


def _client_flags(kubeconfig: Path, port: int) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kube_controller_manager(bin_dir: Path, pki: dict[str, Path], kubeconfig: Path, port: int,
                            service_cidr: str) -> list[str]:
    return [
        str(bin_dir / "kube-controller-manager"),
        *_client_flags(kubeconfig, port),
        f"--root-ca-file={pki['ca.crt']}",
        f"--service-account-private-key-file={pki['sa.key']}",
        f"--cluster-signing-cert-file={pki['ca.crt']}",
        f"--cluster-signing-key-file={pki['ca.key']}",
        f"--service-cluster-ip-range={service_cidr}",
        "--use-service-account-credentials=false",
        f"--node-monitor-grace-period={NODE_MONITOR_GRACE_SECONDS}s",
        f"--node-monitor-period={NODE_MONITOR_PERIOD_SECONDS}s",
        *UNLIMITED_QPS,
    ]


def kube_scheduler(bin_dir: Path, kubeconfig: Path, port: int) -> list[str]:
    return [str(bin_dir / "kube-scheduler"), *_client_flags(kubeconfig, port), *UNLIMITED_QPS]


def kwok(bin_dir: Path, kubeconfig: Path, config: Path) -> list[str]:
    # No --server-address and no --node-port: kwok then opens no listener at all.
    return [str(bin_dir / "kwok"), f"--kubeconfig={kubeconfig}", f"--config={config}"]


def kwok_config(bin_dir: Path) -> str:
    from .stages import kwok_stages

    return KWOK_CONFIG_HEAD + kwok_stages((bin_dir / "kwok-stages.yaml").read_text())


def write_kwok_config(bin_dir: Path, path: Path) -> Path:
    path.write_text(kwok_config(bin_dir))
    return path
