"""HTTP load: krkn's `http_load_scenarios`. `number-of-pods` Vegeta pods load the `targets`'
endpoints (round robin) at `rate` for `duration`; their reports (latency, status codes) are
summed into the run's report, as krkn sums them into its telemetry; the pods are deleted after.

The file is krkn's: a list of `{http_load_scenario: {...}}` (or the mappings themselves). The pods
are krkn-lib's `deploy_http_load`: `http-load-<10>` labelled `app: krkn-http-load`,
`restartPolicy: Never`, container `vegeta-load` of `image` (pull Always) with env
TARGETS_JSON_BASE64 (newline-delimited Vegeta JSON targets: method, url, header, base64 body),
DURATION, RATE, WORKERS, MAX_WORKERS, CONNECTIONS, TIMEOUT, KEEPALIVE, HTTP2, INSECURE, and
krkn-lib's node affinity from `attacker-nodes`.

Differences from krkn, on purpose:
- Only the cluster's own Services are loaded: an endpoint's host must name a Service (`name`,
  `name.namespace`, `name.namespace.svc[.cluster.local]`, relative names in `namespace`) or be
  a Service's cluster IP, and its port one of that Service's ports; the target sent to Vegeta
  has the Service's cluster IP and the original host in its Host header (the local cluster has
  no DNS). Anything else fails before any change, naming the endpoint's field.
- One rollback step (delete the spec's pods) is on disk before the first pod is created; krkn
  registers it after each pod.
- `duration` and `rate` are checked at load (krkn passes them to Vegeta as they are); an integer
  duration is seconds. `runs`, which krkn's plugin never reads, is ignored.
- A pod that fails, or a report missing from every pod, fails the scenario (krkn logs it).
- On the local cluster the pods go to the real node (krkn_pods.local_placement).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .base import Outcome, ScenarioContext, ScenarioFailed, ScenarioPlugin, register
from .krkn_pods import (await_running, delete_pods, finish, local_placement, node_affinity, parse_attacker_nodes,
                        pod_log, random_suffix, wait_gone)
from .specs import check_namespace, section_entries
from ..rollback import RollbackContent
from ..yamlio import Section, describe, expect_list, join_field

DEFAULT_IMAGE = "quay.io/krkn-chaos/krkn-http-load:latest"
_KEYS = ("runs", "number-of-pods", "namespace", "image", "attacker-nodes", "targets", "rate", "duration",
         "workers", "max_workers", "connections", "timeout", "keepalive", "http2", "insecure")
_DURATION_RE = re.compile(r"[0-9]+(ns|us|µs|ms|s|m|h)\Z")
_RATE_RE = re.compile(r"[0-9]+(/[0-9]*(ns|us|µs|ms|s|m|h))?\Z")
_METHOD_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
FINISH_MARGIN = 60.0  # seconds past `duration` for the pods to end (krkn's buffer)


@dataclass(frozen=True)
class Endpoint:
    url: str
    method: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    field: str = ""


@dataclass(frozen=True, kw_only=True)
class HttpLoadSpec:
    namespace: str = "default"
    number_of_pods: int = 1
    image: str = DEFAULT_IMAGE
    attacker_nodes: dict = field(default_factory=dict, hash=False)
    endpoints: tuple[Endpoint, ...]
    rate: str = "50/1s"
    duration: str = "30s"
    workers: int = 10
    max_workers: int = 100
    connections: int = 100
    timeout: str = "10s"
    keepalive: bool = True
    http2: bool = True
    insecure: bool = False
    file: Path | None = None
    field: str = ""

    @property
    def id(self) -> str | None:
        return None

    @property
    def seconds(self) -> float:
        value, unit = re.match(r"([0-9]+)(.*)", self.duration).groups()
        return int(value) * {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]


def _duration(sec: Section, key: str, default: str) -> str:
    value = sec.raw(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return f"{value}s"
    if isinstance(value, str) and _DURATION_RE.match(value) and int(re.match(r"[0-9]+", value)[0]) > 0:
        return value
    raise sec.error(key, f"expected a duration like 30s, 5m or 1h, got {describe(value)}")


def _endpoint(sec: Section) -> Endpoint:
    sec.reject_unknown(("url", "method", "headers", "body"))
    url = sec.string("url", required=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise sec.error("url", f"expected an http(s) URL, got {url!r}")
    method = sec.string("method", required=True)
    if not _METHOD_RE.match(method):
        raise sec.error("method", f"not an HTTP method: {method!r}")
    headers = sec.raw("headers") or {}
    if not isinstance(headers, dict):
        raise sec.error("headers", f"expected a mapping of header names to values, got {describe(headers)}")
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_RE.match(name) or not isinstance(value, str) or "\n" in value:
            raise sec.error(f"headers.{name}", "expected a header name and a one-line string value")
    body = sec.string("body")
    return Endpoint(url=url, method=method, headers=tuple(headers.items()), body=body, field=sec.path)


def _entry(sec: Section) -> HttpLoadSpec:
    if "http_load_scenario" in sec.data:  # krkn: entry.get("http_load_scenario", entry)
        sec.reject_unknown(("http_load_scenario",))
        sec = sec.required_section("http_load_scenario")
    sec.reject_unknown(_KEYS)
    targets = sec.required_section("targets")
    targets.reject_unknown(("endpoints",))
    endpoints = tuple(_endpoint(e) for e in section_entries(targets.data.get("endpoints"), sec.file,
                                                            targets.field("endpoints"), "endpoints (url, method)"))
    rate = sec.raw("rate")
    rate = "50/1s" if rate is None else str(rate) if isinstance(rate, int) and not isinstance(rate, bool) else rate
    if not isinstance(rate, str) or not _RATE_RE.match(rate):
        raise sec.error("rate", f"expected a rate like 50/1s, 1000/1m or 0, got {describe(sec.raw('rate'))}")
    image = sec.string("image", DEFAULT_IMAGE)
    if any(c.isspace() for c in image):
        raise sec.error("image", f"not an image reference: {image!r}")
    return HttpLoadSpec(
        namespace=check_namespace(sec, "namespace", "default"),
        number_of_pods=sec.integer("number-of-pods", 1, minimum=1, maximum=100), image=image,
        attacker_nodes=parse_attacker_nodes(sec), endpoints=endpoints, rate=rate,
        duration=_duration(sec, "duration", "30s"),
        workers=sec.integer("workers", 10, minimum=1), max_workers=sec.integer("max_workers", 100, minimum=1),
        connections=sec.integer("connections", 100, minimum=1), timeout=_duration(sec, "timeout", "10s"),
        keepalive=sec.boolean("keepalive", True), http2=sec.boolean("http2", True),
        insecure=sec.boolean("insecure", False), file=Path(sec.file), field=sec.path)


def parse_http_load(data: Any, file: str | Path) -> list[HttpLoadSpec]:
    items = expect_list(data, file, "", what="a list of http_load_scenario entries")
    if not items:
        raise Section({}, file).error(None, "lists no http_load_scenario")
    return [_entry(Section(item, file, join_field("", i), what="an http_load_scenario entry"))
            for i, item in enumerate(items)]


# ---- the cluster's own Services ------------------------------------------------------------


def _service_of(core, spec: HttpLoadSpec, host: str) -> Any:
    """The Service `host` names (a DNS name of it, or its cluster IP); None when it names none."""
    from kubernetes import client

    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if labels[2:] and labels[2:] not in (["svc"], ["svc", "cluster", "local"]):
            return None
        name, namespace = labels[0], labels[1] if len(labels) > 1 else spec.namespace
        try:
            return core.read_namespaced_service(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
    found = [s for s in core.list_service_for_all_namespaces().items if s.spec.cluster_ip == host]
    return found[0] if found else None


def vegeta_targets(core, spec: HttpLoadSpec) -> tuple[str, list[str]]:
    """(newline-delimited Vegeta JSON targets, the Services they load); ScenarioFailed naming the
    endpoint's url when it is not one of the cluster's Services."""
    lines, services = [], []
    for ep in spec.endpoints:
        parts = urlsplit(ep.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        svc = _service_of(core, spec, parts.hostname)
        where = f"{ep.field}.url" if ep.field else "url"
        if svc is None or not svc.spec.cluster_ip or svc.spec.cluster_ip == "None":
            raise ScenarioFailed(f"{where}: {parts.hostname} is not a Service of this cluster with a cluster IP "
                                 f"(krkn-tui loads only the cluster's own Services)")
        ports = [p.port for p in svc.spec.ports or []]
        if port not in ports:
            raise ScenarioFailed(f"{where}: Service {svc.metadata.namespace}/{svc.metadata.name} has no port {port} "
                                 f"(its ports: {', '.join(map(str, ports)) or 'none'})")
        url = urlunsplit((parts.scheme, f"{svc.spec.cluster_ip}:{port}", parts.path, parts.query, ""))
        headers = {k: [v] for k, v in ep.headers}
        headers.setdefault("Host", [parts.netloc.rpartition("@")[2]])
        target: dict[str, Any] = {"method": ep.method, "url": url, "header": headers}
        if ep.body:
            target["body"] = base64.b64encode(ep.body.encode()).decode()
        lines.append(json.dumps(target, separators=(",", ":")))
        services.append(f"{svc.metadata.namespace}/{svc.metadata.name}:{port}")
    return "\n".join(lines), services


def load_pod(spec: HttpLoadSpec, name: str, targets_b64: str, placement: dict, run_uuid: str) -> dict:
    """krkn-lib's http_load_pod.j2, field by field, plus the placement and krkn-tui's run label."""
    env = (("TARGETS_JSON_BASE64", targets_b64), ("DURATION", spec.duration), ("RATE", spec.rate),
           ("WORKERS", spec.workers), ("MAX_WORKERS", spec.max_workers), ("CONNECTIONS", spec.connections),
           ("TIMEOUT", spec.timeout), ("KEEPALIVE", str(spec.keepalive).lower()),
           ("HTTP2", str(spec.http2).lower()), ("INSECURE", str(spec.insecure).lower()))
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": spec.namespace,
                         "labels": {"app": "krkn-http-load", "krkn-tui/run": run_uuid}},
            "spec": {**node_affinity(spec.attacker_nodes), **placement, "restartPolicy": "Never",
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "vegeta-load", "image": spec.image, "imagePullPolicy": "Always",
                                     "env": [{"name": k, "value": str(v)} for k, v in env]}]}}


# ---- the figures ---------------------------------------------------------------------------


def report_of(log: str) -> dict | None:
    """Vegeta's JSON report from a pod's log: the line that starts with { and has "latencies"."""
    for line in log.splitlines():
        line = line.strip()
        if line.startswith("{") and '"latencies"' in line:
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def aggregate(reports: list[dict]) -> dict:
    """krkn's `_aggregate_metrics`: totals summed, latencies and success weighted by requests;
    latencies also in milliseconds for the report."""
    total = sum(_num(r.get("requests")) for r in reports)
    latencies = {}
    for p in ("mean", "50th", "95th", "99th", "max", "min"):
        weighted = sum(_num((r.get("latencies") or {}).get(p)) * _num(r.get("requests")) for r in reports)
        latencies[p] = weighted / total if total else 0.0
    codes: dict[str, int] = {}
    for r in reports:
        for code, count in (r.get("status_codes") or {}).items():
            codes[str(code)[:8]] = codes.get(str(code)[:8], 0) + int(_num(count))
    errors = [str(e)[:300] for r in reports for e in (r.get("errors") or [])][:10]
    return {
        "requests": int(total), "rate": sum(_num(r.get("rate")) for r in reports),
        "throughput": sum(_num(r.get("throughput")) for r in reports), "latencies": latencies,
        "latencies_ms": {p: round(v / 1e6, 3) for p, v in latencies.items()},
        "success": sum(_num(r.get("success")) * _num(r.get("requests")) for r in reports) / total if total else 0.0,
        "status_codes": codes,
        "bytes_in": {"total": sum(_num((r.get("bytes_in") or {}).get("total")) for r in reports)},
        "bytes_out": {"total": sum(_num((r.get("bytes_out") or {}).get("total")) for r in reports)},
        "errors": errors, "pod_count": len(reports)}


@register
class HttpLoadPlugin(ScenarioPlugin):
    scenario_type = "http_load_scenarios"
    short_name = "http load"
    undo_functions = (delete_pods,)
    parse_data = staticmethod(parse_http_load)

    @staticmethod
    def describe(spec: HttpLoadSpec) -> str:
        first = spec.endpoints[0]
        more = f" +{len(spec.endpoints) - 1} more" if len(spec.endpoints) > 1 else ""
        return (f"{spec.number_of_pods} Vegeta pod(s) in ns {spec.namespace} at {spec.rate} for {spec.duration}: "
                f"{first.method} {first.url}{more}")

    def preview(self, spec: HttpLoadSpec, ctx: ScenarioContext) -> list:
        from kubernetes import client

        from .preview import targets

        ctx.guard_namespace(spec.namespace)
        _, services = vegeta_targets(client.CoreV1Api(ctx.api_client), spec)
        return [targets("services", services, f"loaded at {spec.rate} per pod for {spec.duration}"),
                targets("pods", [f"{spec.namespace}/http-load-… ×{spec.number_of_pods}"], "created, deleted after",
                        [spec.namespace])]

    def run(self, spec: HttpLoadSpec, ctx: ScenarioContext) -> Outcome:
        from kubernetes import client

        ctx.guard_namespace(spec.namespace)
        core = client.CoreV1Api(ctx.api_client)
        targets_json, services = vegeta_targets(core, spec)
        pods = sorted(f"http-load-{random_suffix(10)}" for _ in range(spec.number_of_pods))
        details: dict[str, Any] = {"services": services, "pods": pods, "rate": spec.rate, "duration": spec.duration}
        ctx.log(f"{len(pods)} Vegeta pods against {', '.join(services)} at {spec.rate} for {spec.duration}", 0.05)
        if ctx.dry_run:
            return Outcome("passed", f"dry run: would start {len(pods)} Vegeta pods", {**details, "dry_run": True})
        version = ctx.set_rollback_callable(
            delete_pods, RollbackContent(resource_identifier=",".join(pods), namespace=spec.namespace,
                                         data={"pods": pods}),
            verb="delete", kind="load pods")
        placement, encoded = local_placement(core), base64.b64encode(targets_json.encode()).decode()
        for name in pods:
            ctx.check_stop()
            core.create_namespaced_pod(spec.namespace, load_pod(spec, name, encoded, placement, ctx.rollback.run_uuid))
            ctx.audit("create_pod", namespace=spec.namespace, name=name)
        await_running(ctx, core, spec.namespace, pods, "Vegeta pods")
        ctx.log(f"loading for {spec.duration}", 0.2)
        phases = finish(ctx, core, spec.namespace, pods, spec.seconds + FINISH_MARGIN, "Vegeta pods")
        logs = {n: pod_log(core, spec.namespace, n) for n in pods}
        reports = [r for r in map(report_of, logs.values()) if r is not None]
        ctx.restore(version)
        wait_gone(ctx, core, spec.namespace, pods, "Vegeta pods")
        details["metrics"] = aggregate(reports)
        failed = [n for n, p in phases.items() if p != "Succeeded"]
        if failed or not reports:
            why = f"pods ended {', '.join(f'{n} ({phases[n]})' for n in failed)}" if failed else "no report in any pod's log"
            tail = next((log.strip().splitlines()[-1][:300] for log in logs.values() if log.strip()), "")
            raise ScenarioFailed(f"HTTP load: {why}{': ' + tail if tail else ''}", details)
        m = details["metrics"]
        return Outcome("passed", f"{m['requests']} requests, {100 * m['success']:.1f}% success, "
                                 f"p95 {m['latencies_ms']['95th']:g} ms, codes {m['status_codes']}", details)
