"""One probe of one check: did it pass, how long it took, and what it saw (one short line)."""

from __future__ import annotations

import base64
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .spec import Check, DeploymentCheck, HttpCheck, PodsReadyCheck


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
            ok, seen = _http(check)
        elif isinstance(check, PodsReadyCheck):
            ok, seen = _pods(check, api_client, baseline)
        else:
            ok, seen = _deployment(check, api_client)
    except Exception as e:  # an unreachable API server or endpoint is a failed probe, not a crash
        ok, seen = False, f"{type(e).__name__}: {_short(e)}"
    return Observation(ok, seen, round(time.monotonic() - t0, 4), time.time())


def _http(check: HttpCheck) -> tuple[bool, str]:
    req = urllib.request.Request(check.url, method="GET")
    if check.bearer_token:
        req.add_header("Authorization", f"Bearer {check.bearer_token}")
    if check.auth:
        token = base64.b64encode(f"{check.auth[0]}:{check.auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    context = None
    if check.url.startswith("https://") and not check.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                         urllib.request.ProxyHandler({}))  # a check must hit the URL itself
    try:
        with opener.open(req, timeout=check.timeout) as resp:
            body = resp.read(300)
            return resp.status == 200, f"HTTP {resp.status}{_gist(body)}"
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code}{_gist(e.read(300))}"
    except (TimeoutError, urllib.error.URLError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return False, f"no answer within {check.timeout:g}s"
        return False, f"unreachable: {_short(reason)}"


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


def _gist(body: bytes) -> str:
    text = " ".join(body.decode(errors="replace").split())[:120]
    return f": {text}" if text else ""


def _short(e: object) -> str:
    return " ".join(str(e).split())[:160]
