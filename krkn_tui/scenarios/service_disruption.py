"""service_disruption_scenarios: take the workloads of matching namespaces away for a while.

mode delete_objects (the default, krkn's): what krkn deletes in the namespace, its Services,
DaemonSets, StatefulSets, ReplicaSets and Deployments (those no other object owns: a Deployment's
ReplicaSets go and come back with it), is captured, deleted, then re-created from the capture.
The namespace itself stays, with its Secrets, ConfigMaps, PVCs and the rest.
mode scale: every Deployment and StatefulSet is scaled to zero, then back.
mode delete_namespace (krkn's older namespace scenario): the namespace is captured, deleted, then
recreated from the capture: the namespace, its ServiceAccounts, Roles, RoleBindings, Secrets,
ConfigMaps, Services, NetworkPolicies, PodDisruptionBudgets, Deployments and StatefulSets. Anything
else in it (PersistentVolumeClaims and their data, custom resources, ...) is not brought back.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..rollback import RollbackContent
from ..yamlio import Section
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import check_selector, keyed_entries

if TYPE_CHECKING:
    from kubernetes import client


# ---- the scenario file: spec and parser ----------------------------------------------------

SERVICE_MODES = ("scale", "delete_namespace", "delete_objects")
# What krkn's service disruption deletes in a namespace, in krkn's order.
KRKN_DELETED_KINDS = ("Service", "DaemonSet", "StatefulSet", "ReplicaSet", "Deployment")
WAIT_TIMEOUT = 120.0  # seconds for pods to go, namespaces to finalize, workloads to be Ready again


@dataclass(frozen=True, kw_only=True)
class ServiceDisruptionSpec:
    namespace_pattern: str  # krkn's `namespace`, a regex
    label_selector: str | None = None
    delete_count: int = 1
    runs: int = 1
    sleep: float = 15.0
    mode: str = "delete_objects"
    duration: float = 15.0  # defaults to sleep
    wait_time: float = WAIT_TIMEOUT  # krkn's: how long the objects have to come back (and to go)
    file: Path | None = None
    field: str = ""


def _service_entry(sec: Section) -> ServiceDisruptionSpec:
    sec.reject_unknown(
        ("namespace", "label_selector", "delete_count", "runs", "sleep", "mode", "duration", "wait_time")
    )
    sleep = sec.number("sleep", 15.0, minimum=0)
    return ServiceDisruptionSpec(
        namespace_pattern=sec.regex("namespace", required=True),
        label_selector=check_selector(sec, "label_selector"),
        delete_count=sec.integer("delete_count", 1, minimum=1),
        runs=sec.integer("runs", 1, minimum=1),
        sleep=sleep,
        # A file written for krkn (no mode) means what krkn does with it: delete the namespace's
        # Services and workloads. Here they are re-created after `duration`.
        mode=sec.choice("mode", SERVICE_MODES, "delete_objects"),
        duration=sec.number("duration", sleep, minimum=0),
        wait_time=sec.number("wait_time", WAIT_TIMEOUT, above=0),
        file=Path(sec.file),
        field=sec.path,
    )


def parse_service_disruption(data: Any, file: str | Path) -> list[ServiceDisruptionSpec]:
    return keyed_entries(data, file, "scenarios", "service disruption entries", _service_entry)


# ---- running it ----------------------------------------------------------------------------

# Restore order: what pods use, and the policies that guard them, come before the workloads that
# start them, so no pod runs unprotected or without its account.
CAPTURED_KINDS = ("ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap", "Service", "NetworkPolicy",
                  "PodDisruptionBudget", "Deployment", "StatefulSet")
# delete_objects re-creates Services before the workloads that their pods serve.
RESTORE_ORDER = ("Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
API_VERSIONS = {"Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
                "NetworkPolicy": "networking.k8s.io/v1", "PodDisruptionBudget": "policy/v1",
                "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
                "ReplicaSet": "apps/v1"}  # others: v1
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
    # A namespace (or an object) still finalizing cannot be created again: wait for it to go.
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
        "DaemonSet": (apps.create_namespaced_daemon_set, apps.replace_namespaced_daemon_set),
        "ReplicaSet": (apps.create_namespaced_replica_set, apps.replace_namespaced_replica_set),
    }
    # Read when already there: the kinds a deletion of objects (not of the namespace) may leave
    # still going away, to tell that from a re-run; a PodDisruptionBudget, whose update needs the
    # current resourceVersion. Never a Secret: the undo reads no Secret.
    reads = {"Service": core.read_namespaced_service, "Deployment": apps.read_namespaced_deployment,
             "StatefulSet": apps.read_namespaced_stateful_set, "DaemonSet": apps.read_namespaced_daemon_set,
             "ReplicaSet": apps.read_namespaced_replica_set,
             "PodDisruptionBudget": policy.read_namespaced_pod_disruption_budget}
    deadline = time.monotonic() + 120
    for obj in content.data["objects"]:
        create, replace = calls[obj["kind"]]
        read = reads.get(obj["kind"])
        object_name = obj["metadata"]["name"]
        while True:
            try:
                create(name, obj)
                break
            except ApiException as exc:
                if exc.status != 409:
                    raise
            try:  # there already: being deleted (wait for it to go), or a re-run (make it the captured one)
                current = read(object_name, name).metadata if read else None
                if current is None or current.deletion_timestamp is None:
                    version = {"resourceVersion": current.resource_version} if current else {}
                    replace(object_name, name, {**obj, "metadata": {**obj["metadata"], **version}})
                    break
            except ApiException as exc:
                if exc.status != 404:
                    raise
                continue  # gone meanwhile: create it
            if time.monotonic() > deadline:
                raise TimeoutError(f"{obj['kind']} {name}/{object_name} still being deleted after 120s")
            time.sleep(1)


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


def wait_or_fail(ctx: ScenarioContext, check, failure: str, timeout: float = WAIT_TIMEOUT) -> None:
    if not ctx.wait_until(check, timeout, interval=0.5):
        raise ScenarioFailed(f"{failure} after {timeout:g}s")


def wait_ready(apps: client.AppsV1Api, items: list[Workload], ctx: ScenarioContext,
               timeout: float = WAIT_TIMEOUT) -> None:
    for w in items:
        wait_or_fail(ctx, lambda w=w: _ready_replicas(apps, w) >= w.replicas,
                     f"{w} has not {w.replicas} ready replicas", timeout)


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


def _listers(api_client, name: str) -> dict:
    """kind -> a function listing that kind's objects in namespace ``name``."""
    from kubernetes import client

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    rbac, net = client.RbacAuthorizationV1Api(api_client), client.NetworkingV1Api(api_client)
    return {
        # "default" is made by the controller-manager in every namespace.
        "ServiceAccount": lambda: [a for a in core.list_namespaced_service_account(name).items
                                   if a.metadata.name != "default"],
        "Role": lambda: rbac.list_namespaced_role(name).items,
        "RoleBinding": lambda: rbac.list_namespaced_role_binding(name).items,
        "NetworkPolicy": lambda: net.list_namespaced_network_policy(name).items,
        "PodDisruptionBudget": lambda: client.PolicyV1Api(api_client).list_namespaced_pod_disruption_budget(name).items,
        "Secret": lambda: [s for s in core.list_namespaced_secret(name).items
                           if s.type != "kubernetes.io/service-account-token"],
        "ConfigMap": lambda: [c for c in core.list_namespaced_config_map(name).items
                              if c.metadata.name != "kube-root-ca.crt"],  # published into every namespace
        "Service": lambda: core.list_namespaced_service(name).items,
        "Deployment": lambda: apps.list_namespaced_deployment(name).items,
        "StatefulSet": lambda: apps.list_namespaced_stateful_set(name).items,
        "DaemonSet": lambda: apps.list_namespaced_daemon_set(name).items,
        "ReplicaSet": lambda: apps.list_namespaced_replica_set(name).items,
    }


