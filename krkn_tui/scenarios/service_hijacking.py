"""Service hijacking: krkn's `service_hijacking_scenarios`. A web service pod answers a time-based
plan (status, payload and mime type per path and method), the Service's selector is pointed at
it for `chaos_duration` seconds, then the selector is restored and the pod deleted.

The pod and its ConfigMap are krkn-lib's `deploy_service_hijacking`: pod
`service-hijacking-pod-<5>` labelled `service-hijacking: sh-<5>` (the selector the Service gets),
container `service-hijacking` of `image`, `privileged` as the file says (krkn's default true),
env TEST_PLAN_PATH=/service-hijacking/plan.yaml, STATS_ROUTE=/stats, FLASK_RUN_PORT, one
container port (`service_target_port` as its number, named `flask`; or as its name, number
5000), the plan from ConfigMap `service-hijacking-cm-<5>` mounted at /service-hijacking.

Differences from krkn, on purpose:
- The rollback step (restore the exact selector, delete the pod and the ConfigMap) is on disk
  before anything is created; krkn registers it after patching the Service. The undo restores
  the selector only while it is still the web service's (a JSON patch `test`): a selector that
  is already the original counts as done, any other is someone else's and is left, with an error.
- krkn's rollback leaves the ConfigMap; this one deletes it.
- The Service is checked before any change: it exists, has a selector, and has a port whose
  targetPort is `service_target_port` (else the web service would get no traffic); the plan is
  checked at load (each step needs duration, status and mime_type, as krkn's service requires,
  and payload).
- The plan is written into the ConfigMap as JSON (a YAML document krkn's own service reads too).
- The Service is re-pointed once the web service is Ready (krkn patches at once); the pod's log
  gives the report the statuses served, in order.
- On the local cluster the pod goes to the real node (krkn_pods.local_placement).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import await_running, local_placement, pod_log, random_suffix
from .specs import check_namespace
from ..rollback import RollbackContent
from ..yamlio import Section, describe, join_field

_KEYS = ("service_target_port", "service_name", "service_namespace", "image", "chaos_duration", "privileged", "plan")
_PORT_NAME_RE = re.compile(r"(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?\Z")  # an IANA service name
_SERVICE_NAME_RE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an HTTP token: krkn accepts any method
_STEP_KEYS = ("duration", "status", "mime_type", "payload")
PLAN_PATH = "/service-hijacking/plan.yaml"
STATS_ROUTE = "/stats"
SELECTOR_KEY = "service-hijacking"


@dataclass(frozen=True)
class Step:
    duration: float
    status: int
    mime_type: str
    payload: str | None


@dataclass(frozen=True)
class Route:
    resource: str
    steps: tuple[tuple[str, tuple[Step, ...]], ...]  # (method, steps), in the file's order


@dataclass(frozen=True, kw_only=True)
class HijackSpec:
    service_name: str
    service_namespace: str
    target_port: int | str
    image: str
    chaos_duration: float
    privileged: bool = True
    plan: tuple[Route, ...] = field(default=())
    file: Path | None = None
    field: str = ""

    @property
    def id(self) -> str:
        return self.service_name

    def plan_json(self) -> str:
        """The plan as krkn's service reads it: [{resource, steps: {METHOD: [step...]}}]."""
        return json.dumps([{"resource": r.resource, "steps": {m: [vars(s) for s in steps] for m, steps in r.steps}}
                           for r in self.plan], indent=1)


def _step(sec: Section) -> Step:
    sec.reject_unknown(_STEP_KEYS)
    for key in ("duration", "status", "mime_type"):
        if sec.data.get(key) is None:
            raise sec.error(key, "is required (krkn's web service answers 500 for a step without it)")
    if "payload" not in sec.data:
        raise sec.error("payload", "is required (may be empty)")
    payload = sec.data["payload"]
    if payload is not None and not isinstance(payload, str):
        raise sec.error("payload", f"expected a string, got {describe(payload)}")
    mime = sec.string("mime_type", required=True)
    if "\n" in mime or "\r" in mime:
        raise sec.error("mime_type", "must be one line")
    return Step(duration=sec.number("duration", above=0), status=sec.integer("status", minimum=100, maximum=599),
                mime_type=mime, payload=payload)


