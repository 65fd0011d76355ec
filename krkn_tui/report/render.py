"""A run report as Markdown or as one self-contained HTML file (inline CSS and SVG, no script,
no fetch of anything), from the run's JSON report.

Sections: summary and cluster, the abort (which check, when, what it saw, how long until rolled
back), steady-state checks and their history, blast radius, scenarios with per-pod recovery,
rollback steps, and the timeline (scenarios, pod events, check transitions, rollback steps on one
time axis). Every string from the report goes through `load.text` and, in HTML, `html.escape`.
"""

from __future__ import annotations

import html
import time
from typing import Any

from ..checks.urls import redact_urls
from . import verdicts
from .load import items, mapping, number, text

LANES = ("scenario", "check", "pod", "rollback", "run")


# -- shared reading ---------------------------------------------------------------------------

def _clock(at: float | None) -> str:
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + f".{int((at % 1) * 1000):03d} UTC"


def _offset(at: float | None, origin: float | None) -> str:
    return "-" if at is None or origin is None else f"+{at - origin:.1f}s"


def _secs(value: Any) -> str:
    n = number(value)
    return "-" if n is None else f"{n:.2f}s" if n < 10 else f"{n:.1f}s"


def _ms(value: Any) -> str:
    n = number(value)
    return "-" if n is None else f"{n * 1000:.0f} ms"


def _cluster(report: dict) -> str:
    c = mapping(report.get("cluster"))
    if not c:
        return "unknown"
    uid = text(c.get("kube_system_uid"))
    parts = [text(c.get("context")) or "?", text(c.get("server")) or "?"]
    return f"{parts[0]} ({parts[1]}" + (f", kube-system uid {uid})" if uid else ")")


def summary_rows(report: dict) -> list[tuple[str, str]]:
    started, finished = number(report.get("started")), number(report.get("finished"))
    rows = [("Run", text(report.get("run_id"))), ("Status", text(report.get("status")) or "?"),
            ("Cluster", _cluster(report)), ("Config", text(report.get("config"))),
            ("Started", _clock(started)), ("Finished", _clock(finished)),
            ("Duration", _secs(finished - started) if started is not None and finished is not None else "-")]
    if report.get("dry_run") is True:
        rows.append(("Dry run", "yes: nothing was changed"))
    return rows


def abort_rows(report: dict) -> list[tuple[str, str]]:
    a = mapping(report.get("abort"))
    if not a:
        return []
    return [("Check", _shown(a.get("check"))), ("Failed at", _clock(number(a.get("at")))),
            ("It saw", _shown(a.get("seen"))), ("Run stopped and rolled back at", _clock(number(a.get("rolled_back_at")))),
            ("Red to rolled back", _secs(a.get("seconds_to_rolled_back")))]


VERDICT_HEAD = verdicts.HEAD


def verdict_rows(report: dict) -> list[list[str]]:
    """krkn's Prometheus and cerberus verdicts (the report's `monitoring` record): each scenario
    file's, headed by its name and score, then the whole run's (report/verdicts.py reads them)."""
    rows = []
    for group in verdicts.verdict_groups(report.get("monitoring")):
        if group.title != verdicts.WHOLE_RUN:
            rows.append(group.head())
        rows += [row.cells() for row in group.rows]
    return rows


def _shown(value: Any) -> str:
    """A check's name, description or probe line: URLs without their credentials, even in a
    report written before names were shown that way (the rule is the checks' own)."""
    return redact_urls(text(value))


CHECK_HEAD = ["check", "what", "aborts", "state", "probes", "failures", "last latency"]
HISTORY_HEAD = ["check", "at", "phase", "state", "saw"]


def check_rows(report: dict) -> list[list[str]]:
    return [[_shown(c.get("name")), _shown(c.get("what")), "yes" if c.get("abort") is True else "no",
             text(c.get("state")), text(c.get("probes")), text(c.get("failures")), _ms(c.get("last_latency"))]
            for c in _checks(report)]


def history_rows(report: dict) -> list[list[str]]:
    origin = number(report.get("started"))
    return [[_shown(c.get("name")), _offset(number(t.get("at")), origin), text(t.get("phase")), text(t.get("state")),
             _shown(t.get("seen"))] for c in _checks(report) for t in items(c.get("transitions"))]


def _checks(report: dict) -> list[dict]:
    return items(mapping(report.get("checks")).get("checks"))


def recovery_rows(report: dict) -> list[list[str]]:
    out = []
    for s in items(report.get("scenarios")):
        for p in items(mapping(s.get("details")).get("pods")):
            out.append([text(s.get("id")), f"{text(p.get('namespace'))}/{text(p.get('name'))}",
                        text(p.get("replacement")) or "-", _secs(p.get("rescheduling_seconds")),
                        _secs(p.get("readiness_seconds"))])
    return out


