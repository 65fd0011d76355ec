"""The rollback front (rollback.front): one count of a finished rollback for every client."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from krkn_tui import events as ev
from krkn_tui.commands.render import render
from krkn_tui.rollback.front import RollbackService, StepResult, Tally, summarize
from krkn_tui.statuses import StepStatus
from krkn_tui.tui.rows import executed_note
from krkn_tui.tui.widgets.run_panel import EngineEvents, RunPanel
from runhelpers import krkn
from test_rollback_service import _mixed_run


def test_a_skip_is_done_only_when_the_step_is_known_undone():
    steps = [StepResult(Path("a"), StepStatus.EXECUTED), StepResult(Path("b"), StepStatus.SKIPPED, undone=True),
             StepResult(Path("c"), StepStatus.SKIPPED, busy=True), StepResult(Path("d"), StepStatus.REFUSED),
             StepResult(Path("e"), StepStatus.FAILED), StepResult(Path("f"), StepStatus.WOULD_RUN)]
    assert summarize(steps) == Tally(done=2, failed=2, left=1, would_run=1)
    assert summarize(steps).text() == "2 done, 2 failed, 1 not run here, 1 would run"
    assert summarize([]).text() == "0 done"


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield RunPanel()


@pytest.mark.cluster
async def test_one_finished_rollback_is_counted_alike_by_the_cli_the_run_panel_and_the_versions_view(
        tmp_path, kubeconfig):
    by_cli, by_service = tmp_path / "cli" / "versions", tmp_path / "service" / "versions"
    run_dir, files = _mixed_run(by_cli, "held")
    held_name = files["held"].name
    (tmp_path / "service").mkdir()
    shutil.copytree(by_cli, by_service, symlinks=True)

    locks = [open(folder / run_dir / held_name) for folder in (by_cli, by_service)]
    try:
        for f in locks:  # another executor holds this step in both copies
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = krkn("execute-rollback", "-d", by_cli, "-r", run_dir, "--kubeconfig", kubeconfig)
        service = RollbackService(by_service, kubeconfig=kubeconfig)
        results = service.execute(sorted(p for p in (by_service / run_dir).glob("*.py")))
    finally:
        for f in locks:
            f.close()

    expected = "1 done, 3 failed, 1 not run here"  # good; fails, edited, krkn's; held
    assert summarize(results).text() == expected
    assert out.returncode == 1 and f"rollback finished: {expected}" in out.stdout.splitlines(), out.stdout

    finished = ev.RollbackRunFinished("stop requested", tuple(
        ev.StepRecord(str(r.path), r.status, r.error, r.seconds, r.undone) for r in results))
    assert render(finished) == f"rollback finished: {expected}"

    app = PanelApp()
    async with app.run_test() as pilot:
        panel = app.query_one(RunPanel)
        panel.post_message(EngineEvents((finished,)))
        await pilot.pause()
        assert f"rollback finished: {expected}" in panel.run_lines()[-1]

    text, severity = executed_note("run x", results)
    assert text.startswith(f"run x: {expected}\n") and severity == "error"