def _route(sec: Section) -> Route:
    sec.reject_unknown(("resource", "steps"))
    resource = sec.string("resource", required=True)
    if not resource.startswith("/") or any(c in resource for c in "<>?# \t\n"):
        raise sec.error("resource", f"expected a path like /list/index.php, got {resource!r}")
    steps = sec.required_section("steps")
    if not steps.data:
        raise steps.error(None, "names no HTTP method")
    out = []
    for method, items in steps.data.items():
        if not isinstance(method, str) or not _METHOD_RE.match(method):
            raise steps.error(method, f"not an HTTP method: {method!r}")
        where = steps.field(method)
        if not isinstance(items, list) or not items:
            raise steps.error(method, f"expected a list of steps, got {describe(items)}")
        out.append((method, tuple(_step(Section(item, sec.file, join_field(where, i), what="a plan step"))
                                  for i, item in enumerate(items))))
    return Route(resource, tuple(out))


def _target_port(sec: Section) -> int | str:
    value = sec.raw("service_target_port")
    if value is None:
        raise sec.error("service_target_port", "is required (a port number or name of the Service's targetPort)")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 65535:
            raise sec.error("service_target_port", f"must be a port number 1-65535, got {value}")
        return value
    if isinstance(value, str) and _PORT_NAME_RE.match(value):
        return value
    raise sec.error("service_target_port", f"expected a port number or a port name, got {describe(value)}")


def parse_hijack(data: Any, file: str | Path) -> list[HijackSpec]:
    sec = Section(data, file, what="a mapping with service_name and plan")
    sec.reject_unknown(_KEYS)
    name = sec.string("service_name", required=True)
    if not _SERVICE_NAME_RE.match(name):
        raise sec.error("service_name", f"not a valid Service name: {name!r}")
    plan = sec.data.get("plan")
    if not isinstance(plan, list) or not plan:
        raise sec.error("plan", f"expected a list of resources with steps, got {describe(plan)}")
    routes = tuple(_route(Section(r, file, join_field("plan", i), what="a plan entry (resource, steps)"))
                   for i, r in enumerate(plan))
    seen = set()
    for i, route in enumerate(routes):
        if route.resource in seen:
            raise sec.error(f"plan[{i}].resource", f"{route.resource} is planned twice")
        seen.add(route.resource)
    image = sec.string("image", required=True)
    if any(c.isspace() for c in image):
        raise sec.error("image", f"not an image reference: {image!r}")
    return [HijackSpec(service_name=name, service_namespace=check_namespace(sec, "service_namespace"),
                       target_port=_target_port(sec), image=image,
                       chaos_duration=sec.number("chaos_duration", minimum=0),
                       privileged=sec.boolean("privileged", True), plan=routes, file=Path(file), field="")]


# ---- the undo, written into the version file -----------------------------------------------


