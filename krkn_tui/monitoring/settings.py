"""krkn's `performance_monitoring`, `resiliency` and `cerberus` sections, and the alert profile
(or SLO file) they name, read as krkn reads them; bad input is refused before the run, in one
line naming the file and field (krkn finds most of it at the end of the run, or never).

An alert profile is a list of `{expr, description, severity}`; krkn's alert verdict reads only
entries with exactly those three keys (others are skipped, as krkn skips them), while its SLOs
read every entry with `expr` and `severity` (`description` names it, `weight` overrides the
severity's weight). krkn-tui adds `abort: true` on an entry (live stop condition) and
`performance_monitoring.abort_on_critical` (every critical entry is one)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..yamlio import Section, describe, join_field, load_yaml_file, parse_yaml_text

SEVERITIES = ("debug", "info", "warning", "error", "critical")
RUN_MODES = ("standalone", "detailed", "disabled")
KRKN_ALERT_KEYS = frozenset({"expr", "description", "severity"})
PROFILE_KEYS = ("expr", "description", "severity", "weight", "abort")
MAX_PROFILE_BYTES = 1024 * 1024

_MONITORING_KEYS = ("prometheus_url", "prometheus_bearer_token", "enable_alerts", "alert_profile",
                    "check_critical_alerts", "abort_on_critical")
_KRKN_MONITORING_KEYS = ("uuid", "enable_metrics", "metrics_profile")


@dataclass(frozen=True)
class ProfileEntry:
    index: int
    expr: str
    severity: str
    description: str | None = None
    weight: float | None = None
    abort: bool = False
    krkn_alert: bool = True  # exactly krkn's three keys: read by krkn's alert verdict

    @property
    def name(self) -> str:
        """krkn's SLO name: the description, else slo_<index>."""
        return self.description or f"slo_{self.index}"


@dataclass(frozen=True)
class Profile:
    source: str  # the path or URL it was read from
    entries: tuple[ProfileEntry, ...]
    listed: str = ""  # as the config wrote it (one file may serve as alert profile and SLOs)


@dataclass(frozen=True)
class Monitoring:
    prometheus_url: str | None = None
    bearer_token: str | None = None
    enable_alerts: bool = False
    alert_profile: Profile | None = None
    check_critical_alerts: bool = False
    abort_on_critical: bool = False
    resiliency_mode: str = "disabled"  # krkn: standalone by default, disabled without a Prometheus
    slos: Profile | None = None
    cerberus_url: str | None = None  # set when cerberus_enabled
    check_application_routes: bool = False
    stops: tuple[ProfileEntry, ...] = field(default=())  # evaluated during the run

    @property
    def uses_prometheus(self) -> bool:
        return bool(self.enable_alerts or self.check_critical_alerts or self.slos or self.stops)

    def __bool__(self) -> bool:
        return self.uses_prometheus or self.cerberus_url is not None


def parse_monitoring(top: Section, base: Path) -> Monitoring:
    perf = top.section("performance_monitoring")
    res = top.section("resiliency")
    cerb = top.section("cerberus")
    cerberus_url, routes = _cerberus(cerb) if cerb is not None else (None, False)
    if perf is None:
        return Monitoring(cerberus_url=cerberus_url, check_application_routes=routes)
    perf.reject_unknown(_MONITORING_KEYS, ignored=_KRKN_MONITORING_KEYS)
    url = perf.string("prometheus_url")
    token = perf.string("prometheus_bearer_token")
    enable_alerts = perf.boolean("enable_alerts", False)
    critical = perf.boolean("check_critical_alerts", False)
    abort_critical = perf.boolean("abort_on_critical", False)
    if url is not None and not url.startswith(("http://", "https://")):
        raise perf.error("prometheus_url", f"expected an http:// or https:// URL, got {url!r}")
    if (enable_alerts or critical) and not url:
        what = "enable_alerts" if enable_alerts else "check_critical_alerts"
        raise perf.error("prometheus_url", f"is required with {what} (krkn-tui finds no Prometheus by itself)")
    profile = None
    if enable_alerts:
        where = perf.string("alert_profile")
        if where is None:
            raise perf.error("alert_profile", "is required when enable_alerts is true")
        profile = load_profile(where, base, top.file, perf.field("alert_profile"))
    mode = "disabled"
    slos = None
    if res is not None:
        res.reject_unknown(("resiliency_run_mode", "resiliency_file"))
        mode = res.choice("resiliency_run_mode", RUN_MODES, "standalone")
    elif url:
        mode = "standalone"  # krkn's default when the section is absent
    if url and mode != "disabled":
        # krkn: resiliency_file, else the alert profile, else config/alerts.yaml.
        key_section, key = (res, "resiliency_file") if res is not None and res.string("resiliency_file") else (
            perf, "alert_profile")
        where = key_section.string(key) or "config/alerts.yaml"
        slos = (profile if profile is not None and key == "alert_profile" and where == profile.listed
                else load_profile(where, base, top.file, key_section.field(key)))
    stops = tuple(e for p in (profile, slos) if p for e in p.entries
                  if e.abort or (abort_critical and e.severity == "critical"))
    stops = tuple({(e.expr, e.name): e for e in stops}.values())  # one file may serve both
    return Monitoring(url, token, enable_alerts, profile, critical, abort_critical, mode if url else "disabled",
                      slos if url else None, cerberus_url, routes, stops)


