"""Which cluster a change was made on, so a rollback step can refuse to run on another one.

A cluster is known by three things: the API server URL and the context name say where we talked
to (labels a person recognises), the UID of the ``kube-system`` namespace says which cluster it
was (created once with the cluster, never reused, the same through every URL or context that
reaches it). The UID decides; the URL stands in only when a UID could not be read (RBAC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a record read back from disk may hold: one printable line each, bounded.
_MAX_LEN = 2048
_UID = re.compile(r"^[0-9a-fA-F-]{1,64}$")
_FIELDS = ("server", "context", "kube_system_uid")


@dataclass(frozen=True)
class ClusterIdentity:
    server: str  # API server URL, as the client used it
    context: str  # kubeconfig context name ("" when unknown)
    kube_system_uid: str  # metadata.uid of namespace kube-system ("" when it could not be read)

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, raw: object) -> ClusterIdentity:
        """Check a record read from a file; ValueError naming the field when it is unfit."""
        if not isinstance(raw, dict):
            raise ValueError("cluster record is not a mapping")
        values = {}
        for name in _FIELDS:
            value = raw.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"cluster.{name} is not a string")
            if len(value) > _MAX_LEN or not value.isprintable():
                raise ValueError(f"cluster.{name} is not one printable line")
            values[name] = value
        if values["kube_system_uid"] and not _UID.match(values["kube_system_uid"]):
            raise ValueError("cluster.kube_system_uid is not a UID")
        if not values["server"] and not values["kube_system_uid"]:
            raise ValueError("cluster record names neither a server nor a kube-system UID")
        return cls(**values)

    def describe(self) -> str:
        """One line naming the cluster, e.g. ``krkn-local (https://127.0.0.1:6443, uid 1a2b3c4d)``."""
        uid = f", uid {self.kube_system_uid[:8]}" if self.kube_system_uid else ", uid unknown"
        return f"{self.context or '?'} ({self.server or '?'}{uid})"


def same_cluster(recorded: ClusterIdentity, current: ClusterIdentity) -> bool:
    """Whether ``current`` is the cluster ``recorded`` names.

    Both UIDs known: they decide alone (another URL or context to the same cluster matches, a
    re-created cluster behind the same URL does not). Otherwise the server URLs must be equal.
    """
    if recorded.kube_system_uid and current.kube_system_uid:
        return recorded.kube_system_uid.lower() == current.kube_system_uid.lower()
    return bool(recorded.server) and _norm_server(recorded.server) == _norm_server(current.server)


def _norm_server(url: str) -> str:
    return url.strip().rstrip("/").lower()


def read_identity(api_client, context: str) -> ClusterIdentity:
    """The identity of the cluster ``api_client`` talks to (one GET of namespace kube-system).

    A 403/404 leaves the UID empty (the URL then stands in); an unreachable server raises the
    client's error, as any other call would.
    """
    from kubernetes import client

    server = str(api_client.configuration.host or "")
    try:
        ns = client.CoreV1Api(api_client).read_namespace("kube-system", _request_timeout=15)
        uid = str(ns.metadata.uid or "")
    except client.ApiException as e:
        if e.status not in (403, 404):
            raise
        uid = ""
    return ClusterIdentity(server=server, context=context or "", kube_system_uid=uid)


def connected_identity(api_client, kubeconfig: str | None = None, context: str | None = None) -> ClusterIdentity:
    """``read_identity`` with the context label the kubeconfig gives (only a label: the client in
    hand may come from elsewhere than a kubeconfig)."""
    from ..errors import UserError
    from .client import describe_target

    try:
        label = describe_target(kubeconfig, context).context
    except UserError:
        label = context or ""
    return read_identity(api_client, label)


def mismatch(recorded: ClusterIdentity, current: ClusterIdentity) -> str | None:
    """None when ``current`` is the recorded cluster, else one line naming both."""
    if same_cluster(recorded, current):
        return None
    return f"recorded for cluster {recorded.describe()}, but connected to {current.describe()}"