def timeline(report: dict) -> list[dict]:
    out = []
    for e in items(report.get("timeline")):
        at = number(e.get("at"))
        if at is None:
            continue
        lane = text(e.get("lane"))
        said = text(e.get("text"), 300)
        out.append({"at": at, "lane": lane if lane in LANES else "run", "text": _shown(said) if lane == "check" else said,
                    "tone": text(e.get("tone")) if e.get("tone") in ("good", "bad", "info") else "info"})
    return sorted(out, key=lambda e: e["at"])


# -- Markdown ---------------------------------------------------------------------------------

# Backslash-escaped (CommonMark escapes any ASCII punctuation): a report's text must never
# become a link or an image (``[x](url)``, ``![x](url)``, fetched when the Markdown is viewed),
# emphasis, code or a table cell break (``_`` is left: inside a word, as in scenario types, it is
# no emphasis). ``<`` becomes an entity: no HTML, no autolink.
_MD_ESCAPED = str.maketrans({c: "\\" + c for c in "\\`*~[]()!|&"} | {"<": "&lt;"})


def _md(value: str) -> str:
    return value.translate(_MD_ESCAPED)


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(_md(c) for c in r) + " |" for r in rows), ""]


def render_markdown(report: dict) -> str:
    origin = number(report.get("started"))
    lines = [f"# Chaos run {_md(text(report.get('run_id')))}", ""]
    lines += _md_table(["", ""], [list(r) for r in summary_rows(report)])
    if abort_rows(report):
        lines += ["## Stopped by a check", ""] + _md_table(["", ""], [list(r) for r in abort_rows(report)])
    if verdict_rows(report):
        lines += ["## Prometheus and cerberus verdicts", ""] + _md_table(VERDICT_HEAD, verdict_rows(report))
    lines += ["## Steady-state checks", ""] + _md_table(CHECK_HEAD, check_rows(report))
    history = history_rows(report)
    if history:
        lines += ["Check history:", ""] + _md_table(HISTORY_HEAD, history)
    preview = items(report.get("preview"))
    if preview:
        lines += ["## Blast radius", ""]
        for p in preview:
            problem = text(p.get("problem"))
            lines.append(f"- **{_md(text(p.get('scenario_type')))} \\[{_md(text(p.get('id')))}\\]**"
                         + (f": fails before any change: {_md(problem)}" if problem else ""))
            for t in items(p.get("targets")):
                names = [text(n) for n in t.get("names", []) if isinstance(n, str)][:5]
                lines.append(f"  - {_md(text(t.get('count')))} {_md(text(t.get('kind')))}"
                             f" ({_md(', '.join(names))}): {_md(text(t.get('action')))}")
        lines.append("")
    lines += ["## Scenarios", ""]
    lines += _md_table(["#", "type", "id", "status", "time", "message"], [
        [text(s.get("index")), text(s.get("scenario_type")), text(s.get("id")), text(s.get("status")),
         _secs(s.get("seconds")), text(s.get("message"))] for s in items(report.get("scenarios"))])
    rec = recovery_rows(report)
    if rec:
        lines += ["Recovery per killed pod (both from the deletion):", ""]
        lines += _md_table(["scenario", "pod", "replacement", "rescheduled", "Ready"], rec)
    lines += ["## Rollback steps", ""]
    lines += _md_table(["file", "during", "status", "time", "error"], [
        [text(r.get("file")).rsplit("/", 1)[-1], text(r.get("during")), text(r.get("status")), _secs(r.get("seconds")),
         text(r.get("error"))] for r in items(report.get("rollback"))])
    lines += ["## Timeline", ""]
    lines += _md_table(["at", "lane", "what"], [[_offset(e["at"], origin), e["lane"], e["text"]]
                                               for e in timeline(report)])
    return "\n".join(lines).rstrip() + "\n"


