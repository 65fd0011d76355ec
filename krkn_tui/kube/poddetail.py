"""One pod up close: its object, its Events, ``kubectl describe``'s summary and its YAML.

Objects are read as the API's JSON (plain dicts, ``_preload_content=False``): what is shown is
what the server sent, not the client's model of it. Everything shown passes the sanitiser; the
YAML masks Secret values by the core's one rule (``secret_values``). Nothing here imports
Textual.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

import yaml

from ..secret_values import mask_secret_values
from ..sanitize import one_line, visible
from .podmodel import human_age, parse_k8s_time

EVENTS_LIMIT = 500  # per list: the newest are what a person reads


def _json(response) -> dict:
    return json.loads(response.data)


def read_pod(api_client: Any, namespace: str, name: str) -> dict:
    from kubernetes import client

    return _json(client.CoreV1Api(api_client).read_namespaced_pod(name, namespace, _preload_content=False,
                                                                  _request_timeout=10))


def read_node(api_client: Any, name: str) -> dict | None:
    """The node, or None when it is gone or not ours to read (the caller then tries the log)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        return _json(client.CoreV1Api(api_client).read_node(name, _preload_content=False, _request_timeout=10))
    except ApiException:
        return None


def pod_events(api_client: Any, namespace: str, name: str) -> list[dict]:
    from kubernetes import client

    selector = f"involvedObject.kind=Pod,involvedObject.name={name},involvedObject.namespace={namespace}"
    body = _json(client.CoreV1Api(api_client).list_namespaced_event(
        namespace, field_selector=selector, _preload_content=False, _request_timeout=10))
    return sort_events(body.get("items") or [])


def namespace_events(api_client: Any, namespaces: Iterable[str] | None) -> list[dict]:
    """Events of these namespaces (None: every namespace), oldest first."""
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    items: list[dict] = []
    if namespaces is None:
        items = _json(core.list_event_for_all_namespaces(limit=EVENTS_LIMIT, _preload_content=False,
                                                         _request_timeout=10)).get("items") or []
    else:
        for ns in sorted(set(namespaces)):
            items += _json(core.list_namespaced_event(ns, limit=EVENTS_LIMIT, _preload_content=False,
                                                      _request_timeout=10)).get("items") or []
    return sort_events(items)[-EVENTS_LIMIT:]


def event_time(event: dict) -> float:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        t = parse_k8s_time(event.get(key))
        if t is not None:
            return t
    return parse_k8s_time((event.get("metadata") or {}).get("creationTimestamp")) or 0.0


def sort_events(items: list[dict]) -> list[dict]:
    return sorted(items, key=event_time)


def event_row(event: dict, now: float, with_object: bool = True) -> tuple[str, ...]:
    """(last seen, type, reason, object, message) as ``kubectl get events`` shows them."""
    obj = event.get("involvedObject") or {}
    count = event.get("count") or (event.get("series") or {}).get("count") or 1
    age = human_age(now - event_time(event))
    seen = f"{age} (x{count})" if count and count > 1 else age
    what = f"{obj.get('kind', '')}/{obj.get('name', '')}"
    if obj.get("namespace"):
        what = f"{obj['namespace']}/{what}"
    cells = (seen, event.get("type") or "", event.get("reason") or "")
    cells += (what,) if with_object else ()
    return tuple(one_line(c) for c in cells + (event.get("message") or "",))


def describe_pod(pod: dict, events: list[dict], now: float | None = None) -> str:
    """kubectl describe's core: the pod, its conditions, its containers with their restarts,
    and its Events. Every value sanitised (a pod's fields are anyone's text)."""
    now = time.time() if now is None else now
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    out: list[str] = []

    def field(name: str, value: object, indent: int = 0) -> None:
        out.append(f"{' ' * indent}{name + ':':<16}{one_line(value if value not in (None, '') else '<none>')}")

    field("Name", meta.get("name"))
    field("Namespace", meta.get("namespace"))
    field("Node", spec.get("nodeName"))
    created = parse_k8s_time(meta.get("creationTimestamp"))
    field("Created", f"{meta.get('creationTimestamp')} ({human_age(now - created)} ago)" if created else None)
    field("Labels", ", ".join(f"{k}={v}" for k, v in sorted((meta.get("labels") or {}).items())))
    phase = status.get("phase")
    if meta.get("deletionTimestamp"):
        phase = f"Terminating (since {meta['deletionTimestamp']})"
    field("Status", phase)
    field("Reason", status.get("reason")) if status.get("reason") else None
    field("Message", status.get("message")) if status.get("message") else None
    field("IP", status.get("podIP"))
    owners = ", ".join(f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or [])
    field("Controlled By", owners)

    out.append("Conditions:")
    conditions = status.get("conditions") or []
    for c in conditions:
        why = " ".join(x for x in (c.get("reason"), c.get("message")) if x)
        out.append(f"  {one_line(c.get('type')):<26}{one_line(c.get('status')):<8}{one_line(why)}".rstrip())
    if not conditions:
        out.append("  <none>")

    statuses = {s.get("name"): s for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])}
    for title, key in (("Init Containers", "initContainers"), ("Containers", "containers")):
        containers = spec.get(key) or []
        if not containers and key == "initContainers":
            continue
        out.append(f"{title}:")
        for c in containers:
            s = statuses.get(c.get("name")) or {}
            out.append(f"  {one_line(c.get('name'))}:")
            field("Image", c.get("image"), 4)
            state, detail = _state(s.get("state") or {})
            field("State", f"{state}{detail}", 4)
            if s.get("lastState"):
                last, last_detail = _state(s["lastState"])
                field("Last State", f"{last}{last_detail}", 4)
            field("Ready", s.get("ready", False), 4)
            field("Restart Count", s.get("restartCount", 0), 4)

    out.append("Events:")
    if not events:
        out.append("  <none>")
    else:
        out.append(f"  {'Type':<8}{'Reason':<20}{'Age':<14}{'From':<20}Message")
    for e in events:
        seen, kind, reason, message = event_row(e, now, with_object=False)
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        out.append(f"  {kind:<8}{reason:<20}{seen:<14}{one_line(source):<20}{message}")
    return "\n".join(out)


def _state(state: dict) -> tuple[str, str]:
    for name in ("running", "waiting", "terminated"):
        if name in state:
            s = state[name] or {}
            bits = [s.get("reason"), f"exit code {s['exitCode']}" if "exitCode" in s else None,
                    f"since {s['startedAt']}" if s.get("startedAt") else None, s.get("message")]
            detail = ", ".join(str(b) for b in bits if b)
            return name.capitalize(), f" ({detail})" if detail else ""
    return "Unknown", ""


def object_yaml(obj: dict, show_managed_fields: bool = False) -> str:
    """An object as ``kubectl get -o yaml`` prints it (managedFields left out, as kubectl does
    by default), Secret values masked by the core's rule, and sanitised for the terminal."""
    obj = json.loads(json.dumps(obj))  # a private copy: masking replaces values in place
    if not show_managed_fields:
        (obj.get("metadata") or {}).pop("managedFields", None)
    masked = mask_secret_values(obj)
    text = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, allow_unicode=True, width=10_000)
    head = f"# {masked} Secret value(s) masked\n" if masked else ""
    return visible(head + text, keep="\n")
