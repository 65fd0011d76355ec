"""A run's verdict as JUnit XML, the way krkn writes it (``--junit-testcase``,
``--junit-testcase-path``, ``--junit-testcase-version``), so a CI job can swap one for the other.

krkn (krkn_lib ``get_junit_test_case``) writes ``<path>/junit_krkn_<epoch>.xml``: ``<testsuites>``
holding one ``<testsuite name="chaos-krkn">`` (a ``TestVersion`` property when a version is given)
with one testcase named by the description, failed when the run's exit code is not 0. krkn-tui
writes that same file and that same run testcase, then one testcase per scenario file
(``classname`` the scenario type), whose ``<failure message>`` carries why it failed: a CI page
shows which file broke without opening the log.
"""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import UserError
from .model import ScenarioResult, number, text

SUITE = "chaos-krkn"  # krkn's suite name: dashboards keyed on it read both tools' files
OPTIONS = ("--junit-testcase", "--junit-testcase-path")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")  # lone surrogates from JSON: no XML, no UTF-8


def check_options(testcase: str | None, path: Path | None) -> Path | None:
    """krkn's ``validate_junit_options``: both or neither, the path an existing writable folder.
    Returns the folder (None when JUnit is off); raises UserError naming the option."""
    if path is not None and not testcase:
        raise UserError("set the test case description with --junit-testcase too", field=OPTIONS[1])
    if testcase and path is None:
        raise UserError("set the folder for the JUnit file with --junit-testcase-path too", field=OPTIONS[0])
    if path is None:
        return None
    folder = Path(os.path.normpath(path))
    if not folder.exists():
        raise UserError(f"{folder} does not exist", field=OPTIONS[1])
    if not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder", field=OPTIONS[1])
    if not os.access(folder, os.W_OK):
        raise UserError(f"{folder} is not writable", field=OPTIONS[1])
    return folder


def _xml_text(value: Any, limit: int = 4000) -> str:
    """One printable line (the report loader's rule), and nothing XML 1.0 cannot hold."""
    return _NOT_XML.sub("\ufffd", text(value, limit))


@dataclass
class Case:
    """One scenario file's testcase: every spec and iteration of it folded in."""

    file: str
    scenario_type: str
    seconds: float = 0.0
    statuses: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        statuses = set(self.statuses)
        return "skipped" if statuses == {"skipped"} else "passed" if statuses <= {"passed", "skipped"} else "failed"


def scenario_cases(scenarios: Iterable[ScenarioResult]) -> list[Case]:
    """One case per scenario file, in run order. A file fails when any of its runs did not pass;
    it is skipped when all were skipped."""
    cases: dict[tuple[int | None, str], Case] = {}
    for s in scenarios:
        case = cases.setdefault((s.index, text(s.file)), Case(text(s.file), text(s.scenario_type)))
        status = text(s.status) or "unknown"
        case.statuses.append(status)
        case.seconds += number(s.seconds) or 0.0
        if status not in ("passed", "skipped"):
            label = text(s.id) or case.file
            where = f" (iteration {s.iteration + 1})" if s.iteration else ""
            case.reasons.append(f"{label}{where}: {status}: {text(s.message) or 'no reason given'}")
    return list(cases.values())


def junit_xml(*, description: str, exit_code: int, seconds: float, scenarios: Iterable[ScenarioResult] = (),
              summary: str = "", version: str | None = None, now: float | None = None) -> str:
    """The JUnit document for a run that ended with ``exit_code`` after ``seconds``."""
    cases = scenario_cases(scenarios)
    run_failed = exit_code != 0
    failures = int(run_failed) + sum(c.outcome == "failed" for c in cases)
    skipped = sum(c.outcome == "skipped" for c in cases)
    counts = {"tests": str(1 + len(cases)), "skipped": str(skipped), "errors": "0", "failures": str(failures),
              "time": str(int(seconds))}  # krkn's time is whole seconds
    root = ET.Element("testsuites", counts)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() if now is None else now))
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts, "timestamp": stamp})
    if version:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="TestVersion", value=_xml_text(version, 200))
    desc = _xml_text(description, 500)
    run_case = ET.SubElement(suite, "testcase", name=desc, classname="", time=str(int(seconds)))
    if run_failed:
        ET.SubElement(run_case, "failure", message=f"exit code {exit_code}").text = _xml_text(summary)
    for case in cases:
        el = ET.SubElement(suite, "testcase", name=f"{desc} {Path(case.file).name}".strip(),
                           classname=_xml_text(case.scenario_type), file=_xml_text(case.file), time=f"{case.seconds:.3f}")
        if case.outcome == "failed":
            reason = _xml_text("; ".join(case.reasons), 20000)
            ET.SubElement(el, "failure", message=_xml_text(reason, 1000), type=case.scenario_type).text = reason
        elif case.outcome == "skipped":
            ET.SubElement(el, "skipped", message="not run by krkn-tui")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit_file(folder: Path, document: str, now: float | None = None) -> Path:
    """``<folder>/junit_krkn_<epoch>.xml`` as krkn names it, written atomically (private temp,
    O_EXCL|O_NOFOLLOW, renamed): a CI collector never reads half a file."""
    from ..fsio import write_atomic

    name = f"junit_krkn_{int(time.time() if now is None else now)}.xml"
    try:
        return write_atomic(folder, name, document.encode("utf-8"), mode=0o644)  # a CI collector reads it
    except OSError as e:
        raise UserError(f"cannot write the JUnit file: {e.strerror or e}", file=folder / name) from None
