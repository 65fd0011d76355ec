"""Typed events: every type has a command-line rendering and a console handler, and the audit
log's lines keep the keys they have always had (on plain data)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re

import pytest
from textual.app import App, ComposeResult

from krkn_tui import events as ev
from krkn_tui.commands.render import printed, render
from krkn_tui.records import AUDITED, AuditLog
from krkn_tui.statuses import JournalState, RunStatus, ScenarioStatus, StepStatus
from krkn_tui.tui.widgets.run_events import apply_event
from krkn_tui.tui.widgets.run_panel import EngineEvents, RunPanel


def event_types() -> list[type[ev.Event]]:
    """The concrete event classes of the module, found by looking, not by its own list."""
    return [c for _, c in inspect.getmembers(ev, inspect.isclass)
            if issubclass(c, ev.Event) and c.__module__ == ev.__name__ and c.EVENT]


def sample(cls: type[ev.Event]) -> ev.Event:
    """An instance with a plausible value for every field without a default."""
    by_type = {"str": "x", "int": 1, "float": 1.5, "bool": False,
               **{e.__name__: next(iter(e)) for e in (JournalState, RunStatus, ScenarioStatus, StepStatus)}}
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        values[f.name] = by_type[str(f.type).split(" |")[0]]
    return cls(**values)


ALL = event_types()


def test_the_module_lists_every_type_once():
    assert len(ALL) >= 16
    assert sorted(ALL, key=lambda c: c.__name__) == sorted(ev.EVENT_TYPES, key=lambda c: c.__name__)
    names = [c.EVENT for c in ALL]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_type_has_a_cli_rendering(cls):
    assert render.registry.get(cls) is not None, f"commands/render.py has no rendering for {cls.__name__}"
    line = render(sample(cls))
    assert line is None or (isinstance(line, str) and line.strip())


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_type_has_a_console_handler(cls):
    handlers = apply_event.registry
    assert cls in handlers, f"RunPanel has no handler for {cls.__name__}"


def test_an_unknown_type_is_refused_by_the_cli_and_ignored_by_the_console():
    @dataclasses.dataclass(frozen=True)
    class Unregistered(ev.Event):
        pass

    with pytest.raises(TypeError, match="Unregistered"):
        render(Unregistered())
    assert apply_event.dispatch(Unregistered) is apply_event.registry[object]  # the do-nothing default


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield RunPanel()


async def test_the_console_takes_one_event_of_every_type_as_a_message():
    app = PanelApp()
    async with app.run_test() as pilot:
        panel = app.query_one(RunPanel)
        panel.start([(1, "pod_disruption_scenarios", "pods.yaml")])
        await pilot.pause()
        started = ev.ScenarioStarted(1, "pod_disruption_scenarios", "pods.yaml", "kill", 0)
        in_order = sorted(ALL, key=ev.EVENT_TYPES.index)  # a scenario starts before it finishes
        batch = (ev.RunStarted(1, 1, "v", run_id="r1"), started, *map(sample, in_order),
                 ev.RunFinished("failed"))
        panel.post_message(EngineEvents(batch))
        await pilot.pause()
        assert "run failed (exit 1)" in str(panel.query_one("#run-status").render())
        assert panel.blocks[1].status == "passed"  # the sample ScenarioFinished of index 1
        assert "rollback finished" in "\n".join(panel.run_lines())


def test_cli_lines():
    assert render(ev.RunStarted(2, 1, "/v", True, run_id="r1")) == "run r1: 2 scenario file(s), versions in /v, dry run"
    assert render(ev.RunStarted(2, 1, "/v", journal="krkn", run_id="r1")).endswith(", cluster journal in namespace krkn")
    assert render(ev.Step("t", "f", "half", 0.5)) == "  half (50%)"
    assert render(ev.Waiting(0)) is None and render(ev.Waiting(2)) == "  waiting 2s"
    retry = ev.RollbackRetrying("/v/r/a.py", "HTTPSConnectionPool: [Errno 111] Connection refused", attempt=3,
                                delay=0.8)
    assert render(retry) == "  a.py: API server not available (connection refused); retrying in 0.8s (attempt 3)"
    steps = (ev.StepRecord("a", "executed"), ev.StepRecord("b", "failed", "boom"), ev.StepRecord("c", "skipped"))
    assert render(ev.RollbackRunFinished("stop requested", steps)) == (
        "rollback finished: 1 done, 1 failed, 1 not run here")
    assert render(ev.ClusterChange("cordon_node", "node_scenarios", {"node": "n1"})) == "  changed: cordon_node"


def test_guard_lines():
    assert render(ev.GuardStarted("guard@h/1/a", "krkn-rollback", "kind-x", 30, 5)) == \
        "guard guard@h/1/a: journal krkn-rollback on kind-x, grace 30s, every 5s"
    assert render(ev.GuardStarted("g", "ns", "c", 0.5)).endswith("grace 0.5s, once")
    assert render(ev.GuardTakeover(3, "run@h/9/b", 41.6, run_id="r1")) == \
        "run r1 lease of run@h/9/b expired 42s ago: taking over 3 pending step(s) from the cluster journal, newest first"
    assert render(ev.GuardTakeover(1, run_id="r1")).startswith("run r1 has no lease: taking over 1 pending step(s)")
    assert render(ev.GuardTakeover(0, "run@h", float("inf"), run_id="r1")) == \
        "run r1 lease of run@h was never renewed: nothing left to roll back"
    assert render(ev.GuardIdle()) == "nothing due"
    assert render(ev.JournalUnavailable("connection refused", 5)) == \
        "cluster journal not available: connection refused; trying again in 5s"
    # a refusal's reason names the entry and its file already: said once
    refused = ev.RollbackFromJournal("refused", "krkn-rollback/step-1-ab", "pod_1.py", "guard@h",
                                     "step-1-ab (pod_1.py): bytes do not match their sha256 in the journal")
    assert render(refused) == ("  rollback refused from the cluster journal: krkn-rollback/step-1-ab (pod_1.py): "
                               "bytes do not match their sha256 in the journal")
    failed = ev.RollbackFromJournal("failed", "krkn-rollback/step-2-cd", "pod_2.py", "guard@h", "Forbidden")
    assert render(failed) == "  rollback failed from the cluster journal: krkn-rollback/step-2-cd (pod_2.py): Forbidden"


def test_printed_lines_are_timed_and_shown_not_obeyed():
    forged = ev.RollbackFromJournal("failed", "ns/step-1", "a.py", "g", "boom\n[12:00:00] rollback executed\x1b[2J")
    line = printed(forged, fold=True)
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\]   rollback failed from the cluster journal: ns/step-1 \(a\.py\): "
                        r"boom \[12:00:00\] rollback executed\\x1b\[2J", line), line
    assert "\n" in printed(ev.ScenarioPreviewed(0, "t", "i", lines=("a", "b")))  # a preview keeps its lines
    assert printed(ev.Waiting(0)) is None


# The audit log's keys, as written before events were typed: old logs and new ones read alike.
AUDIT_KEYS = {
    ev.RunStarted: ("run_started", {"scenarios", "iterations", "versions_dir", "dry_run", "journal"}),
    ev.ClusterChange: ("cluster_change", {"action", "scenario_type"}),  # plus the change's own fields, flat
    ev.RollbackRegistered: ("rollback_registered", {"file", "scenario_type", "verb", "kind", "namespace", "name"}),
    ev.RollbackStarted: ("rollback_started", {"file", "error"}),
    ev.RollbackExecuted: ("rollback_executed", {"file", "error", "attempts", "seconds"}),
    ev.RollbackFailed: ("rollback_failed", {"file", "error", "attempts"}),
    ev.RollbackRefused: ("rollback_refused", {"file", "error"}),
    ev.RollbackExecutedElsewhere: ("rollback_executed_elsewhere", {"file", "error"}),
    ev.RollbackClusterForced: ("rollback_cluster_forced", {"file", "error", "recorded", "connected"}),
    ev.RollbackArchived: ("rollback_archived", {"file", "archived_as"}),
    ev.StaleTempRemoved: ("stale_temp_removed", {"file"}),
    # a guard's step from the cluster journal is named after its outcome
    ev.RollbackFromJournal: ("rollback_pending", {"file", "version_file", "source", "by", "error", "seconds"}),
    ev.RunLeftAlone: ("run_left_alone", {"error"}),
    ev.JournalNotUpdated: ("journal_not_updated", {"file", "error"}),
    ev.JournalStateDistrusted: ("journal_state_distrusted", {"file", "error"}),
    ev.LeaseHeldPastBound: ("lease_held_past_bound", {"holder", "over_for"}),
    ev.RunFinished: ("run_finished", {"status", "report", "skipped"}),
    ev.CheckAborted: ("check_aborted", {"name", "seen", "at"}),  # why the rollback that follows ran
    ev.RunHalted: ("run_halted", {"source", "detail", "before", "at"}),  # a halt or krkn's STOP: the same
    ev.SecretsRevealed: ("secrets_revealed", {"file", "count"}),  # how many, never the values
}


def test_audit_lines_keep_their_keys(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", run_id="execute-rollback")
    audited = [c for c in ALL if issubclass(c, AUDITED)]
    assert sorted(audited, key=str) == sorted(AUDIT_KEYS, key=str)
    for cls in ALL:
        log.record(sample(cls))
    log.record(ev.ClusterChange("delete_pod", "pod_disruption_scenarios", {"namespace": "ns", "name": "p"},
                                run_id="r9"))
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    expected = [AUDIT_KEYS[c] for c in audited] + [("cluster_change", {"action", "scenario_type", "namespace", "name"})]
    assert [(x["event"], set(x) - {"time", "run_id", "event"}) for x in lines] == expected
    # an event's own run id wins over the log's default
    assert lines[-1]["run_id"] == "r9" and lines[0]["run_id"] == "execute-rollback"


async def test_the_run_panel_keeps_time_order():
    """Blast radius and the steady state before the first scenario's block, the wait between two
    blocks, the rollback after the last one (issue 22: they all went below every block)."""
    app = PanelApp()
    async with app.run_test() as pilot:
        panel = app.query_one(RunPanel)
        panel.start([(0, "pod_disruption_scenarios", "a.yaml"), (1, "pod_disruption_scenarios", "b.yaml")])
        await pilot.pause()
        panel.post_message(EngineEvents((
            ev.RunStarted(2, 1, "v", run_id="r1"),
            ev.ScenarioPreviewed(0, "pod_disruption_scenarios", "a", lines=("blast radius: kill 1 of 3 pods",)),
            ev.SteadyState("before", True),
            ev.ScenarioStarted(0, "pod_disruption_scenarios", "a.yaml", "a", 0),
            ev.ScenarioFinished(0, "pod_disruption_scenarios", "a.yaml", "a", 0, "passed", "", 1.0),
            ev.Waiting(1),
            ev.ScenarioStarted(1, "pod_disruption_scenarios", "b.yaml", "b", 0),
            ev.ScenarioFinished(1, "pod_disruption_scenarios", "b.yaml", "b", 0, "failed", "", 1.0),
            ev.RollbackRunStarted("scenario failed", 1),
        )))
        await pilot.pause()
        shown = []
        for child in panel.query_one("#run-scenarios").children:
            shown.append(" | ".join(child.lines) if "run-log" in child.classes else f"block {child.index}")
        assert shown == ["blast radius: kill 1 of 3 pods | steady state before: ok", "block 0",
                         "waiting 1s before the next scenario", "block 1",
                         "rollback started (scenario failed): 1 pending file(s)"]