def restore_service_selector(content, api_client):
    """Rollback: give the Service back its recorded selector, only while it is the web service's
    (already the original: done; anything else: someone else's, left with an error), then delete
    the web service's pod and ConfigMap (already gone: done)."""
    from kubernetes import client

    data = content.data
    core = client.CoreV1Api(api_client)
    ns, name = content.namespace, data["service"]
    current = core.read_namespaced_service(name, ns).spec.selector or {}
    if current == data["hijack_selector"]:
        core.patch_namespaced_service(name, ns, [
            {"op": "test", "path": "/spec/selector", "value": data["hijack_selector"]},
            {"op": "replace", "path": "/spec/selector", "value": data["selector"]}])
    elif current != data["selector"]:
        raise RuntimeError(f"Service {ns}/{name} has selector {current}, neither the web service's "
                           f"{data['hijack_selector']} nor the recorded {data['selector']}: left as it is")
    for delete, obj in ((core.delete_namespaced_pod, data["pod"]), (core.delete_namespaced_config_map, data["config_map"])):
        try:
            delete(obj, ns, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


# ---- running it ----------------------------------------------------------------------------


def _port_matches(port, target: int | str) -> bool:
    tp = port.target_port
    if isinstance(target, int):
        return (tp is None and port.port == target) or (isinstance(tp, int) and tp == target) or tp == str(target)
    return tp == target


def read_service(core, spec: HijackSpec) -> Any:
    """The Service, checked: it exists, has a selector, and a port aimed at `service_target_port`."""
    from kubernetes import client

    try:
        svc = core.read_namespaced_service(spec.service_name, spec.service_namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise ScenarioFailed(f"service_name: Service {spec.service_name!r} not found in namespace "
                                 f"{spec.service_namespace}") from None
        raise
    if not svc.spec.selector:
        raise ScenarioFailed(f"service_name: Service {spec.service_namespace}/{spec.service_name} has no selector "
                             f"(its endpoints are not chosen by labels), nothing to re-point")
    ports = svc.spec.ports or []
    if not any(_port_matches(p, spec.target_port) for p in ports):
        have = ", ".join(f"{p.port}->{p.target_port if p.target_port is not None else p.port}" for p in ports)
        raise ScenarioFailed(f"service_target_port: Service {spec.service_namespace}/{spec.service_name} has no port "
                             f"with targetPort {spec.target_port!r} (its ports: {have or 'none'})")
    return svc


def web_service_pod(spec: HijackSpec, pod: str, config_map: str, selector_value: str, placement: dict,
                    run_uuid: str) -> dict:
    """krkn-lib's service_hijacking_pod.j2, field by field, plus the placement and krkn-tui's run label."""
    named = isinstance(spec.target_port, str)
    port_number, port_name = (5000, spec.target_port) if named else (spec.target_port, "flask")
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "namespace": spec.service_namespace,
                     "labels": {SELECTOR_KEY: selector_value, "krkn-tui/run": run_uuid}},
        "spec": {
            **placement,
            "containers": [{
                "name": "service-hijacking", "image": spec.image,
                "securityContext": {"privileged": spec.privileged},
                "env": [{"name": "TEST_PLAN_PATH", "value": PLAN_PATH},
                        {"name": "STATS_ROUTE", "value": STATS_ROUTE},
                        {"name": "FLASK_RUN_PORT", "value": str(port_number)}],
                "ports": [{"name": port_name, "containerPort": port_number}],
                "volumeMounts": [{"name": "config-volume", "mountPath": "/service-hijacking"}],
            }],
            "volumes": [{"name": "config-volume", "configMap": {
                "name": config_map, "items": [{"key": "plan.yaml", "path": "plan.yaml"}]}}],
        },
    }


def served(log: str, limit: int = 10_000) -> list[dict]:
    """The statuses the web service answered, in order, from its log lines (one JSON object each),
    run together: [{"method", "path", "status", "count"}]. Lines that are not its are skipped."""
    runs: list[dict] = []
    for line in log.splitlines()[:limit]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("status"), int):
            continue
        key = (str(rec.get("method"))[:16], str(rec.get("path"))[:200], rec["status"])
        if runs and (runs[-1]["method"], runs[-1]["path"], runs[-1]["status"]) == key:
            runs[-1]["count"] += 1
        else:
            runs.append({"method": key[0], "path": key[1], "status": key[2], "count": 1})
    return runs


