"""docs/config.md's key table against the config loader: a config naming every key is loaded
with each mapping's reads recorded, and the table names exactly the keys read (a key the loader
stopped reading, or a new one left out of the table, fails here). Keys named anywhere else in the
docs must be read too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from krkn_tui import yamlio
from krkn_tui.config import DEFAULT_PROTECTED_NAMESPACES, load_config
from docs_support import CONFIG_SECTIONS, DOCS, ROOT, doc_files, ticked

CONFIG_DOC = DOCS / "config.md"
_KEY = re.compile(rf"^(?:{'|'.join(CONFIG_SECTIONS)})\.(?!(?:py|yaml|yml|md|json|tmp)$)[a-z_]+$")  # not a file name

# Every key krkn-tui reads, with a value that takes every branch that reads more.
FULL_CONFIG = """
kraken:
  kubeconfig_path: kubeconfig
  auto_rollback: true
  rollback_versions_directory: versions
  protected_namespaces: [shop]
  allow_protected_namespaces: false
  chaos_scenarios:
    - pod_disruption_scenarios: [pod_kill.yaml]
  cluster_journal: true
  cluster_journal_namespace: krkn-rollback
  cluster_journal_lease_duration: 15
  cluster_journal_renew_interval: 5
  cluster_journal_retention: 604800
  cluster_journal_hold_past_end: 3600
  cluster_journal_max_hold: 43200
  wait_duration: 1
  iterations: 1
  daemon_mode: false
  publish_kraken_status: false
  signal_state: RUN
  signal_address: 127.0.0.1
  port: 8081
tunings:
  wait_duration: 1
  iterations: 1
  daemon_mode: false
health_checks:
  type: http_health_check
  interval: 2
  config:
    - url: http://127.0.0.1:1/health
      name: health
      bearer_token: t
      auth: user,password
      verify_url: true
      exit_on_failure: false
      timeout: 3
krkn_tui:
  recovery_timeout: 60
  checks:
    - type: pods_ready
      name: pods
      namespace: demo
      selector: app=web
      min_ready: 2
      abort: true
    - type: deployment_available
      namespace: demo
      deployment: web
performance_monitoring:
  prometheus_url: http://127.0.0.1:1
  prometheus_bearer_token: t
  enable_alerts: true
  alert_profile: alerts.yaml
  check_critical_alerts: true
  abort_on_critical: true
resiliency:
  resiliency_run_mode: standalone
  resiliency_file: alerts.yaml
cerberus:
  cerberus_enabled: true
  cerberus_url: http://127.0.0.1:2
  check_application_routes: true
"""
ALERTS = """
- expr: up == 0
  description: down
  severity: critical
  weight: 2
  abort: true
