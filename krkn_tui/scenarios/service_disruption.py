"""service_disruption_scenarios: take the workloads of matching namespaces away for a while.

mode scale (default): every Deployment and StatefulSet is scaled to zero, then back.
mode delete_namespace (krkn's): the namespace is captured, deleted, then recreated from the
capture: the namespace, its ServiceAccounts, Roles, RoleBindings, Secrets, ConfigMaps, Services,
NetworkPolicies, PodDisruptionBudgets, Deployments and StatefulSets. Anything else in it
(PersistentVolumeClaims and their data, custom resources, ...) is not brought back.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..rollback import RollbackContent
from ..rollback.store import MAX_VERSION_BYTES
from ..yamlio import Section
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import check_selector, keyed_entries

if TYPE_CHECKING:
    from kubernetes import client


# ---- the scenario file: spec and parser ----------------------------------------------------

SERVICE_MODES = ("scale", "delete_namespace")


@dataclass(frozen=True, kw_only=True)
class ServiceDisruptionSpec:
    namespace_pattern: str  # krkn's `namespace`, a regex
    label_selector: str | None = None
    delete_count: int = 1
    runs: int = 1
    sleep: float = 15.0
    mode: str = "scale"
    duration: float = 15.0  # defaults to sleep
    file: Path | None = None
    field: str = ""


def _service_entry(sec: Section) -> ServiceDisruptionSpec:
    sec.reject_unknown(
        ("namespace", "label_selector", "delete_count", "runs", "sleep", "mode", "duration")
    )
    sleep = sec.number("sleep", 15.0, minimum=0)
    return ServiceDisruptionSpec(
        namespace_pattern=sec.regex("namespace", required=True),
        label_selector=check_selector(sec, "label_selector"),
        delete_count=sec.integer("delete_count", 1, minimum=1),
        runs=sec.integer("runs", 1, minimum=1),
        sleep=sleep,
        # krkn deletes the matching namespaces. Scaling Deployments to zero is undone by scaling
        # back, so that is the default; deleting namespaces has to be asked for.
        mode=sec.choice("mode", SERVICE_MODES, "scale"),
        duration=sec.number("duration", sleep, minimum=0),
        file=Path(sec.file),
        field=sec.path,
    )


def parse_service_disruption(data: Any, file: str | Path) -> list[ServiceDisruptionSpec]:
    return keyed_entries(data, file, "scenarios", "service disruption entries", _service_entry)


# ---- running it ----------------------------------------------------------------------------

WAIT_TIMEOUT = 120.0  # seconds for pods to go, namespaces to finalize, workloads to be Ready again
# Restore order: what pods use, and the policies that guard them, come before the workloads that
# start them, so no pod runs unprotected or without its account.
CAPTURED_KINDS = ("ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap", "Service", "NetworkPolicy",
                  "PodDisruptionBudget", "Deployment", "StatefulSet")
API_VERSIONS = {"Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
                "NetworkPolicy": "networking.k8s.io/v1", "PodDisruptionBudget": "policy/v1",
                "Deployment": "apps/v1", "StatefulSet": "apps/v1"}  # others: v1
SERVER_SET_METADATA = (
    "uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds",
    # The owners' UIDs die with the namespace; the objects are recreated on their own.
    "ownerReferences",
)
SERVER_SET_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


# ---- rollback callables: copied verbatim into version files, so self-contained ----------------


def scale_back(content, api_client):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    apps = client.AppsV1Api(api_client)
    patch = {
        "Deployment": apps.patch_namespaced_deployment_scale,
        "StatefulSet": apps.patch_namespaced_stateful_set_scale,
    }[content.data["kind"]]
    try:
        patch(content.resource_identifier, content.namespace, {"spec": {"replicas": content.data["replicas"]}})
    except ApiException as exc:
        if exc.status != 404:  # the workload is gone: nothing to scale back
            raise


def recreate_namespace(content, api_client):
    import time

    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    rbac, net = client.RbacAuthorizationV1Api(api_client), client.NetworkingV1Api(api_client)
    policy = client.PolicyV1Api(api_client)
    namespace = content.data["namespace"]
    name = namespace["metadata"]["name"]
    # A namespace still finalizing cannot be created again: wait for it to go.
    deadline = time.monotonic() + 120
    while True:
        try:
            if core.read_namespace(name).status.phase != "Terminating":
                break
        except ApiException as exc:
            if exc.status != 404:
                raise
            try:
                core.create_namespace(namespace)
                break
            except ApiException as exc:
                if exc.status != 409:
                    raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name} still terminating after 120s")
        time.sleep(1)
    calls = {
        "ServiceAccount": (core.create_namespaced_service_account, core.replace_namespaced_service_account),
        "Role": (rbac.create_namespaced_role, rbac.replace_namespaced_role),
        "RoleBinding": (rbac.create_namespaced_role_binding, rbac.replace_namespaced_role_binding),
        "NetworkPolicy": (net.create_namespaced_network_policy, net.replace_namespaced_network_policy),
        "PodDisruptionBudget": (policy.create_namespaced_pod_disruption_budget,
                                policy.replace_namespaced_pod_disruption_budget),
        "Secret": (core.create_namespaced_secret, core.replace_namespaced_secret),
        "ConfigMap": (core.create_namespaced_config_map, core.replace_namespaced_config_map),
        "Service": (core.create_namespaced_service, core.replace_namespaced_service),
        "Deployment": (apps.create_namespaced_deployment, apps.replace_namespaced_deployment),
        "StatefulSet": (apps.create_namespaced_stateful_set, apps.replace_namespaced_stateful_set),
    }
    for obj in content.data["objects"]:
        create, replace = calls[obj["kind"]]
        try:
            create(name, obj)
        except ApiException as exc:
            if exc.status != 409:
                raise
            replace(obj["metadata"]["name"], name, obj)  # already there (a re-run): make it the captured one


# ---- reading the cluster --------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    replicas: int
    selector: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def matching_namespaces(core: client.CoreV1Api, spec: ServiceDisruptionSpec) -> list[str]:
    """Like krkn: the label selector lists namespaces, the pattern filters their names."""
    pattern = re.compile(spec.namespace_pattern)
    items = core.list_namespace(label_selector=spec.label_selector).items
    return sorted(n.metadata.name for n in items
                  if pattern.match(n.metadata.name) and n.status.phase != "Terminating")


def selector_string(selector) -> str:
    parts = [f"{k}={v}" for k, v in (selector.match_labels or {}).items()]
    for e in selector.match_expressions or []:
        if e.operator in ("In", "NotIn"):
            parts.append(f"{e.key} {e.operator.lower()} ({','.join(e.values or [])})")
        else:
            parts.append(e.key if e.operator == "Exists" else f"!{e.key}")
    return ",".join(parts)


def workloads(apps: client.AppsV1Api, namespace: str) -> list[Workload]:
    found = [("Deployment", d) for d in apps.list_namespaced_deployment(namespace).items]
    found += [("StatefulSet", s) for s in apps.list_namespaced_stateful_set(namespace).items]
    return [Workload(kind, namespace, o.metadata.name, o.spec.replicas or 0, selector_string(o.spec.selector))
            for kind, o in found]


def _ready_replicas(apps: client.AppsV1Api, w: Workload) -> int:
    read = apps.read_namespaced_deployment if w.kind == "Deployment" else apps.read_namespaced_stateful_set
    return read(w.name, w.namespace).status.ready_replicas or 0


def wait_or_fail(ctx: ScenarioContext, check, failure: str) -> None:
    if not ctx.wait_until(check, WAIT_TIMEOUT, interval=0.5):
        raise ScenarioFailed(f"{failure} after {WAIT_TIMEOUT:g}s")


def wait_ready(apps: client.AppsV1Api, items: list[Workload], ctx: ScenarioContext) -> None:
    for w in items:
        wait_or_fail(ctx, lambda w=w: _ready_replicas(apps, w) >= w.replicas,
                     f"{w} has not {w.replicas} ready replicas")


def _clean(api_client, obj, kind: str, api_version: str) -> dict:
    """A manifest that can be created again: server-set fields stripped."""
    data = api_client.sanitize_for_serialization(obj)
    data.update(kind=kind, apiVersion=api_version)
    data.pop("status", None)
    meta = data["metadata"]
    for key in SERVER_SET_METADATA:
        meta.pop(key, None)
    annotations = {k: v for k, v in (meta.pop("annotations", None) or {}).items() if k not in SERVER_SET_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    spec = data.get("spec") or {}
    if kind == "Service" and spec.get("clusterIP") != "None":  # headless stays headless
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    return data


def capture_namespace(api_client, name: str) -> dict:
    from kubernetes import client

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    rbac, net = client.RbacAuthorizationV1Api(api_client), client.NetworkingV1Api(api_client)
    ns = core.read_namespace(name).metadata
    meta = {"name": name, **{k: v for k, v in (("labels", ns.labels), ("annotations", ns.annotations)) if v}}
    listed = {
        # "default" is made by the controller-manager in every namespace.
        "ServiceAccount": [a for a in core.list_namespaced_service_account(name).items
                           if a.metadata.name != "default"],
        "Role": rbac.list_namespaced_role(name).items,
        "RoleBinding": rbac.list_namespaced_role_binding(name).items,
        "NetworkPolicy": net.list_namespaced_network_policy(name).items,
        "PodDisruptionBudget": client.PolicyV1Api(api_client).list_namespaced_pod_disruption_budget(name).items,
        "Secret": [s for s in core.list_namespaced_secret(name).items
                   if s.type != "kubernetes.io/service-account-token"],
        "ConfigMap": [c for c in core.list_namespaced_config_map(name).items
                      if c.metadata.name != "kube-root-ca.crt"],  # published into every namespace
        "Service": core.list_namespaced_service(name).items,
        "Deployment": apps.list_namespaced_deployment(name).items,
        "StatefulSet": apps.list_namespaced_stateful_set(name).items,
    }
    objects = [_clean(api_client, obj, kind, API_VERSIONS.get(kind, "v1"))
               for kind in CAPTURED_KINDS for obj in listed[kind]]
    return {"namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, "objects": objects}


def _check_storable(data: dict, namespace: str) -> None:
    """Refuse before deleting anything if the capture could not be written or run back."""
    try:
        size = len(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ScenarioFailed(f"namespace {namespace}: capture is not JSON ({exc}); not deleting it") from None
    if size > MAX_VERSION_BYTES - (1 << 16):
        raise ScenarioFailed(f"namespace {namespace}: capture is {size} bytes, too large for a version file; "
                             "not deleting it")


# ---- the plugin -----------------------------------------------------------------------------


@register
class ServiceDisruptionPlugin(ScenarioPlugin):
    scenario_type = "service_disruption_scenarios"
    short_name = "service disruption"
    parse_data = staticmethod(parse_service_disruption)

    @staticmethod
    def describe(spec: ServiceDisruptionSpec) -> str:
        target = f" {spec.label_selector}" if spec.label_selector else ""
        return f"{spec.mode} ns~{spec.namespace_pattern}{target} for {spec.duration:g}s"

    def run(self, spec: ServiceDisruptionSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        core, apps = client.CoreV1Api(ctx.api_client), client.AppsV1Api(ctx.api_client)
        done: list[dict] = []
        for run in range(spec.runs):
            if run:
                ctx.sleep(spec.sleep)
            matches = matching_namespaces(core, spec)
            if not matches:
                raise ScenarioFailed(f"no namespace matches {spec.namespace_pattern!r}"
                                     + (f" with labels {spec.label_selector!r}" if spec.label_selector else ""))
            for namespace in matches:  # one protected match refuses the whole entry
                ctx.guard_namespace(namespace)
            chosen = sorted(random.sample(matches, min(spec.delete_count, len(matches))))
            ctx.log(f"run {run + 1}/{spec.runs}, {spec.mode}: {', '.join(chosen)}")
            if spec.mode == "scale":
                changed = self._scale(apps, core, chosen, spec, ctx)
            else:
                changed = self._delete(apps, core, chosen, spec, ctx)
            done.extend({"run": run + 1, **item} for item in changed)
        if ctx.dry_run:
            return Outcome("passed", "dry run: nothing changed")
        return Outcome("passed", f"{len(done)} change(s) made and restored", {"changes": done})

    def preview(self, spec: ServiceDisruptionSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import fail_with, targets

        core, apps = client.CoreV1Api(ctx.api_client), client.AppsV1Api(ctx.api_client)
        matches = matching_namespaces(core, spec)
        if not matches:
            raise ScenarioFailed(f"namespace pattern {spec.namespace_pattern!r}"
                                 + (f" with labels {spec.label_selector!r}" if spec.label_selector else "")
                                 + " matched 0 namespaces")
        for namespace in matches:
            ctx.guard_namespace(namespace)
        pick = f"{min(spec.delete_count, len(matches))} picked at random" if len(matches) > spec.delete_count else "all"
        if spec.mode == "scale":
            loads = [w for ns in matches for w in workloads(apps, ns) if w.replicas > 0]
            found = [targets("namespaces", matches, pick),
                     targets("workloads", [f"{w.kind} {w.namespace}/{w.name} ({w.replicas})" for w in loads],
                             f"scaled to 0 for {spec.duration:g}s, then back")]
            if not loads:
                fail_with(found, "no Deployment or StatefulSet with replicas in " + ", ".join(matches))
            return found
        objects = {ns: len(capture_namespace(ctx.api_client, ns)["objects"]) for ns in matches}
        return [targets("namespaces", [f"{ns} ({n} objects captured)" for ns, n in objects.items()],
                        f"{pick} deleted, then re-created after {spec.duration:g}s")]

    # -- mode scale -----------------------------------------------------------------------------

    def _scale(self, apps, core, namespaces: list[str], spec: ServiceDisruptionSpec,
               ctx: ScenarioContext) -> list[dict]:
        targets = [w for ns in namespaces for w in workloads(apps, ns) if w.replicas > 0]
        if ctx.dry_run:
            ctx.log(f"dry run: would scale to 0: {', '.join(map(str, targets)) or 'nothing'}")
            return []
        scaled: list[tuple[Workload, Path | None]] = []
        for w in targets:
            path = ctx.set_rollback_callable(
                scale_back, RollbackContent(resource_identifier=w.name, namespace=w.namespace,
                                            data={"replicas": w.replicas, "kind": w.kind}),
                verb="scale", kind=w.kind)
            patch = {"Deployment": apps.patch_namespaced_deployment_scale,
                     "StatefulSet": apps.patch_namespaced_stateful_set_scale}[w.kind]
            patch(w.name, w.namespace, {"spec": {"replicas": 0}})
            ctx.audit("scale_workload", kind=w.kind, namespace=w.namespace, name=w.name, replicas=0,
                      previous_replicas=w.replicas)
            scaled.append((w, path))
        for w in targets:
            wait_or_fail(ctx, lambda w=w: not core.list_namespaced_pod(w.namespace, label_selector=w.selector).items,
                         f"{w}: pods still there after scaling to 0")
        self._hold(spec, ctx)
        for _w, path in reversed(scaled):
            ctx.restore(path)
        wait_ready(apps, targets, ctx)
        return [{"kind": w.kind, "namespace": w.namespace, "name": w.name, "replicas": w.replicas} for w in targets]

    # -- mode delete_namespace ------------------------------------------------------------------

    def _delete(self, apps, core, namespaces: list[str], spec: ServiceDisruptionSpec,
                ctx: ScenarioContext) -> list[dict]:
        captures = {ns: capture_namespace(ctx.api_client, ns) for ns in namespaces}
        for ns, data in captures.items():  # all checked before the first deletion
            _check_storable(data, ns)
        if ctx.dry_run:
            for ns, data in captures.items():
                ctx.log(f"dry run: would delete namespace {ns} and recreate {len(data['objects'])} object(s)")
            return []
        deleted: list[tuple[str, Path | None]] = []
        for ns, data in captures.items():
            path = ctx.set_rollback_callable(
                recreate_namespace, RollbackContent(resource_identifier=ns, namespace=ns, data=data),
                verb="recreate", kind="Namespace")
            core.delete_namespace(ns)
            ctx.audit("delete_namespace", namespace=ns, captured_objects=len(data["objects"]))
            deleted.append((ns, path))
        for ns, _path in deleted:
            wait_or_fail(ctx, lambda ns=ns: _namespace_gone(core, ns), f"namespace {ns} has not finalized")
        self._hold(spec, ctx)
        for _ns, path in reversed(deleted):
            ctx.restore(path)
        recreated = [w for ns in namespaces for w in workloads(apps, ns)]
        wait_ready(apps, recreated, ctx)
        return [{"namespace": ns, "objects": len(captures[ns]["objects"])} for ns in namespaces]

    @staticmethod
    def _hold(spec: ServiceDisruptionSpec, ctx: ScenarioContext) -> None:
        ctx.log(f"holding {spec.duration:g}s")
        ctx.sleep(spec.duration)


def _namespace_gone(core: client.CoreV1Api, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False
