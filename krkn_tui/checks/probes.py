"""One probe of one check: did it pass, how long it took, and what it saw (one short line)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..sanitize import one_line
from .http_probe import http_get
from .spec import Check, DeploymentCheck, HttpCheck, PodsReadyCheck
from .urls import redact_urls


@dataclass(frozen=True)
class Observation:
    ok: bool
    seen: str
    latency: float  # seconds the probe took
    at: float  # wall-clock time the probe finished


class PodBaseline:
    """How many pods a percentage check is a share of: the most it has seen matching, so a
    scale-to-zero reads as 0 of N rather than 0 of 0."""

    def __init__(self) -> None:
        self.most: dict[str, int] = {}

    def share_of(self, name: str, current: int) -> int:
        self.most[name] = max(self.most.get(name, 0), current)
        return self.most[name]


def probe(check: Check, api_client: Any, baseline: PodBaseline) -> Observation:
    t0 = time.monotonic()
    try:
        if isinstance(check, HttpCheck):
            ok, seen = http_get(check)
        elif isinstance(check, PodsReadyCheck):
            ok, seen = _pods(check, api_client, baseline)
        else:
            ok, seen = _deployment(check, api_client)
    except Exception as e:  # an unreachable API server or endpoint is a failed probe, not a crash
        ok, seen = False, f"{type(e).__name__}: {one_line(e)[:160]}"
    # What it saw is printed and recorded like the check's name: no URL's credentials in it.
    return Observation(ok, redact_urls(seen), round(time.monotonic() - t0, 4), time.time())


def _pods(check: PodsReadyCheck, api_client: Any, baseline: PodBaseline) -> tuple[bool, str]:
    from kubernetes import client

    pods = client.CoreV1Api(api_client).list_namespaced_pod(
        check.namespace, label_selector=check.selector, _request_timeout=5).items
    live = [p for p in pods if p.metadata.deletion_timestamp is None]
    ready = sum(1 for p in live if _ready(p))
    if check.min_count is not None:
        need = check.min_count
        return ready >= need, f"{ready} of {len(live)} pod(s) Ready (need {need})"
    of = baseline.share_of(check.name, len(live))
    share = 100.0 * ready / of if of else 0.0
    return of > 0 and share >= check.min_percent, \
        f"{ready} of {of} pod(s) Ready, {share:.0f}% (need {check.min_percent:g}%)"


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def _deployment(check: DeploymentCheck, api_client: Any) -> tuple[bool, str]:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    try:
        dep = client.AppsV1Api(api_client).read_namespaced_deployment_status(
            check.deployment, check.namespace, _request_timeout=5)
    except ApiException as e:
        if e.status == 404:
            return False, "not found"
        raise
    available = (dep.status.available_replicas or 0)
    condition = next((c for c in (dep.status.conditions or []) if c.type == "Available"), None)
    ok = available >= 1 and condition is not None and condition.status == "True"
    return ok, f"{available} of {dep.spec.replicas} replica(s) available" + (
        "" if condition is None or condition.status == "True" else f" ({condition.reason})")
