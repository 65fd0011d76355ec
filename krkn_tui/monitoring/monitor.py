"""What a run asks Prometheus and cerberus, and when (krkn's order):

- after each scenario file: its SLO window (resiliency), critical alerts now, cerberus's go/no-go;
  a critical alert or a no-go ends the run there (no further scenario starts);
- after the run (its rollback done): the alert profile over the run's window, the SLOs over the
  whole run, the resiliency score;
- during the run, at the checks' interval: each stop condition (`abort: true`, or every critical
  entry with `abort_on_critical`) as an instant query; the first one red stops the run and rolls
  it back, exactly as an aborting check does (the run watch's abort record, exit 3).

The verdict is the report's `monitoring` record; `failure()` says which rule failed the run."""

from __future__ import annotations

import copy
import threading
import time
from typing import Callable

from .. import events as ev
from . import cerberus, verdicts
from .promapi import Prometheus
from .settings import Monitoring


class RunMonitor:
    def __init__(self, settings: Monitoring, emit: Callable[[ev.Event], None], interval: float,
                 on_red: Callable[[dict], None]):
        self.settings = settings
        self.emit = emit
        self.interval = interval
        self.on_red = on_red
        self.prom = Prometheus(settings.prometheus_url, settings.bearer_token) if settings.prometheus_url else None
        self.scenarios: list[dict] = []  # resiliency: one per scenario file whose SLOs were judged
        self.files: list[dict] = []  # every scenario file's verdicts, in run order (the console's rows)
        self.critical: dict | None = None
        self.cerberus: dict | None = None
        self.alerts: list[dict] | None = None
        self.resiliency: dict | None = None
        self.red: dict | None = None
        self.krkn_line: str | None = None  # krkn's KRKN_RESILIENCY_REPORT_JSON line (detailed mode)
        self._run_start = self._run_end = 0.0
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    # -- during -------------------------------------------------------------------------------

    def start(self, run_start: float) -> None:
        self._run_start = int(run_start)  # krkn's windows are whole seconds, truncated
        if self.settings.stops and self.prom is not None:
            self._thread = threading.Thread(target=self._watch, name="promql-stops", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while not self._quit.wait(self.interval):
            for entry in self.settings.stops:
                red, seen = verdicts.live_value(self.prom, entry.expr)
                if red and not self._quit.is_set():
                    self.red = {"check": f"promql {entry.name}", "expr": entry.expr, "at": time.time(),
                                "seen": seen, "what": f"{entry.severity} {entry.expr}"}
                    self.on_red(self.red)
                    return

    def stop_watching(self) -> None:
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout=self.prom.timeout if self.prom else 1)

    # -- after each scenario file ---------------------------------------------------------------

    def after_scenario(self, name: str, start: float, end: float, listed: str = "") -> str | None:
        """The scenario's verdicts (one ScenarioVerdicts event); returns why the run must end
        here, or None. ``listed``: the file as the config lists it (krkn's scenario name)."""
        s, start, end = self.settings, int(start), int(end)
        file: dict = {"name": name, "scenario": listed or name, "window": {"start": start, "end": end}}
        why = None
        if s.slos and s.resiliency_mode != "disabled":
            judged = verdicts.judge_slos(self.prom, s.slos.entries, start, end)
            results = verdicts.slo_results(judged)
            value, breakdown = verdicts.score(s.slos.entries, results)
            scenario = {**file, "score": value, "breakdown": breakdown, "slo_results": results,
                        "slos": verdicts.slo_records(judged)}
            self.scenarios.append(scenario)
            file["resiliency"] = scenario
        if s.check_critical_alerts:
            self.critical = file["critical_alerts"] = {
                **verdicts.critical_alerts(self.prom, self._run_start, time.time()), "after": name}
            if self.critical["fails"]:
                why = "critical alerts firing: " + (self.critical.get("error")
                                                    or ", ".join(a["alertname"] for a in self.critical["post"]))
        if s.cerberus_url and why is None:
            self.cerberus = file["cerberus"] = {
                **cerberus.go_no_go(s.cerberus_url, s.check_application_routes, start, end), "after": name}
            if not self.cerberus["go"]:
                why = f"cerberus no-go: {self.cerberus['reason']}"
        self.files.append(file)
        self.emit(ev.ScenarioVerdicts(name, copy.deepcopy(file), self.record()))
        return why

    # -- after the run ---------------------------------------------------------------------------

    def finish(self, run_end: float) -> None:
        self.stop_watching()
        self._run_end = int(run_end)
        s, start, end = self.settings, self._run_start, self._run_end
        if s.enable_alerts and s.alert_profile:
            self.alerts = verdicts.alert_profile(self.prom, s.alert_profile.entries, start, end)
        if s.slos and s.resiliency_mode != "disabled" and self.scenarios:
            judged = verdicts.judge_slos(self.prom, s.slos.entries, start, end)
            _, full = verdicts.score(s.slos.entries, verdicts.slo_results(judged))
            self.resiliency = {"score": verdicts.run_score([r["score"] for r in self.scenarios]),
                               "passed_slos": full["passed"], "total_slos": full["passed"] + full["failed"],
                               "slo_results": verdicts.slo_results(judged), "slos": verdicts.slo_records(judged),
                               "mode": s.resiliency_mode, "file": s.slos.source}
            if s.resiliency_mode == "detailed":  # krkn prints it there (krknctl reads it); standalone writes a file
                self.krkn_line = verdicts.krkn_report_line(self.scenarios)
        if self.alerts is not None or self.resiliency is not None:
            self.emit(ev.RunVerdicts(self.record(), self.krkn_line))

    def failure(self) -> str | None:
        """`alerts` (exit 2, krkn's), `cerberus` (exit 1) or None; a stop condition is an abort."""
        if (self.critical and self.critical["fails"]) or any(a.get("fails") for a in self.alerts or ()):
            return "alerts"
        if self.cerberus and not self.cerberus["go"]:
            return "cerberus"
        return None

    def record(self) -> dict:
        """The report's `monitoring` record (also mid-run: the verdicts so far), a copy."""
        out: dict = {"prometheus_url": self.settings.prometheus_url, "window": {"start": self._run_start, "end": self._run_end}}
        if self.alerts is not None:
            out["alert_profile"] = {"file": self.settings.alert_profile.source, "alerts": self.alerts}
        if self.critical is not None:
            out["critical_alerts"] = self.critical
        if self.scenarios:
            out["resiliency"] = {**(self.resiliency or {}), "scenarios": self.scenarios}
        if self.cerberus is not None:
            out["cerberus"] = self.cerberus
        if self.files:
            out["scenario_files"] = [{k: v for k, v in f.items() if k != "resiliency"} | (
                {"score": f["resiliency"]["score"]} if "resiliency" in f else {}) for f in self.files]
        if self.red is not None:
            out["stop_condition"] = self.red
        out["failure"] = self.failure()
        return copy.deepcopy(out)