# -- HTML -------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#1b1f24;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5em 0 1em;width:100%}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.passed,.passing,.executed,.good{color:#1a7f37}.failed,.failing,.error,.refused,.bad,.aborted,.refused_start{color:#cf222e}
.status{font-weight:bold}.muted{color:#57606a}svg text{font:11px sans-serif}code{font-size:12px}
"""


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _html_table(head: list[str], rows: list[list[str]], classes: list[int] | None = None) -> str:
    """`classes`: column indexes whose value is also the cell's CSS class (status words)."""
    if not rows:
        return '<p class="muted">(none)</p>'
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            css = f' class="{_e(c.replace(" ", "_"))}"' if classes and i in classes and c.isidentifier() else ""
            cells.append(f"<td{css}>{_e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table>"


def _svg_timeline(report: dict, events: list[dict]) -> str:
    """Lanes on one time axis: scenario spans, check states, pod events, rollback steps."""
    origin, end = number(report.get("started")), number(report.get("finished"))
    ats = [e["at"] for e in events]
    if origin is None:
        origin = min(ats, default=None)
    if origin is None:
        return ""
    end = max([end or origin, *ats, origin + 1])
    width, left, lane_h = 1000, 90, 26
    scale = (width - left - 10) / (end - origin)
    x = lambda t: left + (t - origin) * scale  # noqa: E731
    rows = ["scenario", "check", "pod", "rollback"]
    h = lane_h * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {h}" role="img" '
             f'aria-label="timeline">']
    for i, lane in enumerate(rows):
        y = 10 + i * lane_h
        parts.append(f'<text x="4" y="{y + 15}">{lane}s</text><line x1="{left}" y1="{y + lane_h - 2}" '
                     f'x2="{width - 10}" y2="{y + lane_h - 2}" stroke="#eee"/>')
    for s in items(report.get("scenarios")):  # spans: start to end
        st, secs = number(s.get("started")), number(s.get("seconds"))
        if st is None or secs is None:
            continue
        color = "#2da44e" if s.get("status") == "passed" else "#cf222e"
        parts.append(f'<rect x="{x(st):.1f}" y="12" width="{max(2.0, secs * scale):.1f}" height="18" fill="{color}" '
                     f'opacity=".75"><title>{_e(text(s.get("id")))}: {_e(text(s.get("status")))}</title></rect>')
    for e in events:
        if e["lane"] not in rows:
            continue
        y = 10 + rows.index(e["lane"]) * lane_h
        color = {"good": "#2da44e", "bad": "#cf222e"}.get(e["tone"], "#6e7781")
        parts.append(f'<rect x="{x(e["at"]) - 1:.1f}" y="{y + 3}" width="3" height="18" fill="{color}">'
                     f'<title>{_e(_offset(e["at"], origin))} {_e(e["text"])}</title></rect>')
    for k in range(6):
        t = origin + (end - origin) * k / 5
        parts.append(f'<text x="{x(t) - 10:.1f}" y="{h - 4}" fill="#57606a">+{t - origin:.0f}s</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict) -> str:
    origin = number(report.get("started"))
    run = text(report.get("run_id"))
    status = text(report.get("status")) or "?"
    body = [f"<h1>Chaos run <code>{_e(run)}</code>: <span class=\"status {_e(status)}\">{_e(status)}</span></h1>",
            "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary_rows(report))
            + "</table>"]
    if abort_rows(report):
        body += ['<h2 class="bad">Stopped by a check</h2>', "<table>" + "".join(
            f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in abort_rows(report)) + "</table>"]
    if verdict_rows(report):
        body += ["<h2>Prometheus and cerberus verdicts</h2>", _html_table(VERDICT_HEAD, verdict_rows(report), [2])]
    body += ["<h2>Steady-state checks</h2>", _html_table(CHECK_HEAD, check_rows(report), [3])]
    history = history_rows(report)
    if history:
        body += ["<h3>Check history</h3>", _html_table(HISTORY_HEAD, history, [3])]
    preview = items(report.get("preview"))
    if preview:
        rows = []
        for p in preview:
            targets = "; ".join(f"{text(t.get('count'))} {text(t.get('kind'))}: {text(t.get('action'))}"
                                for t in items(p.get("targets")))
            rows.append([text(p.get("scenario_type")), text(p.get("id")), targets,
                         "fails: " + text(p.get("problem")) if p.get("problem") else "ok"])
        body += ["<h2>Blast radius</h2>", _html_table(["type", "id", "touches", "preview"], rows)]
    body += ["<h2>Scenarios</h2>", _html_table(["#", "type", "id", "status", "time", "message"], [
        [text(s.get("index")), text(s.get("scenario_type")), text(s.get("id")), text(s.get("status")),
         _secs(s.get("seconds")), text(s.get("message"))] for s in items(report.get("scenarios"))], [3])]
    rec = recovery_rows(report)
    if rec:
        body += ["<h3>Recovery per killed pod (both from the deletion)</h3>",
                 _html_table(["scenario", "pod", "replacement", "rescheduled", "Ready"], rec)]
    body += ["<h2>Rollback steps</h2>", _html_table(["file", "during", "status", "time", "error"], [
        [text(r.get("file")).rsplit("/", 1)[-1], text(r.get("during")), text(r.get("status")), _secs(r.get("seconds")),
         text(r.get("error"))] for r in items(report.get("rollback"))], [2])]
    events = timeline(report)
    body += ["<h2>Timeline</h2>", _svg_timeline(report, events),
             _html_table(["at", "lane", "what"], [[_offset(e["at"], origin), e["lane"], e["text"]] for e in events])]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            # No script and no fetch of anything: the policy says so to the browser too.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>Chaos run {_e(run)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