def capture_namespace(api_client, name: str, kinds: tuple[str, ...] = CAPTURED_KINDS, *,
                      unowned_only: bool = False) -> dict:
    """The namespace's manifest and its objects of ``kinds`` (in that order), as they can be
    created again. ``unowned_only``: leave out objects another object owns (they come back with it)."""
    from kubernetes import client

    ns = client.CoreV1Api(api_client).read_namespace(name).metadata
    meta = {"name": name, **{k: v for k, v in (("labels", ns.labels), ("annotations", ns.annotations)) if v}}
    listers = _listers(api_client, name)
    objects = [_clean(api_client, obj, kind, API_VERSIONS.get(kind, "v1"))
               for kind in kinds for obj in listers[kind]()
               if not (unowned_only and obj.metadata.owner_references)]
    return {"namespace": {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, "objects": objects}


def capture_krkn_objects(api_client, name: str) -> dict:
    """What krkn deletes in a namespace (mode delete_objects), in the order it is re-created."""
    return capture_namespace(api_client, name, RESTORE_ORDER, unowned_only=True)


def _deleter(api_client, kind: str):
    """(delete, read) of one namespaced kind of krkn's deleted kinds."""
    from kubernetes import client

    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    return {
        "Service": (core.delete_namespaced_service, core.read_namespaced_service),
        "DaemonSet": (apps.delete_namespaced_daemon_set, apps.read_namespaced_daemon_set),
        "StatefulSet": (apps.delete_namespaced_stateful_set, apps.read_namespaced_stateful_set),
        "ReplicaSet": (apps.delete_namespaced_replica_set, apps.read_namespaced_replica_set),
        "Deployment": (apps.delete_namespaced_deployment, apps.read_namespaced_deployment),
    }[kind]


def _object_gone(read, name: str, namespace: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        read(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def object_label(obj: dict, namespace: str) -> str:
    return f"{obj['kind']} {namespace}/{obj['metadata']['name']}"


def _check_storable(data: dict, namespace: str) -> None:
    """Refuse before deleting anything if the capture could not be written or run back."""
    from ..rollback.store import MAX_VERSION_BYTES  # not at import: loading a config imports every plugin

    try:
        size = len(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ScenarioFailed(f"namespace {namespace}: capture is not JSON ({exc}); not deleting it") from None
    if size > MAX_VERSION_BYTES - (1 << 16):
        raise ScenarioFailed(f"namespace {namespace}: capture is {size} bytes, too large for a version file; "
                             "not deleting it")


def _capture_all(ctx: ScenarioContext, namespaces: list[str], capture) -> dict[str, dict]:
    captures = {ns: capture(ctx.api_client, ns) for ns in namespaces}
    for ns, data in captures.items():  # all checked before the first deletion
        _check_storable(data, ns)
    return captures


def _register_recreate(ctx: ScenarioContext, namespace: str, data: dict, kind: str) -> Path | None:
    """The version file that re-creates the capture, on disk before anything is deleted."""
    return ctx.set_rollback_callable(
        recreate_namespace, RollbackContent(resource_identifier=namespace, namespace=namespace, data=data),
        verb="recreate", kind=kind)


# What each mode does, in the picker's parameters column.
MODE_WORDS = {"delete_objects": "delete Services+workloads in", "scale": "scale",
              "delete_namespace": "delete namespace"}


# ---- the plugin -----------------------------------------------------------------------------


@register
class ServiceDisruptionPlugin(ScenarioPlugin):
    scenario_type = "service_disruption_scenarios"
    short_name = "service disruption"
    undo_functions = (scale_back, recreate_namespace)
    parse_data = staticmethod(parse_service_disruption)

    @staticmethod
    def describe(spec: ServiceDisruptionSpec) -> str:
        target = f" {spec.label_selector}" if spec.label_selector else ""
        return f"{MODE_WORDS[spec.mode]} ns~{spec.namespace_pattern}{target} for {spec.duration:g}s"

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
            elif spec.mode == "delete_objects":
                changed = self._delete_objects(apps, chosen, spec, ctx)
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
            found = [targets("namespaces", matches, pick, matches),
                     targets("workloads", [f"{w.kind} {w.namespace}/{w.name} ({w.replicas})" for w in loads],
                             f"scaled to 0 for {spec.duration:g}s, then back")]
            if not loads:
                fail_with(found, "no Deployment or StatefulSet with replicas in " + ", ".join(matches))
            return found
        if spec.mode == "delete_objects":
            found = [targets("namespaces", matches, f"{pick}; the namespace stays", matches),
                     targets("objects", [object_label(o, ns) for ns in matches
                                         for o in capture_krkn_objects(ctx.api_client, ns)["objects"]],
                             f"deleted (as krkn does), re-created after {spec.duration:g}s")]
            if not found[1].names:
                fail_with(found, "no Service or workload to delete in " + ", ".join(matches))
            return found
        objects = {ns: len(capture_namespace(ctx.api_client, ns)["objects"]) for ns in matches}
        return [targets("namespaces", [f"{ns} ({n} objects captured)" for ns, n in objects.items()],
                        f"{pick} deleted, then re-created after {spec.duration:g}s", objects)]

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
                         f"{w}: pods still there after scaling to 0", spec.wait_time)
        self._hold(spec, ctx)
        for _w, path in reversed(scaled):
            ctx.restore(path)
        wait_ready(apps, targets, ctx, spec.wait_time)
        return [{"kind": w.kind, "namespace": w.namespace, "name": w.name, "replicas": w.replicas} for w in targets]

    # -- mode delete_objects (krkn's) -------------------------------------------------------------

    def _delete_objects(self, apps, namespaces: list[str], spec: ServiceDisruptionSpec,
                        ctx: ScenarioContext) -> list[dict]:
        captures = _capture_all(ctx, namespaces, capture_krkn_objects)
        if ctx.dry_run:
            for ns, data in captures.items():
                listed = ", ".join(object_label(o, ns) for o in data["objects"]) or "nothing"
                ctx.log(f"dry run: would delete, then re-create, in namespace {ns} (which stays): {listed}")
            return []
        deleted: list[tuple[str, Path | None]] = []
        gone: list[tuple[Any, str, str]] = []
        for ns, data in captures.items():
            if not data["objects"]:
                continue
            deleted.append((ns, _register_recreate(ctx, ns, data, "Objects")))
            by_kind = {kind: [o for o in data["objects"] if o["kind"] == kind] for kind in KRKN_DELETED_KINDS}
            for kind, objects in by_kind.items():  # krkn's order
                delete, read = _deleter(ctx.api_client, kind)
                for obj in objects:
                    name = obj["metadata"]["name"]
                    # Foreground: the object goes once its pods have gone, so the outage is real when it is.
                    delete(name, ns, propagation_policy="Foreground")
                    ctx.audit("delete_object", kind=kind, namespace=ns, name=name)
                    gone.append((read, name, ns))
        for read, name, ns in gone:
            wait_or_fail(ctx, lambda read=read, name=name, ns=ns: _object_gone(read, name, ns),
                         f"{ns}/{name} has not gone", spec.wait_time)
        self._hold(spec, ctx)
        for _ns, path in reversed(deleted):
            ctx.restore(path)
        wait_ready(apps, [w for ns in namespaces for w in workloads(apps, ns)], ctx, spec.wait_time)
        return [{"namespace": ns, "objects": len(captures[ns]["objects"])} for ns in namespaces]

    # -- mode delete_namespace ------------------------------------------------------------------

    def _delete(self, apps, core, namespaces: list[str], spec: ServiceDisruptionSpec,
                ctx: ScenarioContext) -> list[dict]:
        captures = _capture_all(ctx, namespaces, capture_namespace)
        if ctx.dry_run:
            for ns, data in captures.items():
                ctx.log(f"dry run: would delete namespace {ns} and recreate {len(data['objects'])} object(s)")
            return []
        deleted: list[tuple[str, Path | None]] = []
        for ns, data in captures.items():
            path = _register_recreate(ctx, ns, data, "Namespace")
            core.delete_namespace(ns)
            ctx.audit("delete_namespace", namespace=ns, captured_objects=len(data["objects"]))
            deleted.append((ns, path))
        for ns, _path in deleted:
            wait_or_fail(ctx, lambda ns=ns: _object_gone(lambda name, _ns: core.read_namespace(name), ns, ""),
                         f"namespace {ns} has not finalized", spec.wait_time)
        self._hold(spec, ctx)
        for _ns, path in reversed(deleted):
            ctx.restore(path)
        recreated = [w for ns in namespaces for w in workloads(apps, ns)]
        wait_ready(apps, recreated, ctx, spec.wait_time)
        return [{"namespace": ns, "objects": len(captures[ns]["objects"])} for ns in namespaces]

    @staticmethod
    def _hold(spec: ServiceDisruptionSpec, ctx: ScenarioContext) -> None:
        ctx.log(f"holding {spec.duration:g}s")
        ctx.sleep(spec.duration)
