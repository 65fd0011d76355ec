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

import re
from typing import Iterable

from .promapi import Prometheus, QueryError, sample_value
from .settings import ProfileEntry

CRITICAL_ALERTS = 'ALERTS{severity="critical"}'
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


def evaluate_slos(prom: Prometheus, slos: Iterable[ProfileEntry], start: float, end: float) -> dict[str, bool]:
    """name -> passed (no data passes, a failed query fails); a later entry of the same name wins."""
    results: dict[str, bool] = {}
    for slo in slos:
        try:
            passed = slo_passed(prom.query_range(slo.expr, start, end))
        except QueryError:
            passed = False
        results[slo.name] = True if passed is None else passed
    return results


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