@register
class ServiceHijackingPlugin(ScenarioPlugin):
    scenario_type = "service_hijacking_scenarios"
    short_name = "service hijack"
    undo_functions = (restore_service_selector,)
    parse_data = staticmethod(parse_hijack)

    @staticmethod
    def describe(spec: HijackSpec) -> str:
        routes = ", ".join(f"{m} {r.resource} " + "→".join(str(s.status) for s in steps)
                           for r in spec.plan[:2] for m, steps in r.steps[:2])
        more = f" +{len(spec.plan) - 2} more" if len(spec.plan) > 2 else ""
        return (f"Service {spec.service_namespace}/{spec.service_name} (port {spec.target_port}) to the plan "
                f"for {spec.chaos_duration:g}s: {routes}{more}")

    def preview(self, spec: HijackSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.service_namespace)
        core = client.CoreV1Api(ctx.api_client)
        svc = read_service(core, spec)
        backends = self._backends(core, spec, svc.spec.selector)
        return [targets("services", [f"{spec.service_namespace}/{spec.service_name}"],
                        f"selector {_selector_text(svc.spec.selector)} re-pointed at krkn's web service for "
                        f"{spec.chaos_duration:g}s, then restored"),
                targets("pods", [f"{spec.service_namespace}/{p}" for p in backends],
                        "get no traffic through the Service meanwhile", [spec.service_namespace])]

    @staticmethod
    def _backends(core, spec: HijackSpec, selector: dict) -> list[str]:
        pods = core.list_namespaced_pod(spec.service_namespace, label_selector=_selector_text(selector)).items
        return sorted(p.metadata.name for p in pods)

    def run(self, spec: HijackSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.service_namespace)
        core = client.CoreV1Api(ctx.api_client)
        svc = read_service(core, spec)
        original = dict(svc.spec.selector)
        suffix = random_suffix(5)
        pod, config_map, value = (f"service-hijacking-pod-{suffix}", f"service-hijacking-cm-{suffix}",
                                  f"sh-{random_suffix(5)}")
        hijack = {SELECTOR_KEY: value}
        details = {"service": spec.service_name, "namespace": spec.service_namespace, "selector": original,
                   "web_service_pod": pod, "config_map": config_map,
                   "backends": self._backends(core, spec, original)}
        ctx.log(f"Service {spec.service_namespace}/{spec.service_name} (selector {_selector_text(original)}) "
                f"to web service {pod} for {spec.chaos_duration:g}s", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would re-point Service {spec.service_name} at {pod}",
                           {**details, "dry_run": True})
        version = ctx.set_rollback_callable(
            restore_service_selector,
            RollbackContent(resource_identifier=spec.service_name, namespace=spec.service_namespace,
                            data={"service": spec.service_name, "selector": original, "hijack_selector": hijack,
                                  "pod": pod, "config_map": config_map}),
            verb="restore", kind="Service selector")
        core.create_namespaced_config_map(spec.service_namespace, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": config_map, "namespace": spec.service_namespace},
            "data": {"plan.yaml": spec.plan_json()}})
        core.create_namespaced_pod(spec.service_namespace, web_service_pod(
            spec, pod, config_map, value, local_placement(core), ctx.rollback.run_uuid))
        ctx.audit("create_pod", namespace=spec.service_namespace, name=pod, config_map=config_map)
        await_running(ctx, core, spec.service_namespace, [pod], "the web service pod", ready=True)
        core.patch_namespaced_service(spec.service_name, spec.service_namespace, [
            {"op": "test", "path": "/spec/selector", "value": original},
            {"op": "replace", "path": "/spec/selector", "value": hijack}])
        ctx.audit("patch_service_selector", namespace=spec.service_namespace, name=spec.service_name,
                  selector=hijack, original=original)
        ctx.log(f"Service {spec.service_name} answers from {pod}; holding {spec.chaos_duration:g}s", 0.2)
        ctx.sleep(spec.chaos_duration)
        details["served"] = served(pod_log(core, spec.service_namespace, pod))
        ctx.restore(version)
        return Outcome("passed", f"Service {spec.service_name} hijacked for {spec.chaos_duration:g}s, "
                                 f"{sum(r['count'] for r in details['served'])} requests answered by the plan",
                       details)


def _selector_text(selector: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
