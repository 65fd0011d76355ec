"""Past runs from the reports folder: one summary row per report, newest first, and two runs side
by side (verdicts per scenario, recovery times, check outcomes).

Every report is hostile input and read by the loader's rules (``load.read_report_bytes``: no
link, no FIFO, size-capped; then ``model.decode``: every field checked for its type).
A report that breaks them is listed as ``unreadable`` with the reason, never fails the listing.
Listing decodes only the fields a row shows (msgspec skips the rest in C), so 1,000 reports list
in a few tens of milliseconds (bench ``history``).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..errors import UserError
from ..records import reports_dir
from .load import read_report_bytes
from .model import Report, ScenarioResult, decode, text


class _ScenarioHead(msgspec.Struct):
    index: Any = None
    file: Any = None
    scenario_type: Any = None
    status: Any = None


class _ResiliencyHead(msgspec.Struct):
    score: Any = None


class _MonitoringHead(msgspec.Struct):
    resiliency: _ResiliencyHead | None = None


class _Head(msgspec.Struct):
    """The fields a history row shows; any type (checked where read), anything else skipped."""

    run_id: Any = None
    status: Any = None
    started: Any = None
    finished: Any = None
    dry_run: Any = None
    cluster: Any = None
    # A list of objects, or the report is read by json.loads (and its rows by items()) instead.
    scenarios: list[_ScenarioHead] | None = None
    monitoring: _MonitoringHead | None = None  # only the resiliency score is shown


_DECODER = msgspec.json.Decoder(_Head)


@dataclass(frozen=True)
class RunRow:
    run_id: str
    status: str  # the run's status, or "unreadable"
    started: float | None = None
    seconds: float | None = None
    scenarios: int = 0  # scenario files
    failed: int = 0  # scenario results that did not pass (skipped ones aside)
    types: tuple[str, ...] = ()
    cluster: str = ""
    dry_run: bool = False
    error: str = ""  # why an unreadable report is
    score: float | None = None  # the resiliency score (krkn's), when the run had SLOs


def _head(path: str) -> Report:
    raw = read_report_bytes(path)
    try:
        head = _DECODER.decode(raw)
        data = {f: getattr(head, f) for f in head.__struct_fields__}
        data["scenarios"] = [msgspec.structs.asdict(s) for s in head.scenarios or ()]
        if head.monitoring is not None:
            data["monitoring"] = {"resiliency": msgspec.structs.asdict(head.monitoring.resiliency)
                                  if head.monitoring.resiliency is not None else None}
    except (msgspec.DecodeError, RecursionError):
        try:  # json.loads takes what msgspec refuses (NaN, Infinity): the report command reads it so
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise UserError(f"not JSON: {e}", file=path) from None
    return decode(data, path, head=True)


def row(report: Report) -> RunRow:
    """The history row of a (decoded, hostile) report."""
    results = report.scenarios
    files = {(s.index, s.file) for s in results}
    types = tuple(dict.fromkeys(text(s.scenario_type, 80) for s in results if s.scenario_type))
    failed = sum(1 for s in results if s.status not in ("passed", "skipped"))
    verdicts = report.verdicts()
    return RunRow(run_id=text(report.run_id, 200), status=text(report.status, 40) or "?",
                  started=report.started, seconds=report.seconds, scenarios=len(files), failed=failed, types=types,
                  cluster=text(report.cluster.context, 200) if report.cluster else "", dry_run=report.dry_run,
                  score=verdicts.score() if verdicts else None)


def report_paths(versions_dir: Path) -> list[str]:
    """The report files of the folder (not read)."""
    folder = reports_dir(versions_dir)
    try:
        return [e.path for e in _scan(folder) if e.name.endswith(".json") and not e.name.startswith(".")]
    except OSError as e:
        raise UserError(f"cannot list: {e.strerror or e}", file=folder) from None


def history(versions_dir: Path, limit: int | None = None, paths: list[str] | None = None) -> list[RunRow]:
    """Every report of the folder (or those of ``paths``), newest first (by the run's start;
    unreadable ones last)."""
    rows = []
    for path in report_paths(versions_dir) if paths is None else paths:
        try:
            rows.append(row(_head(path)))
        except UserError as e:
            rows.append(RunRow(run_id=_stem(path), status="unreadable", error=text(e.message, 300)))
    return newest_first(rows)[:limit] if limit is not None else newest_first(rows)


def named(paths: list[str]) -> list[RunRow]:
    """Rows from the report files' names alone, newest first (no file opened): a report is named
    after its run id, which begins with the run's start in nanoseconds. What a long history
    shows while its reports are read."""
    rows = []
    for path in paths:
        run_id = _stem(path)
        ns = run_id.split("-", 1)[0]
        started = int(ns) / 1e9 if ns.isdigit() and len(ns) <= 20 else None
        rows.append(RunRow(run_id=run_id, status=READING, started=started))
    return newest_first(rows)


def newest_first(rows: list[RunRow]) -> list[RunRow]:
    return sorted(rows, key=lambda r: (r.started is not None, r.started or 0.0, r.run_id), reverse=True)


def _stem(path: str) -> str:
    return text(os.path.basename(path)[:-5], 200)


HEAD = ["started", "verdict", "duration", "score", "scenarios", "run"]
READING = "reading…"  # a row from the file's name, its report not read yet (``named``)


def when(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


def cells(r: RunRow) -> list[str]:
    """A run's row as `history` prints it and the console's history view shows it (HEAD's order)."""
    if r.status == "unreadable":
        return [when(None), "unreadable", "-", "-", "-", r.run_id + f"  ({r.error})"]
    if r.status == READING:
        return [when(r.started) + (" UTC" if r.started is not None else ""), READING, "-", "-", "-", r.run_id]
    scenarios = f"{r.scenarios} ({', '.join(r.types)})" if r.types else str(r.scenarios)
    status = r.status + (" (dry run)" if r.dry_run else "")
    seconds = "-" if r.seconds is None else f"{r.seconds:.1f}s"
    score = "-" if r.score is None else f"{r.score:g}"
    return [when(r.started) + " UTC", status, seconds, score, scenarios, r.run_id]


def _scan(folder: Path):
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return list(entries)


# -- two runs side by side --------------------------------------------------------------------

@dataclass
class Comparison:
    a: RunRow
    b: RunRow
    summary: list[tuple[str, str, str, str]] = field(default_factory=list)  # what, A, B, change
    scenarios: list[tuple[str, str, str, str]] = field(default_factory=list)  # scenario, A, B, change
    recovery: list[tuple[str, str, str, str]] = field(default_factory=list)
    checks: list[tuple[str, str, str, str]] = field(default_factory=list)


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s" if value < 10 else f"{value:.1f}s"


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    d = b - a
    return "same" if abs(d) < 0.005 else f"{'+' if d > 0 else '-'}{_secs(abs(d))}"


def _verdict_change(a: str, b: str) -> str:
    if a == b:
        return "same"
    if a == "passed":
        return "now failing" if b not in ("skipped", "-") else f"now {b}"
    return "now passing" if b == "passed" else f"{a} -> {b}"


def _scenario_key(s: ScenarioResult) -> str:
    where = f" (iteration {s.iteration + 1})" if s.iteration is not None and s.iteration > 0 else ""
    index = "" if s.index is None else s.index
    return f"#{index} {text(s.scenario_type, 80)} {text(s.id, 120)}{where}"


def _scenarios(report: Report) -> dict[str, ScenarioResult]:
    return {_scenario_key(s): s for s in report.scenarios}


def _recovery(report: Report) -> dict[str, tuple[float, float, int]]:
    """Per scenario: the median and the slowest pod's time to Ready from its deletion, and the count."""
    out = {}
    for key, s in _scenarios(report).items():
        ready = [p.readiness_seconds for p in s.recovery() if p.readiness_seconds is not None]
        if ready:
            out[key] = (statistics.median(ready), max(ready), len(ready))
    return out


def _checks(report: Report) -> dict[str, str]:
    out = {}
    for c in report.checks.checks if report.checks is not None else ():
        said = text(c.state, 40) or "?"
        if c.probes is not None:
            said += f" ({c.failures or 0}/{c.probes} probes failed)"
        out[text(c.name, 200)] = said
    verdicts = report.verdicts()
    for name, passed in verdicts.resiliency.slo_results if verdicts and verdicts.resiliency else ():
        out[f"SLO {text(name, 200)}"] = "passed" if passed is True else "failed" if passed is False else "?"
    if report.abort is not None:
        out["(stopped the run)"] = f"{text(report.abort.check, 200)} after {_secs(report.abort.seconds_to_rolled_back)}"
    return out


def compare(a: Report, b: Report) -> Comparison:
    ra, rb = row(a), row(b)
    cmp = Comparison(ra, rb)
    steps = lambda r: sorted({text(s.status, 20) for s in r.rollback})  # noqa: E731
    count = lambda r, st: sum(1 for s in r.rollback if s.status == st)  # noqa: E731
    cmp.summary = [
        ("verdict", ra.status, rb.status, _verdict_change(ra.status, rb.status)),
        ("duration", _secs(ra.seconds), _secs(rb.seconds), _delta(ra.seconds, rb.seconds)),
        ("resiliency score", _shown(ra.score), _shown(rb.score),
         "" if ra.score is None or rb.score is None else "same" if ra.score == rb.score else f"{rb.score - ra.score:+g}"),
        ("scenario files", str(ra.scenarios), str(rb.scenarios), ""),
        ("scenario results not passed", str(ra.failed), str(rb.failed), ""),
        ("rollback steps executed", str(count(a, "executed")), str(count(b, "executed")), ""),
        ("rollback steps not executed", str(sum(count(a, s) for s in steps(a) if s != "executed")),
         str(sum(count(b, s) for s in steps(b) if s != "executed")), ""),
        ("cluster", ra.cluster or "-", rb.cluster or "-", "same" if ra.cluster == rb.cluster else "differs"),
    ]
    sa, sb = _scenarios(a), _scenarios(b)
    for key in dict.fromkeys([*sa, *sb]):
        x, y = sa.get(key), sb.get(key)
        xs, ys = (text(x.status, 40) if x else "") or "-", (text(y.status, 40) if y else "") or "-"
        tx, ty = x.seconds if x else None, y.seconds if y else None
        change = _verdict_change(xs, ys)
        if change == "same" and _delta(tx, ty) not in ("", "same"):
            change = _delta(tx, ty)
        cmp.scenarios.append((key, f"{xs} {_secs(tx)}" if x else "-", f"{ys} {_secs(ty)}" if y else "-", change))
    qa, qb = _recovery(a), _recovery(b)
    for key in dict.fromkeys([*qa, *qb]):
        x, y = qa.get(key), qb.get(key)
        shown = lambda r: "-" if r is None else f"median {_secs(r[0])}, max {_secs(r[1])} ({r[2]} pod{'s' if r[2] != 1 else ''})"  # noqa: E731
        cmp.recovery.append((key, shown(x), shown(y), _delta(x[0] if x else None, y[0] if y else None)))
    ca, cb = _checks(a), _checks(b)
    for key in dict.fromkeys([*ca, *cb]):
        x, y = ca.get(key, "-"), cb.get(key, "-")
        cmp.checks.append((key, x, y, "same" if x == y else "differs"))
    return cmp
