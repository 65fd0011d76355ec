"""Steady-state checks as a config declares them.

Two sources in ``config.yaml``:

- krkn's ``health_checks`` section, read as krkn writes it::

      health_checks:
        interval: 2                       # seconds, default 2
        config:
          - url: http://127.0.0.1:18098/health
            bearer_token:                 # sent as "Authorization: Bearer ..."
            auth: user,password           # basic auth; krkn's docs also show ("user","password")
            verify_url: true              # verify the TLS certificate (default true)
            exit_on_failure: false        # true: a failure stops the run at once and rolls back

- our own ``krkn_tui.checks`` list, for checks that need no HTTP endpoint::

      krkn_tui:
        recovery_timeout: 60              # after the run, how long the checks may take to pass again
        checks:
          - name: frontend-pods
            type: pods_ready              # at least N (or P%) pods Ready
            namespace: krkn-demo
            selector: app=frontend
            min_ready: 2                  # or "60%" of the pods the steady-state check saw
            abort: true
          - type: deployment_available    # Available condition and at least one available replica
            namespace: krkn-demo
            deployment: backend

Both share ``health_checks.interval``. An HTTP probe ends within ``timeout`` seconds in all
(ours; default 3, krkn's fixed value), so a hanging or dripping endpoint never stalls the run
(http_probe). A check's name defaults to its URL as ``urls.shown_url`` shows it: no credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..errors import UserError
from ..yamlio import Section, describe, expect_list, join_field
from .urls import redact_urls, shown_url

DEFAULT_INTERVAL = 2.0
DEFAULT_HTTP_TIMEOUT = 3.0
DEFAULT_RECOVERY_TIMEOUT = 60.0
_HTTP_KEYS = ("url", "bearer_token", "auth", "verify_url", "exit_on_failure", "name", "timeout")
_NATIVE_TYPES = ("pods_ready", "deployment_available")
_COMMON_KEYS = ("name", "type", "abort")
_PODS_KEYS = (*_COMMON_KEYS, "namespace", "selector", "min_ready")
_DEPLOYMENT_KEYS = (*_COMMON_KEYS, "namespace", "deployment")
_SELECTOR_TERM = re.compile(r"^\s*!?[A-Za-z0-9./_-]+\s*((=|==|!=)\s*[A-Za-z0-9._-]*|\s+(in|notin)\s+\(.*\))?\s*$")


@dataclass(frozen=True)
class HttpCheck:
    name: str  # never the raw URL: see parse's _http
    url: str = field(repr=False)  # may hold user:pass@ or ?token=: shown only through shown_url
    bearer_token: str | None = field(default=None, repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    verify: bool = True
    abort: bool = False
    timeout: float = DEFAULT_HTTP_TIMEOUT

    def describe(self) -> str:
        return f"GET {shown_url(self.url)} answers 200"


@dataclass(frozen=True)
class PodsReadyCheck:
    name: str
    namespace: str
    selector: str
    min_count: int | None = None
    min_percent: float | None = None
    abort: bool = False

    def describe(self) -> str:
        need = f"{self.min_count}" if self.min_count is not None else f"{self.min_percent:g}%"
        return f"at least {need} pod(s) Ready for {self.selector} in {self.namespace}"


@dataclass(frozen=True)
class DeploymentCheck:
    name: str
    namespace: str
    deployment: str
    abort: bool = False

    def describe(self) -> str:
        return f"Deployment {self.namespace}/{self.deployment} available"


Check = Union[HttpCheck, PodsReadyCheck, DeploymentCheck]


@dataclass(frozen=True)
class ChecksConfig:
    interval: float = DEFAULT_INTERVAL
    checks: tuple[Check, ...] = ()
    recovery_timeout: float = DEFAULT_RECOVERY_TIMEOUT  # after the run: how long checks may take to pass

    def __bool__(self) -> bool:
        return bool(self.checks)


def parse_checks(top: Section) -> ChecksConfig:
    """Both sections of an already-loaded config; raises UserError naming file and field."""
    interval, recovery = DEFAULT_INTERVAL, DEFAULT_RECOVERY_TIMEOUT
    checks: list[Check] = []
    health = top.section("health_checks")
    if health is not None:
        kind = health.string("type")
        if kind is not None and kind != "http_health_check":
            raise health.error("type", f"unsupported health check type {kind!r} (supported: http_health_check)")
        interval = health.number("interval", DEFAULT_INTERVAL, above=0)
        for i, entry in enumerate(_entries(health, "config")):
            check = _http(Section(entry, top.file, join_field(health.field("config"), i)), i)
            if check is not None:
                checks.append(check)
    ours = top.section("krkn_tui")
    if ours is not None:
        ours.reject_unknown(("checks", "recovery_timeout"))
        recovery = ours.number("recovery_timeout", DEFAULT_RECOVERY_TIMEOUT, minimum=0)
        for i, entry in enumerate(_entries(ours, "checks")):
            checks.append(_native(Section(entry, top.file, join_field(ours.field("checks"), i))))
    names = set()
    for check in checks:
        if check.name in names:
            raise UserError(f"two checks are named {check.name!r}; give one a `name`", file=top.file,
                            field="health_checks" if isinstance(check, HttpCheck) else "krkn_tui.checks")
        names.add(check.name)
    return ChecksConfig(interval, tuple(checks), recovery)


def _entries(section: Section, key: str) -> list[Any]:
    raw = section.raw(key, blank_is_absent=False)
    return [] if raw is None else expect_list(raw, section.file, section.field(key), what="a list of checks")


def _http(s: Section, index: int) -> HttpCheck | None:
    """None for a blank entry (every field empty): krkn's default config ships one, and krkn skips
    it. An entry with any value but no url is an error."""
    s.reject_unknown(_HTTP_KEYS)
    if isinstance(s.data, dict) and all(v is None or v == "" for v in s.data.values()):
        return None
    url = s.string("url", required=True)
    if not re.match(r"^https?://[^\s/]+", url):
        raise s.error("url", f"expected an http:// or https:// URL, got {shown_url(url)!r}")
    return HttpCheck(
        # The name is printed everywhere (console, stdout, report, audit log): the URL as shown,
        # and any URL inside a given name likewise.
        name=redact_urls(s.string("name") or url),
        url=url,
        bearer_token=_secret(s, "bearer_token", s.string("bearer_token")),
        auth=_auth(s),
        verify=s.boolean("verify_url", True),
        abort=s.boolean("exit_on_failure", False),
        timeout=s.number("timeout", DEFAULT_HTTP_TIMEOUT, above=0, maximum=60),
    )


def _auth(s: Section) -> tuple[str, str] | None:
    """krkn splits ``auth`` on a comma; its docs show ``("user","password")``: take both."""
    raw = s.raw("auth")
    if raw is None:
        return None
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
        return _secret(s, "auth", raw[0]), _secret(s, "auth", raw[1])
    if not isinstance(raw, str):
        raise s.error("auth", f"expected \"user,password\", got {describe(raw)}")
    text = raw.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    parts = [p.strip().strip("'\"") for p in text.split(",", 1)]
    if len(parts) != 2 or not parts[0]:
        raise s.error("auth", "expected \"user,password\"")
    return _secret(s, "auth", parts[0]), _secret(s, "auth", parts[1])


def _secret(s: Section, key: str, value: str | None) -> str | None:
    """A credential goes into a header: a line break there is refused here, by name, rather than
    by http.client in a message that quotes the value."""
    if value is not None and re.search(r"[\x00-\x1f\x7f]", value):
        raise s.error(key, "holds a control character (a line break?); not shown")
    return value


def _native(s: Section) -> Check:
    kind = s.choice("type", _NATIVE_TYPES)
    s.reject_unknown(_PODS_KEYS if kind == "pods_ready" else _DEPLOYMENT_KEYS)
    namespace = s.string("namespace", required=True)
    abort = s.boolean("abort", False)
    if kind == "deployment_available":
        deployment = s.string("deployment", required=True)
        return DeploymentCheck(s.string("name") or f"deployment {namespace}/{deployment}", namespace, deployment, abort)
    selector = s.string("selector", required=True)
    for term in selector.split(","):
        if not _SELECTOR_TERM.match(term):
            raise s.error("selector", f"not a label selector: {selector!r}")
    count, percent = _min_ready(s)
    return PodsReadyCheck(s.string("name") or f"pods {namespace}/{selector}", namespace, selector, count, percent, abort)


def _min_ready(s: Section) -> tuple[int | None, float | None]:
    raw = s.raw("min_ready", blank_is_absent=False)
    if raw is None:
        raise s.error("min_ready", "is required (a count such as 2, or a share such as \"60%\")")
    if isinstance(raw, str) and raw.strip().endswith("%"):
        try:
            percent = float(raw.strip()[:-1])
        except ValueError:
            raise s.error("min_ready", f"expected a share such as \"60%\", got {raw!r}") from None
        if not 0 < percent <= 100:
            raise s.error("min_ready", f"a share must be above 0% and at most 100%, got {raw!r}")
        return None, percent
    return s.integer("min_ready", minimum=1), None


def load_checks(path: str | Path) -> ChecksConfig:
    from ..yamlio import load_yaml_file

    return parse_checks(Section(load_yaml_file(Path(path), what="config"), path, what="a mapping at the top level"))
