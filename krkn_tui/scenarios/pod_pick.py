"""The pods krkn's pod-level scenarios pick from: listed as krkn-lib lists them (by names in one
namespace, or by label selector in one namespace or all), minus an exclude label's pods, and only
those running and not being deleted. One walk, so the container and time plugins cannot drift."""

from __future__ import annotations


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
