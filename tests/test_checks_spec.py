"""Steady-state checks as config.yaml declares them: krkn's health_checks and our krkn_tui.checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from krkn_tui.checks.spec import DeploymentCheck, HttpCheck, PodsReadyCheck
from krkn_tui.config import load_config
from krkn_tui.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def load(tmp_path: Path, body: str):
    path = tmp_path / "config.yaml"
    path.write_text("kraken:\n  chaos_scenarios: []\n" + body)
    return load_config(path).checks


def test_krkn_health_checks_read_as_krkn_writes_them(tmp_path):
    checks = load(tmp_path, """
health_checks:
  interval: 5
  config:
    - url: "https://example.com/health"
      bearer_token: "tok"
      auth:
      exit_on_failure: True
    - url: "https://another-service.com/status"
      bearer_token:
      auth: ("admin","secretpassword")
      exit_on_failure: False
      verify_url: false
    - url: http://general-service.com
      bearer_token:
      auth: admin,pw
      exit_on_failure:
""")
    assert checks.interval == 5
    a, b, c = checks.checks
    assert a == HttpCheck("https://example.com/health", "https://example.com/health", "tok", None, True, True)
    assert b.auth == ("admin", "secretpassword") and b.verify is False and b.abort is False
    assert c.auth == ("admin", "pw") and c.abort is False and c.timeout == 3


def test_interval_defaults_to_two_seconds(tmp_path):
    checks = load(tmp_path, "health_checks:\n  config:\n    - url: http://x/\n")
    assert checks.interval == 2 and len(checks.checks) == 1


def test_native_checks(tmp_path):
    checks = load(tmp_path, """
krkn_tui:
  checks:
    - name: frontend-pods
      type: pods_ready
      namespace: krkn-demo
      selector: app=frontend,tier in (web)
      min_ready: 2
      abort: true
    - type: pods_ready
      namespace: krkn-demo
      selector: app=backend
      min_ready: "50%"
    - type: deployment_available
      namespace: krkn-demo
      deployment: backend
""")
    pods, share, dep = checks.checks
    assert pods == PodsReadyCheck("frontend-pods", "krkn-demo", "app=frontend,tier in (web)", 2, None, True)
    assert share.min_percent == 50 and share.min_count is None and share.abort is False
    assert dep == DeploymentCheck("deployment krkn-demo/backend", "krkn-demo", "backend", False)
    assert checks.interval == 2


def test_shipped_config_watches_the_demo_endpoint():
    checks = load_config(ROOT / "config.yaml").checks
    assert any(isinstance(c, HttpCheck) and c.url.startswith("http://127.0.0.1:18098/health") for c in checks.checks)


@pytest.mark.parametrize("body, field, words", [
    ("health_checks:\n  config:\n    - url: ftp://x\n", "health_checks.config[0].url", "http"),
    ("health_checks:\n  config:\n    - bearer_token: x\n", "health_checks.config[0].url", "required"),
    ("health_checks:\n  interval: 0\n  config: []\n", "health_checks.interval", "greater than 0"),
    ("health_checks:\n  type: virt_health_check\n", "health_checks.type", "unsupported"),
    ("health_checks:\n  config:\n    - url: http://x\n      exit_on_falure: true\n", "health_checks.config[0].exit_on_falure",
     "exit_on_failure"),
    ("health_checks:\n  config:\n    - url: http://x\n      auth: 3\n", "health_checks.config[0].auth", "user,password"),
    ("krkn_tui:\n  checks:\n    - type: pods_ready\n      namespace: a\n      selector: app=x\n",
     "krkn_tui.checks[0].min_ready", "required"),
    ("krkn_tui:\n  checks:\n    - type: pods_ready\n      namespace: a\n      selector: app=x\n      min_ready: 120%\n",
     "krkn_tui.checks[0].min_ready", "at most 100%"),
    ("krkn_tui:\n  checks:\n    - type: pods_ready\n      namespace: a\n      selector: 'a=b=c'\n      min_ready: 1\n",
     "krkn_tui.checks[0].selector", "label selector"),
    ("krkn_tui:\n  checks:\n    - type: pod_ready\n", "krkn_tui.checks[0].type", "pods_ready"),
    ("krkn_tui:\n  checks:\n    - type: deployment_available\n      namespace: a\n", "krkn_tui.checks[0].deployment",
     "required"),
    ("krkn_tui:\n  checks:\n    - type: deployment_available\n      namespace: a\n      deployment: b\n      abort: yes-please\n",
     "krkn_tui.checks[0].abort", "true or false"),
    ("krkn_tui:\n  chekcs: []\n", "krkn_tui.chekcs", "checks"),
])
def test_bad_checks_are_one_line_naming_file_and_field(tmp_path, body, field, words):
    with pytest.raises(UserError) as info:
        load(tmp_path, body)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(tmp_path / "config.yaml")), text
    assert f": {field}: " in text and words in text, text


def test_two_checks_with_one_name_are_refused(tmp_path):
    with pytest.raises(UserError, match="two checks are named"):
        load(tmp_path, "health_checks:\n  config:\n    - url: http://x/\n    - url: http://x/\n")


def test_a_check_named_by_a_url_shows_no_credentials_in_the_console_or_on_stdout(tmp_path):
    from krkn_tui import events as ev
    from krkn_tui.commands.render import render
    from krkn_tui.tui.widgets.check_strip import CheckBoard

    [plain, named] = load(tmp_path, """
health_checks:
  config:
    - url: https://ops:hunter2@127.0.0.1:8443/health?token=t0ps3cret#part
    - url: https://127.0.0.1:8443/ready?token=t0ps3cret
      name: "ready (was https://ops:hunter2@127.0.0.1:8443/ready?token=t0ps3cret)"
""").checks
    assert plain.name == "https://127.0.0.1:8443/health" and plain.describe() == "GET https://127.0.0.1:8443/health answers 200"
    assert named.name == "ready (was https://127.0.0.1:8443/ready)"
    # The probe still has the URL it needs; only what is shown is cut.
    assert plain.url.endswith("@127.0.0.1:8443/health?token=t0ps3cret#part") and "hunter2" not in repr(plain)
    shown = [CheckBoard([plain, named]).content().plain,
             render(ev.CheckChanged(plain.name, "failing", "HTTP 503", "during")),
             render(ev.CheckAborted(named.name, "HTTP 503"))]
    for said in shown:
        assert "hunter2" not in said and "t0ps3cret" not in said and "127.0.0.1:8443/" in said, said


def test_a_credential_with_a_line_break_is_refused_without_showing_it(tmp_path):
    for field in ('bearer_token: "s3c\\nret"', 'auth: "admin,s3c\\tret"'):
        with pytest.raises(UserError) as e:
            load(tmp_path, f"health_checks:\n  config:\n    - url: http://127.0.0.1:1/\n      {field}\n")
        assert "control character" in str(e.value) and "s3c" not in str(e.value)
