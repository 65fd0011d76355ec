"""krkn's verdicts on Prometheus data, rule for rule (krkn/prometheus/client.py, collector.py,
krkn/resiliency/score.py and resiliency.py, krkn-lib's KrknPrometheus.process_alert):

- Alert profile, over the run's window after the run: an entry with exactly krkn's three keys
  fires when its range query returns any series, or when the query fails; a fired `error` or
  `critical` entry fails the run (exit 2).
- Critical alerts after each scenario: `ALERTS{severity="critical"}` now (and, for the report,
  during the run); one firing now fails the run (exit 2) and no further scenario starts.
- SLOs, per scenario window and over the whole run: a query with no data passes, a failing query
  fails, a sample above 0 fails (a range query), an instant value must be 0. Score: weights 3 for
  critical and 1 for anything else unless the entry gives `weight`; per scenario
  int(100 x kept points / total points), 0 when nothing was evaluated; the run's score the
  weighted (1 each) mean of the scenarios', truncated to an integer.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass
from typing import Iterable

from .promapi import Prometheus, QueryError, sample_value
from .settings import ProfileEntry

CRITICAL_ALERTS = 'ALERTS{severity="critical"}'
KRKN_REPORT_PREFIX = "KRKN_RESILIENCY_REPORT_JSON:"  # krkn's stdout line in `detailed` mode (krknctl reads it)
DEFAULT_WEIGHTS = {"critical": 3, "warning": 1}
FAILING_SEVERITIES = ("error", "critical")


def describe(description: str, record: dict) -> str:
    """krkn-lib's parse_metric: `{{$labels.x}}` from the first series' labels, `{{$value}}` its
    first value."""
    metric = record.get("metric") if isinstance(record.get("metric"), dict) else {}
    for label in re.findall(r"{{\$labels\.([\w\-_]+)}}", description):
        if isinstance(metric.get(label), str):
            description = description.replace(f"{{{{$labels.{label}}}}}", metric[label])
    values = record.get("values") or []
    if "{{$value}}" in description and values:
        description = description.replace("{{$value}}", values[0][1])
    return description


def alert_profile(prom: Prometheus, entries: Iterable[ProfileEntry], start: float, end: float) -> list[dict]:
    """Every entry krkn reads, with whether it fired; `fails` on the fired error/critical ones."""
    out = []
    for e in entries:
        if not e.krkn_alert:
            out.append({"description": e.description, "expr": e.expr, "severity": e.severity, "fired": False,
                        "skipped": "krkn reads only entries with exactly expr, description and severity"})
            continue
        try:
            records = prom.query_range(e.expr, start, end)
            message = describe(e.description or "", records[0]) if records else None
        except QueryError as exc:
            message = f"query failed: {exc}"  # krkn-lib logs the error, and the alert counts as fired
        fired = message is not None
        out.append({"description": e.description, "expr": e.expr, "severity": e.severity, "fired": fired,
                    "message": message, "fails": fired and e.severity in FAILING_SEVERITIES})
    return out


def critical_alerts(prom: Prometheus, run_start: float, now: float) -> dict:
    """krkn's check_critical_alerts after a scenario: during the run (reported) and now (fails)."""
    def names(records: list[dict]) -> list[dict]:
        return [{k: r.get("metric", {}).get(k, "none") for k in ("alertname", "alertstate", "namespace", "severity")}
                for r in records if isinstance(r.get("metric"), dict)]

    try:
        during = names(prom.query_range(CRITICAL_ALERTS, run_start, now))
        post = names(prom.query(CRITICAL_ALERTS))
    except QueryError as exc:
        # krkn raises out of the run here; krkn-tui says so and fails the check instead.
        return {"during": [], "post": [], "error": str(exc), "fails": True}
    return {"during": during, "post": post, "fails": bool(post)}


def slo_passed(records: list[dict]) -> bool | None:
    """krkn's collector.slo_passed: None when there is nothing to judge."""
    if not records:
        return None
    has_samples = False
    for series in records:
        if "values" in series:
            has_samples = True
            for _ts, val in series["values"]:
                value = sample_value(val)
                if value is not None and value > 0:
                    return False
        elif "value" in series:
            has_samples = True
            value = sample_value(series["value"][1])
            return value == 0 if value is not None else False
    return None if not has_samples else True


@dataclass(frozen=True)
class SloVerdict:
    """One SLO over one window: krkn's pass/fail, and what decided it (for people)."""

    name: str
    expr: str
    severity: str
    weight: float
    passed: bool
    seen: str  # the highest sample and its labels, "no data", or the query's error


