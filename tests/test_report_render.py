"""Run reports for people, on plain data: Markdown and self-contained HTML, hostile input kept
as text, and the HTML's structure checked with html.parser (always) and, when Chromium is
installed, rendered by it headless with network access off."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from krkn_tui.cli import main
from krkn_tui.report import Report, render_html, render_markdown
from krkn_tui.report.model import decode

T0 = 1_780_000_000.0


def sample(**over) -> Report:
    return decode(sample_json(**over), "sample")


def sample_json(**over) -> dict:
    report = {
        "run_id": "1780000000000000000-abcd", "config": "/x/config.yaml", "status": "aborted", "dry_run": False,
        "started": T0, "finished": T0 + 20,
        "cluster": {"server": "https://127.0.0.1:6443", "context": "krkn-local", "kube_system_uid": "1a2b3c4d-0000"},
        "scenarios": [{"index": 0, "scenario_type": "pod_disruption_scenarios", "id": "kill-pods", "status": "passed",
                       "message": "1 pods killed and recovered", "seconds": 4.2, "started": T0 + 1,
                       "details": {"pods": [{"namespace": "krkn-demo", "name": "frontend-a", "replacement": "frontend-b",
                                             "rescheduling_seconds": 0.05, "readiness_seconds": 3.1}]}},
                      {"index": 1, "scenario_type": "service_disruption_scenarios", "id": "scale", "status": "interrupted",
                       "message": "stop requested", "seconds": 2.5, "started": T0 + 7}],
        "rollback": [{"file": "/v/run/service_disruption_scenarios_1_abcd.py", "status": "executed", "error": None,
                      "seconds": 0.2, "during": "rollback"}],
        "checks": {"interval": 2, "checks": [{"name": "frontend", "what": "GET http://h/health answers 200", "abort": True,
                                              "state": "passing", "probes": 9, "failures": 1, "last_latency": 0.004,
                                              "transitions": [{"at": T0, "phase": "before", "state": "passing", "seen": "HTTP 200"},
                                                              {"at": T0 + 9, "phase": "during", "state": "failing",
                                                               "seen": "HTTP 503"}]}]},
        "abort": {"check": "frontend", "at": T0 + 9, "seen": "HTTP 503: down", "rolled_back_at": T0 + 9.8,
                  "seconds_to_rolled_back": 0.8},
        "preview": [{"index": 0, "scenario_type": "pod_disruption_scenarios", "id": "kill-pods", "problem": None,
                     "targets": [{"kind": "pods", "count": 3, "names": ["krkn-demo/frontend-a"], "action": "1 deleted"}]}],
        "timeline": [{"at": T0 + 1, "lane": "scenario", "text": "kill-pods started", "tone": "info"},
                     {"at": T0 + 1.2, "lane": "pod", "text": "krkn-demo/frontend-a deleted", "tone": "bad"},
                     {"at": T0 + 9, "lane": "check", "text": "frontend failing: HTTP 503", "tone": "bad"},
                     {"at": T0 + 9.7, "lane": "rollback", "text": "executed service_disruption_scenarios_1_abcd.py",
                      "tone": "good"}],
    }
    report.update(over)
    return report


class Structure(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in ("meta", "br"):
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Structure:
    s = Structure()
    s.feed(html)
    s.close()
    assert not s.open, s.open
    return s


def test_markdown_has_every_section():
    md = render_markdown(sample())
    for heading in ("# Chaos run 1780000000000000000-abcd", "## Stopped by a check", "## Steady-state checks",
                    "## Blast radius", "## Scenarios", "## Rollback steps", "## Timeline"):
        assert heading in md
    assert "| Red to rolled back | 0.80s |" in md
    assert "| kill-pods | krkn-demo/frontend-a | frontend-b | 0.05s | 3.10s |" in md
    assert "krkn-local \\(https://127.0.0.1:6443, kube-system uid 1a2b3c4d-0000\\)" in md
    assert "| +9.0s | during | failing | HTTP 503 |" in md


def test_html_is_well_formed_self_contained_and_complete():
    page = render_html(sample())
    s = parse(page)
    assert s.tags.count("h2") >= 6 and "svg" in s.tags and s.tags.count("table") >= 6
    # Nothing to fetch: no script, no external reference of any kind.
    assert "script" not in s.tags and "link" not in s.tags and "img" not in s.tags
    refs = [v for _t, k, v in s.attrs if k in ("src", "href") or (v and "://" in v and k != "xmlns")]
    assert refs == [], refs
    assert "default-src 'none'" in page
    text = " ".join(s.text)
    assert "frontend" in text and "HTTP 503: down" in text and "0.80s" in text


def test_hostile_strings_stay_text():
    evil = "<script>alert(1)</script>\u202e|`x`\x1b[31m"
    report = sample(run_id="r1", status=evil, config=evil, scenarios=[{"id": evil, "status": evil, "message": evil,
                                                                       "details": {"pods": "not a list"}}],
                    timeline=[{"at": "soon", "lane": evil}, {"at": T0, "lane": evil, "text": evil}],
                    checks={"checks": [{"name": evil, "transitions": [{"at": None}]}]}, abort="nope", cluster=7)
    page = render_html(report)
    s = parse(page)
    assert "script" not in s.tags and "\u202e" not in page and "\x1b" not in page
    md = render_markdown(report)
    assert "<script>" not in md and "\u202e" not in md and "\\|" in md


def test_markdown_escapes_links_images_and_emphasis():
    # Viewed as Markdown, none of this may become a link, an image fetched from a server, emphasis
    # or code: every character that could open one is backslash-escaped.
    evil = "![pixel](http://127.0.0.1:9/track.png) [click](javascript:x) *loud* ~gone~ `code` a|b <b> &amp;"
    md = render_markdown(sample(scenarios=[{"index": 0, "id": evil, "status": "passed", "message": evil}],
                                checks={"checks": [{"name": evil, "what": evil}]}))
    escaped = ("\\!\\[pixel\\]\\(http://127.0.0.1:9/track.png\\) \\[click\\]\\(javascript:x\\) \\*loud\\* "
               "\\~gone\\~ \\`code\\` a\\|b &lt;b> \\&amp;")
    assert md.count(escaped) == 4  # the check's name and description, the scenario's id and message
    for opener in ("](", "![", "*loud*", "`code`", "<b>"):
        assert opener not in md
    # Every remaining punctuation mark of the hostile text is escaped: unescape and compare.
    assert escaped.replace("\\", "").replace("&lt;", "<") == evil


def test_report_shows_check_urls_without_credentials():
    # A report written before check names were shown safely still renders them safely.
    secret_url = "https://ops:hunter2@127.0.0.1:8443/health?token=t0ps3cret#frag"
    report = sample(checks={"checks": [{"name": secret_url, "what": f"GET {secret_url} answers 200",
                                        "transitions": [{"at": T0, "state": "failing",
                                                         "seen": f"redirect to {secret_url} refused"}]}]},
                    abort={"check": secret_url, "at": T0, "seen": secret_url},
                    timeline=[{"at": T0, "lane": "check", "text": f"{secret_url} failing"}])
    for page in (render_markdown(report), render_html(report)):
        assert "hunter2" not in page and "t0ps3cret" not in page and "frag" not in page and "ops" not in page
        assert "127.0.0.1:8443/health" in page


def test_cli_report_writes_md_and_html(tmp_path, capsys):
    versions = tmp_path / "versions"
    reports = tmp_path / "versions-reports"
    reports.mkdir()
    (reports / "1780000000000000000-abcd.json").write_text(json.dumps(sample_json()))
    assert main(["report", "1780000000000000000-ab", "-d", str(versions)]) == 0
    assert "## Timeline" in capsys.readouterr().out
    out = tmp_path / "r.html"
    assert main(["report", "1780000000000000000-abcd", "-d", str(versions), "-o", str(out)]) == 0
    parse(out.read_text())
    assert main(["report", "nope", "-d", str(versions)]) == 2
    assert "no report for run 'nope'" in capsys.readouterr().err
    (reports / "bad.json").write_text("[1, 2")
    assert main(["report", "bad", "-d", str(versions)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not JSON" in err


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install chromium); the "
                    "structure test above still checks the HTML")
def test_html_renders_in_headless_chromium_without_network(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(sample()))
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "Stopped by a check" in dom and "<svg" in dom and "HTTP 503: down" in dom


MONITORING = {
    "prometheus_url": "http://198.18.0.2:9090", "window": {"start": T0, "end": T0 + 20}, "failure": "alerts",
    "alert_profile": {"file": "/x/alerts.yaml", "alerts": [
        {"description": "frontend down", "expr": "absent(up)", "severity": "critical", "fired": True,
         "message": "frontend down", "fails": True},
        {"description": "slow", "expr": "p99 > 1", "severity": "warning", "fired": False, "message": None,
         "fails": False}]},
    "critical_alerts": {"during": [], "post": [{"alertname": "KrknDemoFrontendDown"}], "fails": True},
    "resiliency": {"score": 55, "passed_slos": 1, "total_slos": 2, "file": "/x/alerts.yaml",
                   "slo_results": {"frontend down": False, "slow": True}, "scenarios": []},
    "cerberus": {"go": False, "reason": "cerberus said 'False'", "after": "scale.yaml"},
}


def test_prometheus_and_cerberus_verdicts_are_shown():
    md = render_markdown(sample(monitoring=MONITORING))
    assert "## Prometheus and cerberus verdicts" in md
    assert "| alert critical | frontend down | fails the run | frontend down |" in md
    assert "| SLO | slow | passed | over the run |" in md
    assert "| resiliency score | /x/alerts.yaml | 55 | 1 of 2 SLOs passed over the run |" in md
    assert "| critical alerts |" in md and "KrknDemoFrontendDown" in md and "| cerberus |" in md
    assert "Prometheus and cerberus" not in render_markdown(sample())  # no such record: no section
    page = render_html(sample(monitoring={**MONITORING, "resiliency": {"slo_results": ["<b>x</b>"], "score": "<i>"}}))
    s = parse(page)
    assert "b" not in s.tags and "i" not in s.tags and "fails the run" in " ".join(s.text)
