"""Application outage: a deny-all NetworkPolicy on the selected pods for `duration` seconds.

The policy lists the blocked directions in policyTypes and no rules, so nothing is allowed in
those directions. It is removed by executing its rollback file, the same code an emergency
rollback runs.
"""

from __future__ import annotations

import secrets

from ..rollback import RollbackContent
from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .specs import AppOutageSpec, parse_app_outage


def delete_network_policy(content, api_client):
    """Rollback: remove the outage policy; already gone counts as done."""
    from kubernetes import client

    try:
        client.NetworkingV1Api(api_client).delete_namespaced_network_policy(
            content.resource_identifier, content.namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def outage_policy(name: str, spec: AppOutageSpec, run_uuid: str) -> dict:
    selector: dict = {"matchLabels": spec.match_labels}
    if spec.exclude_label:
        selector["matchExpressions"] = [{"key": key, "operator": "NotIn", "values": list(values)}
                                        for key, values in spec.exclude_label]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": spec.namespace,
                     "labels": {"app.kubernetes.io/managed-by": "krkn-tui", "krkn-tui/run": run_uuid}},
        "spec": {"podSelector": selector, "policyTypes": list(spec.block)},
    }


def target_namespace(ctx: ScenarioContext, namespace: str):
    """Refuse a protected or missing namespace before anything is registered; returns CoreV1Api."""
    from kubernetes import client

    ctx.guard_namespace(namespace)
    core = client.CoreV1Api(ctx.api_client)
    try:
        core.read_namespace(namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            raise ScenarioFailed(f"namespace {namespace!r} does not exist") from None
        raise
    return core


@register
class ApplicationOutagePlugin(ScenarioPlugin):
    scenario_type = "application_outages_scenarios"
    short_name = "app outage"
    parse_data = staticmethod(parse_app_outage)

    @staticmethod
    def describe(spec: AppOutageSpec) -> str:
        return f"ns {spec.namespace} {spec.label_selector} block {'+'.join(spec.block)} for {spec.duration:g}s"

    def preview(self, spec: AppOutageSpec, ctx: ScenarioContext) -> list:
        from .preview import fail_with, targets

        core = target_namespace(ctx, spec.namespace)
        pods = [p.metadata.name for p in core.list_namespaced_pod(spec.namespace, label_selector=spec.label_selector).items]
        found = [targets("NetworkPolicies", [f"{spec.namespace}/krkn-outage-*"], "created, deny-all, then deleted"),
                 targets("pods", [f"{spec.namespace}/{p}" for p in pods],
                         f"{'+'.join(spec.block)} blocked for {spec.duration:g}s")]
        if not pods:
            fail_with(found, f"pod_selector {spec.label_selector!r} matched 0 pods in {spec.namespace}")
        return found

    def run(self, spec: AppOutageSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        core = target_namespace(ctx, spec.namespace)
        name = f"krkn-outage-{secrets.token_hex(3)}"
        body = outage_policy(name, spec, ctx.rollback.run_uuid)
        affected = core.list_namespaced_pod(spec.namespace, label_selector=spec.label_selector).items
        where = f"{spec.namespace}/{name} ({'+'.join(spec.block)} on {spec.label_selector}, {len(affected)} pods)"
        details = {"namespace": spec.namespace, "policy": name, "block": list(spec.block),
                   "pods": sorted(p.metadata.name for p in affected)}
        if ctx.dry_run:
            ctx.log(f"dry run: would create NetworkPolicy {where} for {spec.duration:g}s", 1.0)
            return Outcome("passed", f"dry run: would block {where}", {**details, "dry_run": True})
        version = ctx.set_rollback_callable(
            delete_network_policy, RollbackContent(resource_identifier=name, namespace=spec.namespace),
            verb="delete", kind="NetworkPolicy")
        client.NetworkingV1Api(ctx.api_client).create_namespaced_network_policy(spec.namespace, body)
        ctx.audit("create_network_policy", namespace=spec.namespace, name=name)
        ctx.log(f"created NetworkPolicy {where}; outage for {spec.duration:g}s", 0.1)
        ctx.sleep(spec.duration)
        ctx.restore(version)
        return Outcome("passed", f"blocked {where} for {spec.duration:g}s", details)
