"""The pods krkn's pod-level scenarios pick from: listed as krkn-lib lists them (by names in one
namespace, or by label selector in one namespace or all), minus an exclude label's pods, and only
those running and not being deleted. One walk, so the container and time plugins cannot drift.
Also the pod a PVC scenario acts through (krkn's _find_pvc_mount), shared by pvc_fill and
storage_throttle."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .base import ScenarioFailed


def running_pods(core, namespace: str | None, *, names: tuple[str, ...] | list[str] = (),
                 label_selector: str = "", exclude_label: str = "") -> list:
    """Running pods; `namespace` None means every namespace, `names` (one namespace only) wins
    over the selector, as in krkn."""
    if names and namespace is not None:
        pods = [p for p in core.list_namespaced_pod(namespace).items if p.metadata.name in names]
    else:
        pods = _listing(core, namespace, label_selector)
    excluded = {p.metadata.uid for p in _listing(core, namespace, exclude_label)} if exclude_label else set()
    return [p for p in pods
            if not p.metadata.deletion_timestamp and p.metadata.uid not in excluded
            and (p.status and p.status.phase) == "Running"]


def _listing(core, namespace: str | None, label_selector: str) -> list:
    if namespace is None:
        return core.list_pod_for_all_namespaces(label_selector=label_selector).items
    return core.list_namespaced_pod(namespace, label_selector=label_selector).items


@dataclass(frozen=True)
class ClaimMount:
    pod: str
    container: str
    volume: str
    pvc: str
    path: str  # the mount path in the container


def claim_mount(pod, claim: str | None, *, mount_path: str | None = None,
                writable: bool = False) -> ClaimMount | None:
    """The pod's first mount of PVC `claim` (any PVC when None), at `mount_path` when given,
    not read-only when `writable`: volumes in order, then containers, as krkn looks."""
    for v in pod.spec.volumes or []:
        pvc = v.persistent_volume_claim
        if pvc is None or (claim and pvc.claim_name != claim):
            continue
        for c in pod.spec.containers:
            for m in c.volume_mounts or []:
                if m.name == v.name and (not mount_path or m.mount_path == mount_path) \
                        and not (writable and m.read_only):
                    return ClaimMount(pod.metadata.name, c.name, v.name, pvc.claim_name, m.mount_path)
    return None


def pod_with_claim(core, namespace: str, claim: str | None, pod_name: str | None, *,
                   writable: bool = False):
    """krkn's choice: with `claim`, a running pod mounting it at random; else the pod named."""
    from kubernetes import client

    if claim:
        pods = [p for p in core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
                if not p.metadata.deletion_timestamp and claim_mount(p, claim, writable=writable)]
        if not pods:
            raise ScenarioFailed(f"no running pod in {namespace} mounts PVC {claim!r}")
        return random.SystemRandom().choice(pods)
    try:
        return core.read_namespaced_pod(pod_name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise ScenarioFailed(f"pod {pod_name!r} does not exist in namespace {namespace}") from None
        raise