def _cerberus(cerb: Section) -> tuple[str | None, bool]:
    cerb.reject_unknown(("cerberus_enabled", "cerberus_url", "check_application_routes"))
    if not cerb.boolean("cerberus_enabled", False):
        return None, False
    url = cerb.string("cerberus_url")
    if url is None:
        raise cerb.error("cerberus_url", "is required when cerberus_enabled is true (krkn exits 1 without it)")
    if not url.startswith(("http://", "https://")):
        raise cerb.error("cerberus_url", f"expected an http:// or https:// URL, got {url!r}")
    return url, cerb.boolean("check_application_routes", False)


def load_profile(where: str, base: Path, config_file, field_name: str) -> Profile:
    """An alert profile or SLO file from a path (relative as the config's other paths) or URL."""
    from ..config_paths import resolve_relative

    if where.startswith(("http://", "https://")):
        text, source = _fetch(where, config_file, field_name), where
        data = parse_yaml_text(text, where)
    else:
        path, _, tried = resolve_relative(base, where, check_exists=True)
        if not path.is_file():
            nor = f" (nor {tried}, relative to the working directory)" if tried else ""
            raise UserError(f"alert profile not found: {path}{nor}", file=config_file, field=field_name)
        data, source = load_yaml_file(path, what="alert profile", allow_empty=True), str(path)
    return dataclasses.replace(parse_profile(data, source), listed=where)


def parse_profile(data, source: str) -> Profile:
    if data is None:
        data = []
    if not isinstance(data, list):
        raise UserError(f"expected a list of alerts (expr, description, severity), got {describe(data)}",
                        file=source)
    entries = []
    for i, raw in enumerate(data):
        at = join_field("", i)
        entry = Section(raw, source, at, what="a mapping (expr, description, severity)")
        entry.reject_unknown(PROFILE_KEYS)
        expr = entry.string("expr", required=True)
        severity = entry.choice("severity", SEVERITIES)
        description = entry.string("description")
        weight = entry.number("weight", None, minimum=0)
        if isinstance(raw.get("weight"), int) and weight is not None:
            weight = int(weight)  # as written: krkn's report says 2, not 2.0
        entries.append(ProfileEntry(i, expr, severity, description, weight, entry.boolean("abort", False),
                                    krkn_alert=set(raw) == KRKN_ALERT_KEYS))
    return Profile(source, tuple(entries))


def _fetch(url: str, config_file, field_name: str) -> str:
    import urllib.request  # ~10 ms (http.client, email) that the console's start need not pay

    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read(MAX_PROFILE_BYTES + 1)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read alert profile {url}: {e}", file=config_file, field=field_name) from None
    if len(body) > MAX_PROFILE_BYTES:
        raise UserError(f"alert profile {url} is larger than {MAX_PROFILE_BYTES} bytes", file=config_file,
                        field=field_name)
    return body.decode("utf-8", "replace")


__all__ = ["Monitoring", "Profile", "ProfileEntry", "parse_monitoring", "parse_profile", "SEVERITIES"]


def check_prometheus(settings: Monitoring, config_file) -> None:
    """Before the cluster is touched: a Prometheus the verdicts need answers a query (krkn
    probes it too, and runs on without its verdicts; krkn-tui refuses the run instead)."""
    from .promapi import Prometheus, QueryError

    if not (settings.uses_prometheus and settings.prometheus_url):
        return
    try:
        Prometheus(settings.prometheus_url, settings.bearer_token, timeout=10).query("vector(1)")
    except QueryError as e:
        raise UserError(f"Prometheus does not answer: {e}", file=config_file,
                        field="performance_monitoring.prometheus_url") from None