"""


class _Recording(dict):
    """A config mapping that notes each key asked for by name (iterating to refuse unknown keys
    is not reading one)."""

    def __init__(self, data: dict, path: str, seen: set[str]):
        super().__init__(data)
        self._path, self._seen = path, seen

    def _note(self, key) -> None:
        if isinstance(key, str):
            self._seen.add(re.sub(r"\[\d+\]", "[]", yamlio.join_field(self._path, key)))

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)


@pytest.fixture
def keys_read(tmp_path, monkeypatch) -> set[str]:
    seen: set[str] = set()
    init = yamlio.Section.__init__

    def recording_init(self, data, file, path="", **kw):
        init(self, data, file, path, **kw)
        if isinstance(data, dict) and not isinstance(data, _Recording):
            self.data = _Recording(data, path, seen)

    monkeypatch.setattr(yamlio.Section, "__init__", recording_init)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    (tmp_path / "alerts.yaml").write_text(ALERTS)
    (tmp_path / "config.yaml").write_text(FULL_CONFIG)
    load_config(tmp_path / "config.yaml", check_files=False)
    return seen


def table_keys(text: str) -> dict[str, str]:
    """``section.key`` of every row of the Keys table -> the row (the item keys a list takes are
    named in its row)."""
    table = text[text.index("## Keys"):]
    table = table[:table.index("\n## ")]
    rows = {}
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) > 2:
            for token in ticked(cells[1]):
                if _KEY.match(token):
                    rows[token] = line
    return rows


def test_the_key_table_names_exactly_the_keys_the_loader_reads(keys_read):
    documented = table_keys(CONFIG_DOC.read_text())
    top_level = {k for k in keys_read if k.count(".") == 1 and "[" not in k and _KEY.match(k)}
    assert top_level, keys_read
    assert not top_level - documented.keys(), f"read by the loader, not in docs/config.md: {sorted(top_level - documented.keys())}"
    assert not documented.keys() - top_level, f"in docs/config.md, not read: {sorted(documented.keys() - top_level)}"
    # The keys of a list's items (a check's `url`, `min_ready`...) are named in that list's row.
    for key in sorted(k for k in keys_read if "[]." in k):
        head, item = key.split("[].", 1)
        if head in documented:
            assert f"`{item}`" in documented[head], f"docs/config.md's {head} row does not name {item}"


def test_a_config_key_named_anywhere_in_the_docs_is_read(keys_read):
    for path in doc_files():
        for token in ticked(path.read_text()):
            if _KEY.match(token):
                assert token in keys_read, f"{path.relative_to(ROOT)} names {token}, which the config loader never reads"


def test_the_recording_notices_a_key_the_loader_does_not_read(keys_read):
    assert "kraken.cluster_journal" in keys_read
    assert "kraken.distribution" not in keys_read  # krkn's, accepted and ignored
    assert "health_checks.config[].url" in keys_read


# Where a loaded config holds each key's value: the table's default column is what a config
# without the key gives.
VALUES = {
    "kraken.auto_rollback": lambda c: c.auto_rollback,
    "kraken.rollback_versions_directory": lambda c: c.versions_dir,
    "kraken.protected_namespaces": lambda c: c.protected_namespaces - DEFAULT_PROTECTED_NAMESPACES,
    "kraken.allow_protected_namespaces": lambda c: c.allow_protected,
    "tunings.wait_duration": lambda c: c.wait_duration,
    "tunings.iterations": lambda c: c.iterations,
    "tunings.daemon_mode": lambda c: c.daemon_mode,
    "kraken.cluster_journal": lambda c: c.journal.enabled,
    "kraken.cluster_journal_namespace": lambda c: c.journal.namespace,
    "kraken.cluster_journal_lease_duration": lambda c: c.journal.lease_duration,
    "kraken.cluster_journal_renew_interval": lambda c: c.journal.renew_every,
    "kraken.cluster_journal_retention": lambda c: c.journal.retention,
    "kraken.cluster_journal_hold_past_end": lambda c: c.journal.hold_past_end,
    "kraken.cluster_journal_max_hold": lambda c: c.journal.max_hold,
    "kraken.publish_kraken_status": lambda c: c.signal.publish,
    "kraken.signal_state": lambda c: c.signal.state,
    "kraken.signal_address": lambda c: c.signal.address,
    "kraken.port": lambda c: c.signal.port,
    "health_checks.interval": lambda c: c.checks.interval,
    "health_checks.config": lambda c: c.checks.checks,
    "krkn_tui.checks": lambda c: c.checks.checks,
    "krkn_tui.recovery_timeout": lambda c: c.checks.recovery_timeout,
    "performance_monitoring.enable_alerts": lambda c: c.monitoring.enable_alerts,
    "performance_monitoring.check_critical_alerts": lambda c: c.monitoring.check_critical_alerts,
    "performance_monitoring.abort_on_critical": lambda c: c.monitoring.abort_on_critical,
    "cerberus.cerberus_enabled": lambda c: c.monitoring.cerberus_url is not None,
    "cerberus.check_application_routes": lambda c: c.monitoring.check_application_routes,
}


def shown(value) -> str:
    """A value as the table writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value).replace(str(Path.home()), "~", 1)
    if isinstance(value, (tuple, list, set, frozenset)) and not value:
        return "[]"
    return str(value)


def test_the_key_tables_defaults_are_what_a_config_without_the_key_gives(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios:\n    - pod_disruption_scenarios: [x.yaml]\n")
    config = load_config(tmp_path / "config.yaml", check_files=False)
    rows = table_keys(CONFIG_DOC.read_text())
    assert VALUES.keys() <= rows.keys()
    wrong = []
    for key, value_of in VALUES.items():
        documented = rows[key].split("|")[2].strip().strip("`")
        if documented != shown(value_of(config)):
            wrong.append(f"{key}: docs/config.md says {documented}, the loader gives {shown(value_of(config))}")
    assert not wrong, wrong
