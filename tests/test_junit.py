"""JUnit as krkn writes it: krkn's options and their checks, krkn's file name, suite and run
testcase (compared with krkn-lib's own get_junit_test_case), one testcase per scenario file with
the reason of a failure; read back by a JUnit consumer (junitparser) and checked for structure.
A run stopped by bad input writes a failing file too, as krkn does."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import junitparser
import pytest

from krkn_tui.errors import UserError
from krkn_tui.report.junit import check_options, junit_xml, scenario_cases, write_junit_file
from krkn_tui.report.model import ScenarioResult
from runhelpers import krkn

RESULTS = [ScenarioResult(**r) for r in [
    {"index": 0, "scenario_type": "pod_disruption_scenarios", "file": "/c/pod_kill.yaml", "id": "kill",
     "iteration": 0, "status": "passed", "message": "", "seconds": 2.5},
    {"index": 1, "scenario_type": "service_disruption_scenarios", "file": "/c/scale.yaml", "id": "scale#0",
     "iteration": 0, "status": "passed", "message": "", "seconds": 1.0},
    {"index": 1, "scenario_type": "service_disruption_scenarios", "file": "/c/scale.yaml", "id": "scale#1",
     "iteration": 0, "status": "failed", "message": "backend <not> back & \x1b[31m within 60 s\ud800",
     "seconds": 60.2},
    {"index": 2, "scenario_type": "node_scenarios", "file": "/c/node.yaml", "id": "node.yaml", "iteration": 0,
     "status": "skipped", "message": "not run", "seconds": 0.0},
    {"index": 0, "scenario_type": "pod_disruption_scenarios", "file": "/c/pod_kill.yaml", "id": "kill",
     "iteration": 1, "status": "error", "message": "ApiException: 500", "seconds": 0.1},
]]


def _structure(document: str) -> ET.Element:
    """What JUnit consumers rely on (the Jenkins/Ant schema's shape), checked without a schema."""
    root = ET.fromstring(document.encode("utf-8"))
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = suite.findall("testcase")
        assert set(suite) <= {*cases, *suite.findall("properties")}
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        for case in cases:
            assert case.get("name") is not None and case.get("classname") is not None
            float(case.get("time"))
            assert all(child.tag in ("failure", "skipped") for child in case)
    return root


def test_one_testcase_per_scenario_file_with_the_reason():
    cases = scenario_cases(RESULTS)
    assert [(c.file, c.outcome) for c in cases] == [
        ("/c/pod_kill.yaml", "failed"), ("/c/scale.yaml", "failed"), ("/c/node.yaml", "skipped")]
    assert cases[0].reasons == ["kill (iteration 2): error: ApiException: 500"]
    assert cases[1].seconds == pytest.approx(61.2)

    document = junit_xml(description="[sig-chaos] run", exit_code=1, seconds=63.9, scenarios=RESULTS,
                         summary="run x: failed", version="1.2")
    root = _structure(document)
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("time")) == ("4", "3", "1", "63")
    run_case, pod, scale, node = suite.findall("testcase")
    assert run_case.get("name") == "[sig-chaos] run" and run_case.find("failure").text == "run x: failed"
    assert scale.get("classname") == "service_disruption_scenarios" and scale.get("file") == "/c/scale.yaml"
    message = scale.find("failure").get("message")
    assert message.startswith("scale#1: failed: backend <not> back & [31m within 60 s")
    assert "\x1b" not in document and "\ud800" not in document

    # A JUnit consumer reads the same verdicts.
    parsed = junitparser.JUnitXml.fromstring(document.encode("utf-8"))
    [psuite] = list(parsed)
    outcomes = {c.name: [type(r).__name__ for r in c.result] for c in psuite}
    assert outcomes == {"[sig-chaos] run": ["Failure"], "[sig-chaos] run pod_kill.yaml": ["Failure"],
                        "[sig-chaos] run scale.yaml": ["Failure"], "[sig-chaos] run node.yaml": ["Skipped"]}
    assert psuite.tests == 4 and psuite.failures == 3


def test_a_passed_run_has_no_failure_and_krkns_shape(tmp_path, krkn_lib_python):
    passed = [r for r in RESULTS if r.status == "passed"]
    ours = ET.fromstring(junit_xml(description="[sig-chaos] ok", exit_code=0, seconds=12.7, scenarios=passed,
                                   version="9").encode())
    krkn_xml = subprocess.run([krkn_lib_python, "-c",
                               "from krkn_lib.utils.functions import get_junit_test_case as g;"
                               "print(g(True, 12, 'chaos-krkn', '[sig-chaos] ok', '', '9'))"],
                              capture_output=True, text=True, check=True).stdout
    theirs = ET.fromstring(krkn_xml)
    drop = lambda e: {k: v for k, v in e.attrib.items() if k not in ("tests", "timestamp")}  # noqa: E731
    assert drop(ours) == drop(theirs)
    assert drop(ours.find("testsuite")) == drop(theirs.find("testsuite"))
    assert ours.find("testsuite/properties").attrib == theirs.find("testsuite/properties").attrib
    assert ours.find("testsuite/properties/property").attrib == theirs.find("testsuite/properties/property").attrib
    assert ours.find("testsuite/testcase").attrib == theirs.find("testsuite/testcase").attrib
    assert not list(ours.iter("failure"))
    path = write_junit_file(tmp_path, ET.tostring(ours, encoding="unicode"), now=1_790_000_000.9)
    assert path.name == "junit_krkn_1790000000.xml" and oct(path.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("testcase, path, says", [
    ("x", None, "--junit-testcase: set the folder"),
    (None, "FOLDER", "--junit-testcase-path: set the test case description"),
    ("x", "MISSING", "does not exist"),
    ("x", "FILE", "is a file, not a folder"),
])
def test_krkns_option_checks(tmp_path, testcase, path, says):
    (tmp_path / "FILE").write_text("")
    (tmp_path / "FOLDER").mkdir()
    with pytest.raises(UserError) as err:
        check_options(testcase, tmp_path / path if path else None)
    assert says in str(err.value)
    assert check_options(None, None) is None


def test_bad_input_writes_a_failing_junit_file_and_exits_2(tmp_path):
    out = tmp_path / "junit"
    out.mkdir()
    done = krkn("run", "-c", tmp_path / "missing.yaml", "--junit-testcase", "[sig-chaos] ci", "--junit-testcase-path",
                out)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "missing.yaml" in done.stderr
    [path] = list(out.glob("junit_krkn_*.xml"))
    root = _structure(path.read_text())
    [case] = root.iter("testcase")
    assert case.find("failure").get("message") == "exit code 2" and "missing.yaml" in case.find("failure").text

    done = krkn("run", "-c", tmp_path / "missing.yaml", "--junit-testcase", "x")
    assert done.returncode == 2 and "--junit-testcase-path too" in done.stderr and "Traceback" not in done.stderr
