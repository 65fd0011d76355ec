"""krkn's Prometheus and cerberus verdicts as people read them, from the report's `monitoring`
record (monitoring.monitor writes it; a run's events carry it as it grows): one group per
scenario file (its SLOs with query and value, its score, the critical alerts and cerberus's
go/no-go after it), then the whole run (the alert profile, the SLOs over the run, the score,
a stop condition). The report's verdict table and the console's verdicts view both read it here.

The record is read as hostile input (a report file may be tampered with): every field through
`load`'s readers, every string one printable line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .load import items, mapping, text

HEAD = ["verdict", "what", "result", "detail"]


@dataclass(frozen=True)
class VerdictRow:
    verdict: str  # SLO warning, alert critical, critical alerts, cerberus, resiliency score, ...
    what: str  # the SLO's or alert's description, or what was asked
    result: str  # passed, FAILED, fired, fails the run, quiet, go, no-go, a score
    detail: str  # the query and what it returned, the alert's message, cerberus's reason
    bad: bool | None = None  # True: counts against the run; False: passed; None: neither

    def cells(self) -> list[str]:
        return [self.verdict, self.what, self.result, self.detail]


WHOLE_RUN = "the whole run"


@dataclass(frozen=True)
class VerdictGroup:
    title: str  # the scenario file as the config lists it, or WHOLE_RUN
    score: str  # its resiliency score, "" when its SLOs were not judged
    counted: str  # "4 of 5 SLOs passed", or ""
    rows: tuple[VerdictRow, ...]
    window: tuple[float, float] | None = None

    def head(self) -> list[str]:
        """The group's own row in a flat table (the report's)."""
        return ["scenario file", self.title, f"score {self.score}" if self.score else "-", self.counted]


def _slo_rows(judged: dict, over: str) -> list[VerdictRow]:
    """One row per SLO: with its query and highest sample when recorded (older reports hold
    only krkn's name -> passed mapping)."""
    detailed = items(judged.get("slos"))
    if detailed:
        rows = []
        for s in detailed:
            passed = s.get("passed") is True
            weight = text(s.get("weight"))
            rows.append(VerdictRow(f"SLO {text(s.get('severity'))}" + (f" ×{weight}" if weight else ""),
                                   text(s.get("name")), "passed" if passed else "FAILED",
                                   f"{over}: {text(s.get('expr'))} → {text(s.get('seen'))}", not passed))
        return rows
    return [VerdictRow("SLO", text(name), "passed" if passed is True else "failed", over, passed is not True)
            for name, passed in mapping(judged.get("slo_results")).items()]


def _critical_row(crit: dict) -> VerdictRow:
    post = ", ".join(text(mapping(x).get("alertname")) for x in items(crit.get("post")))
    fails = crit.get("fails") is True
    return VerdictRow("critical alerts", 'ALERTS{severity="critical"} firing',
                      "fails the run" if fails else "none", text(crit.get("error")) or post or "-", fails)


def _cerberus_row(cerb: dict) -> VerdictRow:
    go = cerb.get("go") is True
    return VerdictRow("cerberus", "go/no-go after " + text(cerb.get("after")), "go" if go else "no-go",
                      text(cerb.get("reason")) or "-", not go)


def _counted(judged: dict) -> str:
    b = mapping(judged.get("breakdown"))
    passed, failed = b.get("passed"), b.get("failed")
    return f"{text(passed)} of {text(passed + failed)} SLOs passed" if isinstance(passed, int) and isinstance(
        failed, int) else ""


def _window(record: dict) -> tuple[float, float] | None:
    w = mapping(record.get("window"))
    start, end = w.get("start"), w.get("end")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        return float(start), float(end)
    return None


def scenario_groups(monitoring: Any) -> list[VerdictGroup]:
    """One group per scenario file, in run order. The k-th file with a score is the k-th entry
    of the resiliency scenarios (both are written once per file, in order)."""
    m = mapping(monitoring)
    judged = items(mapping(m.get("resiliency")).get("scenarios"))
    files = items(m.get("scenario_files")) or judged  # a report before scenario_files: its SLO windows
    groups, k = [], 0
    for f in files:
        res: dict = {}
        if f.get("score") is not None and k < len(judged):
            res, k = judged[k], k + 1
        rows = _slo_rows(res, "in its window") if res else []
        if mapping(f.get("critical_alerts")):
            rows.append(_critical_row(mapping(f.get("critical_alerts"))))
        if mapping(f.get("cerberus")):
            rows.append(_cerberus_row(mapping(f.get("cerberus"))))
        groups.append(VerdictGroup(text(f.get("scenario")) or text(f.get("name")), text(res.get("score")),
                                   _counted(res), tuple(rows), _window(f)))
    return groups


def run_group(monitoring: Any) -> VerdictGroup | None:
    """The whole run's verdicts: the alert profile, the SLOs over the run and the score, the
    last critical-alerts and cerberus answers (for a report before per-file records), a stop."""
    m = mapping(monitoring)
    rows = []
    for a in items(mapping(m.get("alert_profile")).get("alerts")):
        result = "fails the run" if a.get("fails") is True else "fired" if a.get("fired") is True else (
            "skipped" if a.get("skipped") else "quiet")
        rows.append(VerdictRow("alert " + text(a.get("severity")), text(a.get("description") or a.get("expr")), result,
                               text(a.get("message") or a.get("skipped") or a.get("expr")),
                               True if a.get("fails") is True else None if a.get("fired") is True else False))
    if not items(m.get("scenario_files")):
        if mapping(m.get("critical_alerts")):
            rows.append(_critical_row(mapping(m.get("critical_alerts"))))
        if mapping(m.get("cerberus")):
            rows.append(_cerberus_row(mapping(m.get("cerberus"))))
    res = mapping(m.get("resiliency"))
    rows += _slo_rows(res, "over the run")
    if res.get("score") is not None:
        rows.append(VerdictRow("resiliency score", text(res.get("file")), text(res.get("score")),
                               f"{text(res.get('passed_slos'))} of {text(res.get('total_slos'))} SLOs passed over the run"))
    red = mapping(m.get("stop_condition"))
    if red:
        rows.append(VerdictRow("stop condition", text(red.get("check")), "stopped the run",
                               f"{text(red.get('expr'))} → {text(red.get('seen'))}", True))
    if not rows:
        return None
    counted = f"{text(res.get('passed_slos'))} of {text(res.get('total_slos'))} SLOs passed" if res else ""
    return VerdictGroup(WHOLE_RUN, text(res.get("score")), counted, tuple(rows), _window(m))


def verdict_groups(monitoring: Any) -> list[VerdictGroup]:
    whole = run_group(monitoring)
    return scenario_groups(monitoring) + ([whole] if whole is not None else [])


def summary(monitoring: Any) -> str:
    """One line: the score, and which rule failed the run (monitor.failure's word)."""
    m = mapping(monitoring)
    if not m:
        return "no verdicts: the config has no performance_monitoring, resiliency or cerberus section"
    res = mapping(m.get("resiliency"))
    parts = []
    if res.get("score") is not None:
        parts.append(f"resiliency score {text(res.get('score'))}")
    fired = [a for a in items(mapping(m.get("alert_profile")).get("alerts")) if a.get("fired") is True]
    if mapping(m.get("alert_profile")):
        parts.append(f"{len(fired)} alert(s) fired")
    failure = text(m.get("failure"))
    red = mapping(m.get("stop_condition"))
    parts.append(f"stopped by {text(red.get('check'))}" if red else
                 f"the run fails: {failure}" if failure else "no verdict fails the run")
    return " · ".join(parts)
