"""krkn's `KRKN_RESILIENCY_REPORT_JSON:` line (resiliency_run_mode: detailed), byte for byte as
krkn's own finalize_and_save prints it (tests/data/krkn_src with krkn-lib, in the krkn-lib venv),
both reading the same Prometheus answers: an HTTP server speaking Prometheus's query API with
fixed series per query, so the SLO verdicts, breakdowns, weights and windows are known. The
line on a real Prometheus is compared in tests/test_monitoring_cluster.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from krkn_tui import events as ev
from krkn_tui.commands.render import krkn_stdout
from krkn_tui.monitoring import verdicts
from krkn_tui.monitoring.monitor import RunMonitor
from krkn_tui.monitoring.settings import Monitoring, load_profile
from prometheus_support import PROFILE, T0, prometheus  # noqa: F401 (a fixture)

HERE = Path(__file__).resolve().parent
def ours(url: str, profile: Path, mode: str) -> tuple[RunMonitor, list[ev.Event]]:
    slos = load_profile(str(profile), profile.parent, None, "resiliency.resiliency_file")
    settings = Monitoring(prometheus_url=url, resiliency_mode=mode, slos=slos)
    said: list[ev.Event] = []
    monitor = RunMonitor(settings, said.append, 1.0, lambda _red: None)
    monitor.start(T0)
    monitor.after_scenario("pods.yaml", T0, T0 + 20.7, "scenarios/pods.yaml")
    monitor.after_scenario("scale.yaml", T0 + 25, T0 + 50, "scenarios/scale.yaml")
    monitor.finish(T0 + 60)
    return monitor, said


def test_the_line_is_krkns_own_on_the_same_answers(prometheus, tmp_path, krkn_lib_python):
    profile = tmp_path / "alerts.yaml"
    profile.write_text(PROFILE)
    monitor, said = ours(prometheus, profile, "detailed")
    [run] = [e for e in said if isinstance(e, ev.RunVerdicts)]
    line = krkn_stdout(run)
    assert line is not None and line == monitor.krkn_line and line.startswith("KRKN_RESILIENCY_REPORT_JSON:{")
    detailed = json.loads(line.removeprefix("KRKN_RESILIENCY_REPORT_JSON:"))
    first = detailed["scenarios"][0]
    assert first["name"] == "scenarios/pods.yaml" and first["weight"] == 1
    assert first["slo_results"] == {"frontend answers errors": False, "p99 above one second": True,
                                    "replicas missing": False, "slo_3": True, "a query Prometheus refuses": False}
    assert first["breakdown"] == {"total_points": 8, "points_lost": 6, "passed": 2, "failed": 3}

    request = tmp_path / "request.json"
    request.write_text(json.dumps({
        "url": prometheus, "alert_profile": None, "slo_file": str(profile), "start": T0, "end": T0 + 60,
        "scenarios": [{"name": s["scenario"], "start": s["window"]["start"], "end": s["window"]["end"]}
                      for s in monitor.scenarios]}))
    krkn = subprocess.run([krkn_lib_python, str(HERE / "krkn_verdicts.py"), str(request)],
                          capture_output=True, text=True, timeout=120)
    assert krkn.returncode == 0, krkn.stderr[-3000:]
    theirs = json.loads(krkn.stdout)
    assert theirs["krkn_line"] == line  # the same bytes: keys, order, separators, windows, numbers
    assert theirs["summary"]["resiliency_score"] == monitor.resiliency["score"]


def test_standalone_and_disabled_print_no_line(prometheus, tmp_path):
    profile = tmp_path / "alerts.yaml"
    profile.write_text(PROFILE)
    monitor, said = ours(prometheus, profile, "standalone")
    assert monitor.krkn_line is None and not any(krkn_stdout(e) for e in said)
    assert monitor.resiliency["score"] is not None  # judged all the same


def test_the_shape_on_plain_data():
    scenarios = [{"name": "a.yaml", "scenario": "s/a.yaml", "window": {"start": T0, "end": T0 + 9.9}, "score": 50,
                  "breakdown": {"total_points": 2, "points_lost": 1, "passed": 1, "failed": 1},
                  "slo_results": {"x": True, "y": False}, "slos": []}]
    line = verdicts.krkn_report_line(scenarios)
    doc = json.loads(line.split(":", 1)[1])
    [entry] = doc["scenarios"]
    assert list(entry) == ["name", "window", "score", "weight", "breakdown", "slo_results", "health_check_results"]
    assert entry["name"] == "s/a.yaml" and entry["health_check_results"] == {}
    assert entry["window"]["end"].endswith(":09")  # whole seconds, as krkn's int() of the timestamp
    assert "\n" not in line and "\x1b" not in verdicts.krkn_report_line([{**scenarios[0], "scenario": "a\x1b\n"}])
