"""Statuses are StrEnums: the strings on disk (reports, failure records, audit lines, journal
labels) are the ones they always were. This pins them: renaming a member's value is a format
change, not a refactor."""

import dataclasses
import json

from krkn_tui.events import RunFinished
from krkn_tui.statuses import JournalState, RunStatus, ScenarioStatus, StepStatus, VersionStatus


def test_every_status_keeps_its_string():
    assert [s.value for s in StepStatus] == ["executed", "failed", "skipped", "refused", "would-run"]
    assert [s.value for s in VersionStatus] == ["pending", "executed", "failed", "archived"]
    assert [s.value for s in JournalState] == ["pending", "executed", "partial", "operator", "failed", "refused",
                                              "archived"]
    assert [s.value for s in ScenarioStatus] == ["passed", "failed", "interrupted", "error", "skipped"]
    assert [s.value for s in RunStatus] == ["passed", "failed", "interrupted", "aborted", "refused"]


def test_a_status_writes_formats_and_compares_as_its_plain_string():
    for status in (*StepStatus, *VersionStatus, *JournalState, *ScenarioStatus, *RunStatus):
        assert json.dumps({"status": status}) == json.dumps({"status": status.value})
        assert f"{status}" == str(status) == f"{status.value}" and f"{status:<12}" == f"{status.value:<12}"
        assert status == status.value and hash(status) == hash(status.value)
    event = RunFinished(RunStatus.ABORTED, report=None)
    assert json.dumps(event.record()) == json.dumps(dataclasses.replace(event, status="aborted").record())
