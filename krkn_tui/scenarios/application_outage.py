"""Application outage: a deny-all NetworkPolicy on the selected pods for `duration` seconds.

The policy lists the blocked directions in policyTypes and no rules, so nothing is allowed in
those directions. It is removed by executing its rollback file, the same code an emergency
rollback runs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..rollback import RollbackContent
from ..yamlio import Section, describe, join_field
from .base import Outcome, ScenarioContext, ScenarioPlugin, register, target_namespace
from .specs import LABEL_KEY_RE, LABEL_VALUE_RE, check_label_map, check_namespace


# ---- the scenario file: spec and parser ----------------------------------------------------

TRAFFIC_TYPES = ("Ingress", "Egress")


@dataclass(frozen=True, kw_only=True)
class AppOutageSpec:
    namespace: str
    pod_selector: tuple[tuple[str, str], ...]  # matchLabels, as sorted pairs
    duration: float = 60.0
    block: tuple[str, ...] = TRAFFIC_TYPES
    # matchExpressions `key NotIn values`; krkn accepts a mapping, "k=v1|v2,k2=v" or a list
    exclude_label: tuple[tuple[str, tuple[str, ...]], ...] = ()
    file: Path | None = None
    field: str = ""

    @property
    def match_labels(self) -> dict[str, str]:
        return dict(self.pod_selector)

    @property
    def label_selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.pod_selector)


def _exclusions(sec: Section, key: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = sec.raw(key)
    if raw is None:
        return ()
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, dict):
        pairs = [(k, v if isinstance(v, list) else [v]) for k, v in raw.items()]
    elif isinstance(raw, (str, list)):
        parts = raw.split(",") if isinstance(raw, str) else raw
        for part in parts:
            if not isinstance(part, str) or "=" not in part:
                raise sec.error(key, f"expected key=value entries, got {describe(part)}")
            name, _, values = part.partition("=")
            pairs.append((name.strip(), [v.strip() for v in values.split("|")]))
    else:
        raise sec.error(key, f"expected a mapping, a 'key=value' string or a list, got {describe(raw)}")
    result = []
    for name, values in pairs:
        if not isinstance(name, str) or not LABEL_KEY_RE.match(name):
            raise sec.error(key, f"not a valid label name: {name!r}")
        for value in values:
            if not isinstance(value, str) or not value or not LABEL_VALUE_RE.match(value):
                raise sec.error(key, f"not a valid label value for {name}: {describe(value)}")
        result.append((name, tuple(values)))
    return tuple(result)


def parse_app_outage(data: Any, file: str | Path) -> list[AppOutageSpec]:
    top = Section(data, file, what="a mapping with application_outage")
    top.reject_unknown(("application_outage",))
    sec = top.required_section("application_outage")
    sec.reject_unknown(("duration", "namespace", "pod_selector", "block", "exclude_label"))
    if not sec.data.get("pod_selector"):
        raise sec.error("pod_selector", "is required: a non-empty mapping of labels (app: frontend)")
    selector = check_label_map(sec, "pod_selector")
    block = TRAFFIC_TYPES
    if sec.data.get("block") is not None:
        block = sec.string_list("block")
        for i, kind in enumerate(block):
            if kind not in TRAFFIC_TYPES:
                raise UserError(f"unknown value {kind!r}; expected one of: {', '.join(TRAFFIC_TYPES)}",
                                file=file, field=join_field(sec.field("block"), i))
        if not block:
            raise sec.error("block", f"lists nothing to block (use {', '.join(TRAFFIC_TYPES)})")
        block = tuple(dict.fromkeys(block))
    return [AppOutageSpec(
        duration=sec.number("duration", 60.0, above=0),
        namespace=check_namespace(sec, "namespace"),
        pod_selector=tuple(sorted(selector.items())),
        block=block,
        exclude_label=_exclusions(sec, "exclude_label"),
        file=Path(file),
        field=sec.path,
    )]


# ---- running it ----------------------------------------------------------------------------


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


@register
class ApplicationOutagePlugin(ScenarioPlugin):
    scenario_type = "application_outages_scenarios"
    short_name = "app outage"
    undo_functions = (delete_network_policy,)
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
                         f"{'+'.join(spec.block)} blocked for {spec.duration:g}s", [spec.namespace])]
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
