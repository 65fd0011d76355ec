"""The `kubernetes` Service's endpoint: where pods reach the API server.

The API server writes it from the leases its instances keep in etcd (`/registry/masterleases/<ip>`),
each the address it advertises. An etcd folder reused from an earlier run may still hold the lease
of an API server that died with another address (a node planned elsewhere, or 127.0.0.1), and
etcd restarts a lease's time to live when it restarts: the Service then leads pods to a dead
address too, until it expires. With no API server running every lease is stale; with one running,
every lease but its own is."""

from __future__ import annotations

import base64
import json
import urllib.request

from .rest import Rest

LEASES = "/registry/masterleases/"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes"


def _etcd(port: int, call: str, body: dict) -> dict:
    """One call of etcd's JSON gateway (its v3 API over HTTP on the client port)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/{call}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        out = json.loads(r.read())
    return out if isinstance(out, dict) else {}


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def leases(etcd_port: int) -> list[str]:
    """The addresses of the API server leases in etcd."""
    end = LEASES[:-1] + chr(ord(LEASES[-1]) + 1)  # the prefix's range end
    found = _etcd(etcd_port, "range", {"key": _b64(LEASES), "range_end": _b64(end), "keys_only": True})
    keys = [base64.b64decode(kv.get("key", "")).decode(errors="replace") for kv in found.get("kvs") or []]
    return [k[len(LEASES):] for k in keys if k.startswith(LEASES)]


def drop_leases(etcd_port: int, keep: str | None = None) -> list[str]:
    """Delete the API server leases in etcd, all of them or all but `keep`'s; the addresses they
    held."""
    dropped = [ip for ip in leases(etcd_port) if ip != keep]
    for ip in dropped:
        _etcd(etcd_port, "deleterange", {"key": _b64(LEASES + ip)})
    return dropped


def current(rest: Rest) -> tuple[list[str], list[int]]:
    """The addresses and ports of the `kubernetes` Service's EndpointSlices (empty when none)."""
    status, body = rest.call("GET", SLICES)
    if status != 200 or not isinstance(body, dict):
        return [], []
    addresses: list[str] = []
    ports: list[int] = []
    for item in body.get("items") or []:
        for ep in item.get("endpoints") or []:
            addresses += [a for a in ep.get("addresses") or [] if isinstance(a, str)]
        ports += [p["port"] for p in item.get("ports") or [] if isinstance(p.get("port"), int)]
    return sorted(addresses), sorted(ports)


def advertised(argv: list[str]) -> str | None:
    """The address an API server's command line advertises."""
    return next((a.split("=", 1)[1] for a in argv if a.startswith("--advertise-address=")), None)
