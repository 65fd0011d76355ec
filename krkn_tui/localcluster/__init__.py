"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
kwok fake nodes, built from Go modules and run on loopback for tests and laptop demos."""

from .cluster import CONTEXT_NAME, LocalCluster, default_state_dir

__all__ = ["CONTEXT_NAME", "LocalCluster", "default_state_dir"]