def judge_slos(prom: Prometheus, slos: Iterable[ProfileEntry], start: float, end: float) -> list[SloVerdict]:
    """Every SLO entry judged by krkn's rules (no data passes, a failed query fails)."""
    out = []
    for slo in slos:
        try:
            records = prom.query_range(slo.expr, start, end)
        except QueryError as exc:
            out.append(SloVerdict(slo.name, slo.expr, slo.severity, slo_weight(slo), False, f"query failed: {exc}"))
            continue
        passed = slo_passed(records)
        out.append(SloVerdict(slo.name, slo.expr, slo.severity, slo_weight(slo), True if passed is None else passed,
                              highest_sample(records)))
    return out


def slo_results(judged: Iterable[SloVerdict]) -> dict[str, bool]:
    """krkn's name -> passed mapping; a later entry of the same name wins, as in krkn."""
    return {v.name: v.passed for v in judged}


def evaluate_slos(prom: Prometheus, slos: Iterable[ProfileEntry], start: float, end: float) -> dict[str, bool]:
    """name -> passed (no data passes, a failed query fails); a later entry of the same name wins."""
    return slo_results(judge_slos(prom, slos, start, end))


def highest_sample(records: list[dict]) -> str:
    """The highest sample of a query's answer with its series' labels: what a person wants to see
    beside an SLO's verdict (above 0 fails a range query)."""
    best: tuple[float, dict] | None = None
    for series in records:
        samples = series.get("values") or ([series["value"]] if "value" in series else [])
        for _ts, val in samples:
            value = sample_value(val)
            if value is not None and value == value and (best is None or value > best[0]):  # NaN is no sample
                best = (value, series.get("metric") or {})
    if best is None:
        return "no data"
    labels = ",".join(f"{k}={v}" for k, v in sorted(best[1].items()) if k != "__name__")
    return f"max {best[0]:g}" + (f" {{{labels}}}" if labels else "")


def slo_records(judged: Iterable[SloVerdict]) -> list[dict]:
    return [asdict(v) for v in judged]


def slo_weight(slo: ProfileEntry) -> float:
    if slo.weight is not None:
        return slo.weight
    return DEFAULT_WEIGHTS.get(slo.severity, DEFAULT_WEIGHTS["warning"])


def score(slos: Iterable[ProfileEntry], results: dict[str, bool]) -> tuple[int, dict]:
    """krkn's calculate_resiliency_score (no health-check SLOs: krkn passes none)."""
    by_name = {s.name: s for s in slos}  # krkn keys its definitions by name: the last one wins
    judged = [(by_name[name], passed) for name, passed in results.items() if name in by_name]
    total = sum(slo_weight(s) for s, _ in judged)
    lost = sum(slo_weight(s) for s, passed in judged if not passed)
    value = 0 if total == 0 else int(((total - lost) / total) * 100)
    return value, {"total_points": total, "points_lost": lost,
                   "passed": sum(1 for _, p in judged if p), "failed": sum(1 for _, p in judged if not p)}


def run_score(scenario_scores: list[int]) -> int | None:
    """krkn's finalize_report: the mean of the scenarios' scores (each weight 1), truncated."""
    if not scenario_scores:
        return None
    return int(sum(scenario_scores) / len(scenario_scores))


def live_value(prom: Prometheus, expr: str) -> tuple[bool, str]:
    """A stop condition now: red when the instant query returns a sample above 0 (the SLO rule
    read live); returns (red, what it saw)."""
    try:
        records = prom.query(expr)
    except QueryError as exc:
        return False, f"query failed: {exc}"  # no verdict from a missing answer: the run goes on
    for r in records:
        value = sample_value((r.get("value") or [None, None])[1])
        if value is not None and value > 0:
            labels = ",".join(f"{k}={v}" for k, v in sorted(r.get("metric", {}).items()))
            return True, f"{value:g}" + (f" {{{labels}}}" if labels else "")
    return False, "no sample above 0"


# -- krkn's resiliency report (krkn/resiliency/resiliency.py) ----------------------------------------

def _krkn_time(at: float) -> str:
    """krkn's window time: datetime.fromtimestamp(int(ts)).isoformat(), local and naive."""
    return datetime.datetime.fromtimestamp(int(at)).isoformat()


def krkn_detailed_report(scenarios: Iterable[dict]) -> dict:
    """krkn's get_detailed_report() from the monitor's per-scenario records: one entry per
    scenario file (named as the config lists it, krkn's telemetry `scenario`), weight 1, no
    health-check SLOs (krkn passes none)."""
    return {"scenarios": [{
        "name": s.get("scenario") or s["name"],
        "window": {"start": _krkn_time(s["window"]["start"]), "end": _krkn_time(s["window"]["end"])},
        "score": s["score"],
        "weight": 1,
        "breakdown": s["breakdown"],
        "slo_results": s["slo_results"],
        "health_check_results": {},
    } for s in scenarios]}


def krkn_report_line(scenarios: Iterable[dict]) -> str:
    """The line krkn prints on stdout in `detailed` mode (json.dumps with its default separators)."""
    return KRKN_REPORT_PREFIX + json.dumps(krkn_detailed_report(scenarios))
